"""The Reconciliation Service API without HTTP: parsing, candidates, scores, matching, suggest,
preview, data extension (`communique.reconciliation`), over the bundled data in pyoxigraph."""

import doctest
import json
from pathlib import Path

import pyoxigraph as ox
import pytest

from communique import reconciliation
from communique.dataset import bundled_quads
from communique.errors import BadRequest, NotFound, PayloadTooLarge
from communique.layout import Layout
from communique.namespaces import DEFAULT_BASE
from communique.reconciliation import (
    BATCH_SIZE,
    Identifiers,
    Reconciler,
    ReconcilerCache,
    ServiceUrls,
    literal_cell,
    parse_extension_query,
    parse_query_batch,
)
from communique.settings import PROJECT_ROOT
from communique.store import EmbeddedStore

PERSON = "https://schema.org/Person"
COUNTRY = "https://schema.org/Country"
SAME_AS = "http://www.w3.org/2002/07/owl#sameAs"
IN_PLACE = "https://w3id.org/communique/ontology/inPlace"
IDS = Identifiers(DEFAULT_BASE)


def bundled_store() -> EmbeddedStore:
    layout = Layout(Path(PROJECT_ROOT))
    store = ox.Store()
    store.extend(bundled_quads(layout, layout.data_files() + layout.shape_files()))
    return EmbeddedStore(store)


@pytest.fixture(scope="module")
def reconciler() -> Reconciler:
    return Reconciler.from_store(bundled_store(), DEFAULT_BASE)


def reconcile(reconciler: Reconciler, **query: object) -> list[dict]:
    batch = parse_query_batch(json.dumps({"q": query}), reconciler.identifiers)
    return reconciler.reconcile(batch)["q"]["result"]


def top(results: list[dict]) -> tuple[str, bool]:
    return results[0]["id"], results[0]["match"]


# --- reading query batches ----------------------------------------------------------------------


def test_a_query_batch_reads_every_field():
    batch = parse_query_batch(
        json.dumps(
            {
                "q0": {
                    "query": "Kim",
                    "type": ["schema:Person", COUNTRY],
                    "type_strict": "all",
                    "limit": 3,
                    "properties": [{"pid": "owl:sameAs", "v": ["Q56226", {"id": "kim-jong-un"}]}],
                }
            }
        ),
        IDS,
    )
    query = batch["q0"]
    assert (query.text, query.types, query.type_strict, query.limit) == (
        "Kim",
        (PERSON, COUNTRY),
        "all",
        3,
    )
    assert query.properties[0].property == SAME_AS
    assert query.properties[0].values[0] == "Q56226"
    assert query.properties[0].values[1].iri == DEFAULT_BASE + "id/kim-jong-un"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("{bad", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"q": "Kim"}', "is not a JSON object"),
        ('{"q": {"query": "Kim", "lang": "en"}}', "fields the API does not define"),
        ('{"q": {"type": "schema:Person"}}', "needs a query string or at least one property"),
        ('{"q": {"query": "   "}}', "needs a query string or at least one property"),
        ('{"q": {"query": 42}}', "query must be a string"),
        ('{"q": {"query": "Kim", "limit": 0}}', "positive integer"),
        ('{"q": {"query": "Kim", "limit": 1.5}}', "positive integer"),
        ('{"q": {"query": "Kim", "limit": "3"}}', "positive integer"),
        ('{"q": {"query": "Kim", "limit": true}}', "positive integer"),
        ('{"q": {"query": "Kim", "type_strict": "some"}}', "type_strict"),
        ('{"q": {"query": "Kim", "type": [1]}}', "type must be"),
        ('{"q": {"query": "Kim", "type": "not an iri"}}', "not an absolute IRI"),
        ('{"q": {"query": "Kim", "properties": {}}}', "properties must be a list"),
        ('{"q": {"query": "Kim", "properties": [{"pid": "owl:sameAs"}]}}', '"pid" and a "v"'),
        ('{"q": {"query": "Kim", "properties": [{"pid": "owl:sameAs", "v": {}}]}}', '"id"'),
        ('{"q": {"query": "Kim", "properties": [{"pid": "owl:sameAs", "v": null}]}}', "value"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_a_malformed_batch_is_a_bad_request_that_says_why(text, complaint):
    with pytest.raises(BadRequest, match=complaint):
        parse_query_batch(text, IDS)


def test_a_batch_over_the_batch_size_is_too_large():
    batch = {f"q{i}": {"query": "Kim"} for i in range(BATCH_SIZE + 1)}
    with pytest.raises(PayloadTooLarge, match=f"at most {BATCH_SIZE}"):
        parse_query_batch(json.dumps(batch), IDS)


def test_a_large_limit_is_capped():
    assert parse_query_batch('{"q": {"query": "x", "limit": 1e9}}', IDS)["q"].limit == 100


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("nope", "not valid JSON"),
        ('{"ids": ["x"]}', "list of objects"),
        ('{"ids": "x", "properties": []}', "list of strings"),
        ('{"ids": [], "properties": [], "more": 1}', '"ids" and "properties" only'),
        ('{"ids": ["a b"], "properties": []}', "not an absolute IRI"),
    ],
)
def test_a_malformed_extension_query_is_a_bad_request(text, complaint):
    with pytest.raises(BadRequest, match=complaint):
        parse_extension_query(text, IDS)


