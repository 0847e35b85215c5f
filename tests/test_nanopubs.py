"""Every claim as a nanopublication: `communique export --nanopubs` and /dumps/nanopubs.trig."""

import doctest
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests

from communique import nanopubs
from communique.cli import main
from communique.dataset import bundled_quads, rebase_quad
from communique.layout import Layout
from communique.namespaces import DEFAULT_BASE
from communique.nanopubs import claim_iris, nanopublication_iri, nanopublications_trig
from communique.settings import PROJECT_ROOT
from communique.store import EmbeddedStore

NP = "http://www.nanopub.org/nschema#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
PROV = "http://www.w3.org/ns/prov#"
CQ = "https://w3id.org/communique/ontology/"
CLAIM = DEFAULT_BASE + "id/second-summit-article/claim/"
PUBLISHED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def bundled_store(base: str = DEFAULT_BASE) -> EmbeddedStore:
    layout = Layout(Path(PROJECT_ROOT))
    quads = bundled_quads(layout, layout.data_files() + layout.shape_files())
    store = ox.Store()
    store.extend(rebase_quad(quad, base) for quad in quads)
    return EmbeddedStore(store)


@pytest.fixture(scope="module")
def store() -> EmbeddedStore:
    return bundled_store()


@pytest.fixture(scope="module")
def graphs(store) -> dict[str, set[ox.Triple]]:
    """Graph name -> its triples, of the export parsed back."""
    trig = nanopublications_trig(store, DEFAULT_BASE, PUBLISHED)
    found: dict[str, set[ox.Triple]] = defaultdict(set)
    for quad in ox.parse(trig, format=ox.RdfFormat.TRIG):
        found[quad.graph_name.value].add(quad.triple)
    return found


def nanopub(claim: str) -> str:
    return nanopublication_iri(CLAIM + claim, DEFAULT_BASE)


def iri(text: str) -> ox.NamedNode:
    return ox.NamedNode(text)


def test_four_graphs_per_claim_and_nothing_else(store, graphs):
    claims = claim_iris(store)
    assert len(claims) == 119
    expected = {
        f"{nanopublication_iri(claim, DEFAULT_BASE)}#{name}"
        for claim in claims
        for name in ("Head", "assertion", "provenance", "pubinfo")
    }
    assert set(graphs) == expected


def test_every_head_links_its_three_graphs(store, graphs):
    for claim in claim_iris(store):
        this = nanopublication_iri(claim, DEFAULT_BASE)
        assert graphs[f"{this}#Head"] == {
            ox.Triple(iri(this), iri(RDF_TYPE), iri(NP + "Nanopublication")),
            ox.Triple(iri(this), iri(NP + "hasAssertion"), iri(f"{this}#assertion")),
            ox.Triple(iri(this), iri(NP + "hasProvenance"), iri(f"{this}#provenance")),
            ox.Triple(iri(this), iri(NP + "hasPublicationInfo"), iri(f"{this}#pubinfo")),
        }


def test_the_assertion_of_a_triple_claim_is_exactly_its_triple(graphs):
    assert graphs[nanopub("second-summit-agreed") + "#assertion"] == {
        ox.Triple(
            iri(DEFAULT_BASE + "id/second-trump-kim-summit"),
            iri(CQ + "lifecycle"),
            iri(CQ + "event-lifecycle/agreed"),
        )
    }


def test_a_blank_node_object_comes_with_its_description_skolemised(graphs):
    this = nanopub("arsenal-estimate")
    assertion = graphs[this + "#assertion"]
    size = next(t.object for t in assertion if t.predicate.value == CQ + "size")
    assert size.value.startswith(this + "#_")
    described = {(t.predicate.value, t.object.value) for t in assertion if t.subject == size}
    assert ("https://schema.org/minValue", "20") in described
    assert ("https://schema.org/maxValue", "60") in described


def test_a_proposition_claim_asserts_its_proposition(graphs):
    assertion = graphs[nanopub("publication-date") + "#assertion"]
    assert [(t.subject.value, t.predicate.value) for t in assertion] == [
        (CLAIM + "publication-date", CQ + "proposition")
    ]


def test_no_blank_node_anywhere(graphs):
    assert not any(
        isinstance(term, ox.BlankNode) for triples in graphs.values() for t in triples for term in t
    )


def test_provenance_carries_status_polarity_attribution_and_evidence(graphs):
    this = nanopub("publication-date")
    provenance = graphs[this + "#provenance"]
    about_assertion = {
        (t.predicate.value, t.object) for t in provenance if t.subject.value == this + "#assertion"
    }
    assert (
        PROV + "wasDerivedFrom",
        iri(DEFAULT_BASE + "id/source/second-summit-article"),
    ) in about_assertion
    assert (
        PROV + "wasAttributedTo",
        iri(DEFAULT_BASE + "id/communique-curators"),
    ) in about_assertion
    assert (CQ + "epistemicStatus", iri(CQ + "epistemic-status/inferred")) in about_assertion
    assert (CQ + "polarity", iri(CQ + "polarity/affirmed")) in about_assertion
    assert (PROV + "alternateOf", iri(CLAIM + "publication-date")) in about_assertion
    exact = {
        t.object.value for t in provenance if t.predicate.value == "http://www.w3.org/ns/oa#exact"
    }
    assert "have agreed to a second summit meeting" in exact
    starts = {
        t.object.value for t in provenance if t.predicate.value == "http://www.w3.org/ns/oa#start"
    }
    assert "305" in starts
    assert any(
        t.predicate.value.endswith("#label") and t.object.value == "Communiqué curators"
        for t in provenance
    )


