"""communique.describe: what the page and the document of one resource hold."""

import doctest

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.compare import isomorphic

from communique import describe as describe_module
from communique.describe import (
    INCOMING_PAGE,
    MAX_DEPTH,
    describe,
    read_anchors,
    resource_exists,
    similar_resources,
)
from communique.store import EmbeddedStore, RemoteStore

ID = "https://w3id.org/communique/id/"
CQ = "https://w3id.org/communique/ontology/"
HUB = ID + "hub"
LINKERS = 120
DEEP = MAX_DEPTH + 2
LIST_LENGTH = 30
MEMBERS = " ".join(f"ex:m{i:02d}" for i in range(LIST_LENGTH))


def deep_chain() -> str:
    chain = "ex:deep ex:down " + "[ ex:down " * DEEP + '"bottom"' + " ]" * DEEP + " ."
    return chain


DATA = f"""
@prefix ex: <{ID}> .
@prefix cq: <{CQ}> .
@prefix status: <{CQ}epistemic-status/> .
@prefix polarity: <{CQ}polarity/> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix oa: <http://www.w3.org/ns/oa#> .
@prefix schema: <https://schema.org/> .

<https://w3id.org/communique/graph/one> {{
    ex:hub a ex:Thing ; rdfs:label "Hub"@en, "허브"@ko ; skos:prefLabel "The hub"@en .
    ex:a rdfs:label "A" ; ex:p ex:hub ; ex:q [ ex:r [ ex:s "deep" ; ex:t ex:hub ] ] .
    ex:cycle ex:p _:c1 . _:c1 ex:next _:c2 . _:c2 ex:next _:c1 .
    ex:claim1 a cq:EventClaim ; rdfs:label "The hub is linked from A, says no one"@en ;
        cq:epistemicStatus status:asserted ; cq:polarity polarity:negated ;
        prov:wasAttributedTo ex:a ;
        rdf:subject ex:hub ; rdf:predicate ex:p ; rdf:object ex:a ;
        cq:about ex:hub ;
        cq:evidence [ oa:hasSource ex:doc ;
            oa:hasSelector [ a oa:TextQuoteSelector ; oa:exact "quote" ] ,
                           [ a oa:TextPositionSelector ; oa:start 4 ; oa:end 9 ] ] .
    ex:doc schema:text "the quote here" ; rdfs:label "A document" .
    {deep_chain()}
    ex:listy ex:members ( {MEMBERS} [ ex:inner "x" ] ) .
}}

<https://w3id.org/communique/graph/two> {{
    ex:a ex:p ex:hub .
    ex:hub ex:p2 "only in two" .
}}

<https://w3id.org/communique/graph/empty-of-hub> {{
    {" ".join(f"ex:linker{i:03d} ex:links ex:hub ." for i in range(LINKERS))}
}}
"""


@pytest.fixture(scope="module")
def store() -> EmbeddedStore:
    embedded = EmbeddedStore(ox.Store())
    embedded.oxigraph.load(DATA.encode("utf-8"), format=ox.RdfFormat.TRIG)
    return embedded


def as_rdflib(triples) -> rdflib.Graph:
    graph = rdflib.Graph()
    graph.parse(data=ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES), format="nt")
    return graph


def describe_query(store: EmbeddedStore, iri: str) -> rdflib.Graph:
    return as_rdflib(list(store.query(f"DESCRIBE <{iri}>")))


def test_docstring_examples_hold():
    assert doctest.testmod(describe_module).failed == 0


def test_outgoing_values_are_grouped_by_predicate_with_their_graphs(store):
    described = describe(store, ID + "a")
    linked = described.values_of(ID + "p")
    assert [v.term for v in linked] == [ox.NamedNode(HUB)]
    assert linked[0].graphs == (
        "https://w3id.org/communique/graph/one",
        "https://w3id.org/communique/graph/two",
    )
    assert described.properties[0].predicate == "http://www.w3.org/2000/01/rdf-schema#label"


def test_blank_nodes_are_nested_descriptions(store):
    (outer,) = describe(store, ID + "a").values_of(ID + "q")
    (middle,) = [v for g in outer.nested if g.predicate == ID + "r" for v in g.values]
    nested = {g.predicate: g.values for g in middle.nested}
    assert nested[ID + "s"][0].term == ox.Literal("deep")
    assert nested[ID + "t"][0].term == ox.NamedNode(HUB)


def test_a_cycle_of_blank_nodes_is_expanded_once(store):
    (start,) = describe(store, ID + "cycle").values_of(ID + "p")
    (second,) = start.nested[0].values
    (back,) = second.nested[0].values
    assert back.term == start.term
    assert back.nested is None


def test_an_rdf_list_of_any_length_becomes_its_items_in_order(store):
    (members,) = describe(store, ID + "listy").values_of(ID + "members")
    assert members.nested is None
    assert [v.term for v in members.items[:LIST_LENGTH]] == [
        ox.NamedNode(f"{ID}m{i:02d}") for i in range(LIST_LENGTH)
    ]
    (inner,) = members.items[-1].nested
    assert inner.values[0].term == ox.Literal("x")
    assert not describe(store, ID + "listy").depth_exceeded