def test_identifiers_turn_into_iris_and_back():
    assert IDS.entity_iri("north-korea") == DEFAULT_BASE + "id/north-korea"
    assert IDS.entity_iri(DEFAULT_BASE + "id/north-korea") == DEFAULT_BASE + "id/north-korea"
    assert IDS.entity_id(DEFAULT_BASE + "id/membership/x") == "membership/x"
    assert IDS.term_iri("owl:sameAs") == SAME_AS
    assert IDS.term_iri(PERSON) == PERSON


# --- candidates, scores and matches ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["Kim Jong-un", "Kim Jong Un", "kim jong un", "KIM JONG-UN"])
def test_spellings_of_kim_jong_un_match_him_as_a_person(reconciler, name):
    results = reconcile(reconciler, query=name, type="schema:Person")
    assert top(results) == ("kim-jong-un", True)
    assert results[0]["score"] >= 94
    assert {"id": "type_match", "value": True} in results[0]["features"]


def test_pyongyang_as_a_state_finds_north_korea_without_matching_it(reconciler):
    results = reconcile(reconciler, query="Pyongyang", type=COUNTRY)
    assert [r["id"] for r in results] == ["north-korea"]
    assert results[0]["match"] is False


def test_pyongyang_without_a_type_is_the_city(reconciler):
    results = reconcile(reconciler, query="Pyongyang")
    assert top(results) == ("pyongyang", True)
    assert "north-korea" in [r["id"] for r in results[1:]]


def test_a_type_includes_its_subtypes(reconciler):
    places = [r["id"] for r in reconcile(reconciler, query="Pyongyang", type="schema:Place")]
    assert places[:2] == ["pyongyang", "north-korea"]


def test_type_strict_should_keeps_other_types_below(reconciler):
    results = reconcile(reconciler, query="Pyongyang", type=COUNTRY, type_strict="should")
    assert [r["id"] for r in results] == ["north-korea", "pyongyang"]
    assert {"id": "type_match", "value": False} in results[1]["features"]
    assert not any(r["match"] for r in results)


def test_type_strict_all_needs_every_type(reconciler):
    both = reconcile(
        reconciler, query="Kim Jong Un", type=[PERSON, "prov:Person"], type_strict="all"
    )
    assert top(both) == ("kim-jong-un", True)
    assert (
        reconcile(reconciler, query="Kim Jong Un", type=[PERSON, COUNTRY], type_strict="all") == []
    )


@pytest.mark.parametrize("alias", ["DPRK", "Democratic People's Republic of Korea", "North Korea"])
def test_alternative_labels_match(reconciler, alias):
    assert top(reconcile(reconciler, query=alias, type=COUNTRY)) == ("north-korea", True)


def test_an_alternative_label_beats_a_hidden_one(reconciler):
    results = reconcile(reconciler, query="Washington")
    assert top(results) == ("washington-dc", True)
    assert ("united-states", False) in [(r["id"], r["match"]) for r in results]


