"""Validation shared out over worker processes reports exactly what one process reports.

The bundled project and generated graphs (the benchmark's generator) broken on purpose, so that
IRI, blank-node and literal focus nodes, SHACL-SPARQL constraints and cross-graph rules all
report findings, are validated by one process and by several workers; the findings and the
results graphs must be the same (up to blank-node labels, which each parse draws afresh).
"""

import dataclasses
import os
import shutil
from collections import Counter
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.namespace import RDF, SH

from bench.generator import generate
from communique.errors import DataError
from communique.layout import Layout
from communique.namespaces import ONTOLOGY_GRAPH
from communique.settings import PROJECT_ROOT
from communique.shacl_engine import PARALLEL_MINIMUM_QUADS, FocusShare, worker_count
from communique.validation import Finding, ValidationReport, validate_files, validate_layout

CQ = "https://w3id.org/communique/ontology/"
SHAPES = "https://w3id.org/communique/shapes/"
LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
SAME_AS = ox.NamedNode("http://www.w3.org/2002/07/owl#sameAs")
ATTRIBUTED_TO = ox.NamedNode("http://www.w3.org/ns/prov#wasAttributedTo")
START = ox.NamedNode("http://www.w3.org/ns/oa#start")
STATUS = ox.NamedNode(CQ + "epistemicStatus")
EVIDENCE = ox.NamedNode(CQ + "evidence")
CANDIDATE_VENUE = ox.NamedNode(CQ + "candidateVenue")
HAS_PLACE = ox.NamedNode("http://semanticweb.cs.vu.nl/2009/11/sem/hasPlace")
INTEGER = ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")
SIGNATURE_DEPTH = 8
BROKEN_SHAPES = {
    SHAPES + name
    for name in ("ClaimShape", "EvidenceShape", "SameAsShape", "BackedFactShape", "LabelShape")
}


def broken(quads: list[ox.Quad]) -> list[ox.Quad]:
    """The generated graph with violations, several in graphs other than the node's own."""
    claims = sorted({q.subject.value for q in quads if q.predicate == STATUS})
    unlabelled = set(claims[::5])
    unattributed = set(claims[1::3])
    kept = [
        shifted(quad, index) if quad.predicate == START else quad
        for index, quad in enumerate(quads)
        if not (quad.predicate == LABEL and quad.subject.value in unlabelled)
        and not (quad.predicate == ATTRIBUTED_TO and quad.subject.value in unattributed)
    ]
    return kept + added_violations(quads, claims)


def shifted(quad: ox.Quad, index: int) -> ox.Quad:
    """Every third selector starts one character late: its quote no longer matches."""
    if index % 3:
        return quad
    start = ox.Literal(str(int(quad.object.value) + 1), datatype=INTEGER)
    return ox.Quad(quad.subject, quad.predicate, start, quad.graph_name)