def test_nesting_deeper_than_the_limit_is_reported(store):
    deep = describe(store, ID + "deep")
    assert deep.depth_exceeded
    assert len(deep.to_triples()) == MAX_DEPTH + 1 < len(describe_query(store, ID + "deep"))
    assert not describe(store, ID + "a").depth_exceeded


@pytest.mark.parametrize("name", ["a", "hub", "cycle", "claim1", "doc", "listy"])
def test_the_document_is_the_concise_bounded_description(store, name):
    document = as_rdflib(describe(store, ID + name).to_triples())
    assert len(document) > 0
    assert isomorphic(document, describe_query(store, ID + name))


def test_incoming_links_are_counted_per_predicate(store):
    described = describe(store, HUB)
    counts = {(g.predicate, g.through_blank_node): g.count for g in described.incoming}
    assert counts[(ID + "links", False)] == LINKERS
    assert counts[(ID + "p", False)] == 1
    assert counts[(ID + "t", True)] == 1
    assert counts[(CQ + "about", False)] == 1
    assert described.incoming_page.total == sum(counts.values())


def test_incoming_links_come_one_page_at_a_time(store):
    total = describe(store, HUB).incoming_page.total
    seen = []
    for offset in range(0, total, INCOMING_PAGE):
        described = describe(store, HUB, incoming_offset=offset)
        page = [(g.predicate, s) for g in described.incoming for s in g.subjects]
        assert len(page) == min(INCOMING_PAGE, total - offset)
        seen += page
    assert len(set(seen)) == len(seen) == total == LINKERS + 4
    last = describe(store, HUB, incoming_offset=INCOMING_PAGE * 2)
    assert not last.incoming_page.has_next and last.incoming_page.has_previous


def test_claims_about_a_resource_come_with_status_polarity_attribution_and_evidence(store):
    (claim,) = describe(store, HUB).claims
    assert claim.iri == ID + "claim1"
    assert claim.status == CQ + "epistemic-status/asserted"
    assert claim.negated
    assert claim.attribution == (ID + "a",)
    assert claim.statement == (ox.NamedNode(HUB), ox.NamedNode(ID + "p"), ox.NamedNode(ID + "a"))
    (evidence,) = claim.evidence
    assert (evidence.source, evidence.exact, evidence.start, evidence.end) == (
        ID + "doc",
        "quote",
        4,
        9,
    )


def test_a_claim_describes_itself_as_a_claim(store):
    described = describe(store, ID + "claim1")
    assert described.own_claim is not None and described.own_claim.negated
    assert describe(store, HUB).own_claim is None


def test_labels_of_everything_mentioned_come_by_language(store):
    described = describe(store, HUB)
    assert described.labels[HUB] == {"en": "The hub", "ko": "허브"}
    assert described.labels[ID + "a"] == {"": "A"}
    assert described.labels[ID + "claim1"]["en"].startswith("The hub")


def test_an_unknown_resource_does_not_exist(store):
    assert not describe(store, ID + "nothing").exists
    assert not resource_exists(store, ID + "nothing")
    assert resource_exists(store, HUB)
    assert resource_exists(store, "https://w3id.org/communique/graph/two")
    assert describe(store, "https://w3id.org/communique/graph/two").is_graph


@pytest.mark.parametrize("arguments", [{"incoming_offset": -1}, {"incoming_limit": 0}])
def test_paging_out_of_range_is_refused(store, arguments):
    with pytest.raises(ValueError):
        describe(store, HUB, **arguments)


def test_an_invalid_iri_never_reaches_a_query(store):
    with pytest.raises(ValueError):
        describe(store, ID + "a> } DELETE WHERE { ?s ?p ?o")


def test_similar_resources_match_label_words(store):
    found = similar_resources(store, ["HUB"])
    assert list(found) == [HUB, ID + "claim1"]
    assert list(similar_resources(store, ["hub", "linked"])) == [ID + "claim1", HUB]
    assert found[HUB]["ko"] == "허브"
    assert similar_resources(store, ['"quote\\']) == {}


def test_anchors_of_a_document(store):
    (anchor,) = read_anchors(store, ID + "doc")
    assert (anchor.claim, anchor.start, anchor.end, anchor.exact) == (ID + "claim1", 4, 9, "quote")


def test_a_remote_store_gives_the_same_description(server):
    """Over the SPARQL protocol: blank nodes keep their identity within the one query."""
    remote = describe(RemoteStore(server.sparql), "http://example.org/bob")
    graph = as_rdflib(remote.to_triples())
    expected = rdflib.Graph().parse(
        data="""@prefix ex: <http://example.org/> .
        ex:bob a ex:Person ; ex:name "Bob"@en ; ex:age 42 ; ex:knows [ ex:name "Anonymous" ] .""",
        format="turtle",
    )
    assert isomorphic(graph, expected)
    assert remote.values_of("http://example.org/name")[0].graphs == ("http://example.org/g1",)
    alice = describe(RemoteStore(server.sparql), "http://example.org/alice")
    assert [(g.predicate, g.subjects) for g in alice.incoming] == [
        ("http://example.org/knows", ("http://example.org/carol",))
    ]