@pytest.mark.parametrize("query", ["xyzzy plugh", "Qwertyuiop", "!!!", "a" * 500])
def test_nonsense_yields_no_candidate(reconciler, query):
    assert reconcile(reconciler, query=query) == []


def test_a_prefix_is_a_candidate_but_not_a_match(reconciler):
    results = reconcile(reconciler, query="Kim Yong")
    assert results[0]["id"] == "kim-yong-chol"
    assert results[0]["match"] is False
    assert 40 < results[0]["score"] < 94


@pytest.mark.parametrize(
    "identifier",
    [
        "north-korea",
        DEFAULT_BASE + "id/north-korea",
        "Q423",
        "wd:Q423",
        "http://www.wikidata.org/entity/Q423",
        "https://www.wikidata.org/wiki/Q423",
        "https://sws.geonames.org/1873107/",
    ],
)
def test_an_identifier_as_query_finds_its_entity(reconciler, identifier):
    results = reconcile(reconciler, query=identifier)
    assert top(results) == ("north-korea", True)
    assert results[0]["score"] == 100


def test_claims_are_not_candidates(reconciler):
    results = reconcile(reconciler, query="Trump and Kim Jong Un have agreed to a second summit")
    assert not any("/claim/" in r["id"] for r in results)


def test_the_limit_bounds_the_candidates(reconciler):
    assert len(reconcile(reconciler, query="korea", limit=2)) == 2


def test_candidates_carry_types_and_description(reconciler):
    saul = reconcile(reconciler, query="Saul Loeb")[0]
    assert saul["description"] == "Photographer credited by Agence France-Presse."
    assert {"id": PERSON, "name": "schema:Person"} in saul["type"]


def test_an_agreeing_property_keeps_the_match(reconciler):
    results = reconcile(
        reconciler, query="North Korea", properties=[{"pid": "owl:sameAs", "v": "Q423"}]
    )
    assert top(results) == ("north-korea", True)
    assert {"id": f"property:{SAME_AS}", "value": True} in results[0]["features"]


def test_a_disagreeing_property_prevents_the_match(reconciler):
    results = reconcile(
        reconciler, query="North Korea", properties=[{"pid": "owl:sameAs", "v": "Q884"}]
    )
    north_korea = next(r for r in results if r["id"] == "north-korea")
    assert north_korea["match"] is False
    assert {"id": f"property:{SAME_AS}", "value": False} in north_korea["features"]


def test_a_property_compares_with_the_labels_of_entity_values(reconciler):
    results = reconcile(
        reconciler, query="Pyongyang", properties=[{"pid": IN_PLACE, "v": "North Korea"}]
    )
    assert top(results) == ("pyongyang", True)
    assert {"id": f"property:{IN_PLACE}", "value": True} in results[0]["features"]


def test_properties_alone_find_and_match(reconciler):
    results = reconcile(reconciler, properties=[{"pid": "owl:sameAs", "v": "Q30"}])
    assert top(results) == ("united-states", True)
    assert results[0]["score"] == 100


def test_two_entities_with_the_same_name_are_not_matched():
    store = ox.Store()
    store.load(
        b"""@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
        <https://w3id.org/communique/id/springfield-il> rdfs:label "Springfield"@en .
        <https://w3id.org/communique/id/springfield-ma> rdfs:label "Springfield"@en .
        """,
        format=ox.RdfFormat.TURTLE,
    )
    twins = Reconciler.from_store(EmbeddedStore(store), DEFAULT_BASE)
    results = reconcile(twins, query="Springfield")
    assert {r["id"] for r in results} == {"springfield-il", "springfield-ma"}
    assert not any(r["match"] for r in results)


# --- manifest, suggest, preview, extension --------------------------------------------------------


def test_the_manifest_names_its_spaces_and_services(reconciler):
    manifest = reconciler.manifest(ServiceUrls("http://x.test/", "http://x.test/reconcile"))
    assert manifest["versions"] == ["0.2"]
    assert manifest["identifierSpace"] == DEFAULT_BASE + "id/"
    assert manifest["view"]["url"] == "http://x.test/reconcile/view?id={{id}}"
    assert manifest["preview"]["url"] == "http://x.test/reconcile/preview?id={{id}}"
    assert manifest["suggest"]["type"]["service_path"] == "/suggest/type"
    assert {"id": PERSON, "name": "schema:Person"} in manifest["defaultTypes"]