def test_a_negated_claim_keeps_its_polarity_in_the_provenance(store, graphs):
    negated = [
        claim
        for claim in claim_iris(store)
        if (CQ + "polarity", CQ + "polarity/negated")
        in {
            (t.predicate.value, t.object.value)
            for t in graphs[nanopublication_iri(claim, DEFAULT_BASE) + "#provenance"]
        }
    ]
    assert negated
    for claim in negated:
        this = nanopublication_iri(claim, DEFAULT_BASE)
        assert graphs[this + "#assertion"]
        assert not any(t.predicate.value == CQ + "polarity" for t in graphs[this + "#assertion"])


def test_pubinfo_says_when_by_whom_and_under_which_licence(graphs):
    this = nanopub("second-summit-agreed")
    pubinfo = {(t.predicate.value, t.object.value) for t in graphs[this + "#pubinfo"]}
    assert ("http://purl.org/dc/terms/created", "2026-01-02T03:04:05+00:00") in pubinfo
    assert (
        "http://purl.org/dc/terms/license",
        "https://creativecommons.org/licenses/by/4.0/",
    ) in pubinfo
    assert ("http://purl.org/dc/terms/creator", DEFAULT_BASE + "id/communique-curators") in pubinfo


def test_the_export_is_deterministic(store):
    assert nanopublications_trig(store, DEFAULT_BASE, PUBLISHED) == nanopublications_trig(
        store, DEFAULT_BASE, PUBLISHED
    )


def test_nanopublications_move_with_the_base():
    base = "https://kg.example.org/"
    trig = nanopublications_trig(bundled_store(base), base, PUBLISHED)
    names = {quad.graph_name.value for quad in ox.parse(trig, format=ox.RdfFormat.TRIG)}
    assert f"{base}np/second-summit-article/claim/second-summit-agreed#assertion" in names
    assert not any(name.startswith(DEFAULT_BASE) for name in names)


def test_export_writes_a_trig_file(tmp_path, capsys):
    output = tmp_path / "nanopubs.trig"
    assert main(["export", "--nanopubs", "--output", str(output)]) == 0
    quads = list(ox.parse(path=output, format=ox.RdfFormat.TRIG))
    assert len({quad.graph_name for quad in quads}) == 4 * 119
    assert not list(tmp_path.glob(".*"))


def test_an_export_that_cannot_be_written_exits_1_naming_the_file(tmp_path, capsys):
    output = tmp_path / "no-such-folder" / "nanopubs.trig"
    assert main(["export", "--nanopubs", "--output", str(output)]) == 1
    error = capsys.readouterr().err
    assert error == f"communique: {output}: cannot write: No such file or directory\n"


def test_export_needs_to_know_what_to_export(capsys):
    with pytest.raises(SystemExit) as exit_status:
        main(["export"])
    assert exit_status.value.code == 2
    assert "--nanopubs" in capsys.readouterr().err


def test_the_dump_route_serves_the_same_nanopublications(servers):
    server = servers()
    response = requests.get(server.url + "dumps/nanopubs.trig", timeout=60)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/trig")
    quads = list(ox.parse(response.content, format=ox.RdfFormat.TRIG))
    assert len({quad.graph_name for quad in quads}) == 4 * 119
    again = requests.get(
        server.url + "dumps/nanopubs.trig",
        headers={"If-None-Match": response.headers["ETag"]},
        timeout=60,
    )
    assert again.status_code == 304


NP_PATH = "np/second-summit-article/claim/thailand-being-considered"


def test_a_nanopublication_iri_dereferences(servers):
    server = servers()
    response = requests.get(
        server.url + NP_PATH, headers={"Accept": "application/trig"}, timeout=60
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/trig")
    graphs = {q.graph_name.value for q in ox.parse(response.content, format=ox.RdfFormat.TRIG)}
    this = DEFAULT_BASE + NP_PATH
    assert graphs == {f"{this}#{name}" for name in ("Head", "assertion", "provenance", "pubinfo")}


def test_a_browser_is_sent_to_the_claims_page(servers):
    server = servers()
    response = requests.get(
        server.url + NP_PATH, headers={"Accept": "text/html"}, allow_redirects=False, timeout=60
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(
        "/page/id/second-summit-article/claim/thailand-being-considered"
    )


def test_an_unknown_nanopublication_is_a_404(servers):
    response = requests.get(servers().url + "np/no/such/claim", timeout=60)
    assert response.status_code == 404


def test_the_docstring_examples_hold():
    assert doctest.testmod(nanopubs).failed == 0
