"""The service description graph, built without a server, and the dataset measurement."""

import pyoxigraph as ox
import pytest
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDF, VOID

from communique.namespaces import CQ, SD
from communique.negotiation import GRAPH_FORMATS, SOLUTIONS_FORMATS
from communique.service_description import (
    FORMAT_TO_RDFLIB_FORMAT,
    FORMATS,
    DatasetSizes,
    describe_service,
    measure_dataset,
    serialize_description,
)
from communique.settings import Settings
from communique.store import EmbeddedStore

ENDPOINT = "http://127.0.0.1:8080/sparql"
SIZES = DatasetSizes(7, {"http://example.org/g1": 3, "http://example.org/g2": 4})


def describe(settings: Settings | None = None, *, union: bool = True) -> Graph:
    return describe_service(
        ENDPOINT,
        settings=settings or Settings(),
        sizes=SIZES,
        union_default_graph=union,
        result_formats=(*SOLUTIONS_FORMATS, *GRAPH_FORMATS),
    )


def the_service(graph: Graph) -> object:
    (service,) = graph.subjects(RDF.type, SD.Service)
    return service


def test_names_the_endpoint_and_the_query_language():
    graph = describe()
    service = the_service(graph)
    assert graph.value(service, SD.endpoint) == URIRef(ENDPOINT)
    assert set(graph.objects(service, SD.supportedLanguage)) == {SD.SPARQL11Query}
    assert not set(graph.objects(service, SD.inputFormat))


def test_lists_every_result_format_by_its_w3c_iri():
    formats = set(describe().objects(None, SD.resultFormat))
    assert {
        FORMATS.SPARQL_Results_JSON,
        FORMATS.SPARQL_Results_CSV,
        FORMATS.Turtle,
        FORMATS["JSON-LD"],
        FORMATS.RDF_XML,
        FORMATS["N-Triples"],
    } <= formats
    assert len(formats) == len(SOLUTIONS_FORMATS) + len(GRAPH_FORMATS)


@pytest.mark.parametrize(
    ("union", "allow_service", "features"),
    [
        (True, (), {SD.UnionDefaultGraph}),
        (False, (), set()),
        (False, ("https://query.wikidata.org/sparql",), {SD.BasicFederatedQuery}),
    ],
)
def test_features_follow_the_settings(union, allow_service, features):
    graph = describe(Settings(allow_service=allow_service), union=union)
    assert set(graph.objects(the_service(graph), SD.feature)) == features


def test_states_the_limits():
    graph = describe(Settings(timeout=2.5, max_rows=99, max_query_bytes=1000))
    service = the_service(graph)
    assert float(graph.value(service, CQ.timeLimit).toPython()) == 2.5
    assert graph.value(service, CQ.resultLimit).toPython() == 99
    assert graph.value(service, CQ.queryLengthLimit).toPython() == 1000


def test_describes_the_default_dataset_with_triple_counts():
    graph = describe()
    dataset = graph.value(the_service(graph), SD.defaultDataset)
    default_graph = graph.value(dataset, SD.defaultGraph)
    assert graph.value(default_graph, VOID.triples) == Literal(7)
    named = {
        str(graph.value(entry, SD.name)): graph.value(graph.value(entry, SD.graph), VOID.triples)
        for entry in graph.objects(dataset, SD.namedGraph)
    }
    assert named == {"http://example.org/g1": Literal(3), "http://example.org/g2": Literal(4)}


@pytest.mark.parametrize("format_name", GRAPH_FORMATS)
def test_serializes_in_every_rdf_format(format_name):
    graph = describe()
    body = serialize_description(graph, format_name)
    parsed = Dataset() if format_name in ("nquads", "trig") else Graph()
    parsed.parse(data=body, format=FORMAT_TO_RDFLIB_FORMAT[format_name])
    triples = Graph()
    for quad in parsed.quads() if isinstance(parsed, Dataset) else parsed:
        triples.add(quad[:3])
    assert isomorphic(triples, graph)


def test_measures_default_and_named_graphs():
    store = ox.Store()
    g1, ex = ox.NamedNode("http://example.org/g1"), "http://example.org/"
    store.add(ox.Quad(ox.NamedNode(ex + "a"), ox.NamedNode(ex + "p"), ox.Literal("1")))
    for i in range(3):
        store.add(ox.Quad(ox.NamedNode(ex + "b"), ox.NamedNode(ex + "p"), ox.Literal(str(i)), g1))
    assert measure_dataset(EmbeddedStore(store, union_default_graph=False)) == DatasetSizes(
        1, {"http://example.org/g1": 3}
    )
    assert measure_dataset(EmbeddedStore(store, union_default_graph=True)).default_graph == 4