def test_suggest_entities_by_prefix_pages_with_the_cursor(reconciler):
    first = reconciler.suggest_entities("kim")["result"]
    assert [item["id"] for item in first[:2]] == ["kim-jong-un", "kim-yong-chol"]
    second = reconciler.suggest_entities("kim", cursor=1)["result"]
    assert second[0] == first[1]


def test_suggest_types_and_properties(reconciler):
    assert reconciler.suggest_types("coun")["result"][0]["id"] == COUNTRY
    properties = [p["id"] for p in reconciler.suggest_properties("same")["result"]]
    assert properties == [SAME_AS]


def test_a_preview_has_names_in_every_language_and_links(reconciler):
    preview = reconciler.preview("north-korea")
    assert preview.names["ko"] == "조선민주주의인민공화국"
    assert "http://www.wikidata.org/entity/Q423" in preview.same_as
    with pytest.raises(NotFound):
        reconciler.preview("atlantis")


def test_extension_gives_each_value_in_its_kind(reconciler):
    query = parse_extension_query(
        json.dumps(
            {
                "ids": ["pyongyang", "atlantis"],
                "properties": [{"id": "cq:inPlace"}, {"id": "owl:sameAs"}, {"id": "rdfs:label"}],
            }
        ),
        IDS,
    )
    answer = reconciler.extend(query)
    assert [m["name"] for m in answer["meta"]] == ["in place", "same as", "label"]
    row = answer["rows"]["pyongyang"]
    assert row[IN_PLACE] == [{"id": "north-korea", "name": "North Korea"}]
    assert row[SAME_AS] == [{"str": "http://www.wikidata.org/entity/Q18808"}]
    assert row["http://www.w3.org/2000/01/rdf-schema#label"] == [{"str": "Pyongyang"}]
    assert all(values == [] for values in answer["rows"]["atlantis"].values())


@pytest.mark.parametrize(
    ("literal", "cell"),
    [
        (
            ox.Literal("42", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")),
            {"int": 42},
        ),
        (
            ox.Literal("1.5", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#decimal")),
            {"float": 1.5},
        ),
        (
            ox.Literal("INF", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#double")),
            {"str": "INF"},
        ),
        (
            ox.Literal(
                "2019-01-19", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#date")
            ),
            {"date": "2019-01-19T00:00:00"},
        ),
        (ox.Literal("bonjour", language="fr"), {"str": "bonjour"}),
    ],
)
def test_literal_cells(literal, cell):
    assert literal_cell(literal) == cell


def test_property_proposals_follow_what_entities_of_the_type_use(reconciler):
    proposal = reconciler.propose_properties("schema:Place", 50)
    ids = [p["id"] for p in proposal["properties"]]
    assert IN_PLACE in ids and SAME_AS in ids
    assert proposal["limit"] == 50
    assert len(reconciler.propose_properties("schema:Place", 2)["properties"]) == 2


def test_the_cache_rebuilds_for_a_new_version():
    store = bundled_store()
    cache = ReconcilerCache()
    first = cache.reconciler_for("v1", store, DEFAULT_BASE)
    assert cache.reconciler_for("v1", store, DEFAULT_BASE) is first
    assert cache.reconciler_for("v2", store, DEFAULT_BASE) is not first


def test_the_docstring_examples_hold():
    assert doctest.testmod(reconciliation).failed == 0


def test_an_entity_value_of_another_knowledge_base_agrees_through_links(reconciler):
    results = reconcile(
        reconciler, query="Pyongyang", properties=[{"pid": IN_PLACE, "v": {"id": "north-korea"}}]
    )
    assert top(results) == ("pyongyang", True)
    linked = reconcile(reconciler, properties=[{"pid": "owl:sameAs", "v": {"id": "Q18808"}}])
    assert top(linked) == ("pyongyang", True)