def added_violations(quads: list[ox.Quad], claims: list[str]) -> list[ox.Quad]:
    links = [q for q in quads if q.predicate == SAME_AS]
    places = [q for q in quads if q.predicate == HAS_PLACE]
    source_graph = next(q.graph_name for q in quads if q.subject.value == claims[0])
    first, second = links[0], links[1]
    return [
        # a second resource linked to the first one's Wikidata entity, in a source graph
        ox.Quad(second.subject, SAME_AS, first.object, source_graph),
        # a second English label for a background entity, in a source graph
        ox.Quad(first.subject, LABEL, ox.Literal("Another name", language="en"), source_graph),
        # an evidence anchor that is a literal
        ox.Quad(ox.NamedNode(claims[2]), EVIDENCE, ox.Literal("no anchor"), source_graph),
        # plain triples no claim backs, on events of several source graphs
        *(
            ox.Quad(place.subject, CANDIDATE_VENUE, place.object, place.graph_name)
            for place in places[:: max(1, len(places) // 4)]
        ),
    ]


@pytest.fixture(scope="module")
def project_shapes() -> tuple[list[Path], list[Path]]:
    layout = Layout(PROJECT_ROOT)
    ontology = [f.path for f in layout.data_files() if f.graph == str(ONTOLOGY_GRAPH)]
    return [f.path for f in layout.shape_files()], ontology


@pytest.fixture(scope="module", params=[1_000, 10_000], ids=lambda size: f"{size:,}")
def broken_graph(request, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("generated")
    generated = folder / "generated.nq"
    generate(generated, request.param, seed=11)
    quads = broken(list(ox.parse(path=generated, format=ox.RdfFormat.N_QUADS)))
    path = folder / "broken.nq"
    ox.serialize(quads, output=path, format=ox.RdfFormat.N_QUADS)
    return path


def assert_same_report(shared: ValidationReport, single: ValidationReport) -> None:
    assert comparable(shared.findings) == comparable(single.findings)
    assert shared.conforms == single.conforms
    assert shared.triple_count == single.triple_count
    assert result_signatures(shared) == result_signatures(single)


def comparable(findings: tuple[Finding, ...]) -> Counter:
    """The findings, blank-node labels aside: each validation parses the files anew, and the
    parser gives blank nodes fresh labels (blank focus nodes still carry owner and path)."""
    return Counter(
        dataclasses.replace(f, focus="_:") if f.focus.startswith("_:") else f for f in findings
    )


def result_signatures(report: ValidationReport) -> Counter:
    """The results graph as a multiset of results, each written out with the blank nodes it
    holds (such as paths) in place of their labels; the report node's own conformance too.
    (rdflib's graph isomorphism takes a minute on a few hundred results.)"""
    graph = rdflib.Graph().parse(data=report.to_turtle(), format="turtle")

    def written_out(node: rdflib.term.Node, depth: int = 0) -> str:
        if not isinstance(node, rdflib.BNode) or depth > SIGNATURE_DEPTH:
            return "_:" if isinstance(node, rdflib.BNode) else node.n3()
        properties = sorted(f"{p.n3()} {written_out(o, depth + 1)}" for p, o in graph[node])
        return "[" + " ; ".join(properties) + "]"

    signatures = Counter(written_out(r) for r in graph.subjects(RDF.type, SH.ValidationResult))
    signatures.update(str(c) for c in graph.objects(None, SH.conforms))
    return signatures


def test_workers_report_what_one_process_reports_on_generated_data(
    broken_graph: Path, project_shapes
) -> None:
    shapes, ontology = project_shapes
    single = validate_files([broken_graph], shapes, ontology=ontology, workers=1)
    shared = validate_files([broken_graph], shapes, ontology=ontology, workers=3)
    assert {finding.shape for finding in single.findings} >= BROKEN_SHAPES
    assert {f.focus[:2] for f in single.findings} >= {"ht", "_:", '"n'}
    assert_same_report(shared, single)


def test_workers_report_what_one_process_reports_on_the_bundled_project() -> None:
    assert_same_report(validate_layout(PROJECT_ROOT, workers=2), validate_layout(PROJECT_ROOT))


def test_workers_report_what_one_process_reports_on_the_broken_bundled_project(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    for folder in ("ontology", "graph", "shapes"):
        shutil.copytree(PROJECT_ROOT / folder, project / folder)
    article = project / "graph" / "sources" / "second-summit-article.ttl"
    article.write_text(article.read_text().replace("oa:start 305 ;", "oa:start 306 ;"))
    entities = project / "graph" / "background" / "entities.ttl"
    entities.write_text(entities.read_text().replace("wd:Q56226 .", "wd:Q22686 .", 1))
    single = validate_layout(project, workers=1)
    assert {SHAPES + "EvidenceShape", SHAPES + "SameAsShape"} <= {f.shape for f in single.findings}
    assert_same_report(validate_layout(project, workers=2), single)


def test_every_node_falls_in_exactly_one_share() -> None:
    nodes = [rdflib.URIRef(f"https://example.org/{n}") for n in range(300)]
    nodes += [rdflib.BNode(f"b{n}") for n in range(300)] + [rdflib.Literal("x", lang="en")]
    shares = [FocusShare(index, 3) for index in range(3)]
    held = [[share.holds(node) for share in shares].count(True) for node in nodes]
    assert held == [1] * len(nodes)
    assert all(sum(share.holds(node) for node in nodes) > 150 for share in shares)


def test_one_worker_for_small_data_or_shapes_with_rules() -> None:
    store = ox.Store()
    shapes = rdflib.Graph()
    assert worker_count(store, shapes) == 1
    subject = ox.NamedNode("https://example.org/s")
    store.extend(
        ox.Quad(subject, LABEL, ox.Literal(str(n)), ox.DefaultGraph())
        for n in range(PARALLEL_MINIMUM_QUADS)
    )
    assert worker_count(store, shapes) == len(os.sched_getaffinity(0))
    shapes.add((rdflib.BNode(), rdflib.SH.rule, rdflib.BNode()))
    assert worker_count(store, shapes) == 1


def test_a_worker_that_crashes_is_a_clear_data_error(tmp_path: Path) -> None:
    data = tmp_path / "data.ttl"
    data.write_text("<https://example.org/a> <https://example.org/p> 1 .\n")
    shapes = tmp_path / "shapes.ttl"
    deep = "{" * 5000 + " $this ?p ?o " + "}" * 5000
    shapes.write_text(
        "<https://example.org/S> a <http://www.w3.org/ns/shacl#NodeShape> ;"
        " <http://www.w3.org/ns/shacl#targetSubjectsOf> <https://example.org/p> ;"
        " <http://www.w3.org/ns/shacl#sparql> [ <http://www.w3.org/ns/shacl#select>"
        f' """SELECT $this WHERE {deep}""" ] .\n'
    )
    with pytest.raises(DataError, match=r"worker \d of 2\) failed: its process died"):
        validate_files([data], [shapes], workers=2)
