"""The SPARQL 1.1 Service Description of the endpoint, as an RDF graph (no web framework here).

It states what a client may rely on: the endpoint, the language (queries only: the service is
read-only, so no ``sd:inputFormat`` and no update language), the result formats, the default
dataset with its triple counts, and the limits, which use three terms of Communiqué's own
vocabulary: ``cq:timeLimit`` (seconds), ``cq:resultLimit`` (rows or triples) and
``cq:queryLengthLimit`` (bytes).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rdflib import BNode, Dataset, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, VOID, XSD

from communique.namespaces import CQ, SD
from communique.settings import Settings
from communique.store import Store

FORMATS = Namespace("http://www.w3.org/ns/formats/")
"""W3C's IRIs for media formats, the values of ``sd:resultFormat``."""
ENTAILMENT_SIMPLE = URIRef("http://www.w3.org/ns/entailment/Simple")

FORMAT_TO_FORMAT_IRI = {
    "json": FORMATS.SPARQL_Results_JSON,
    "xml": FORMATS.SPARQL_Results_XML,
    "csv": FORMATS.SPARQL_Results_CSV,
    "tsv": FORMATS.SPARQL_Results_TSV,
    "turtle": FORMATS.Turtle,
    "ntriples": FORMATS["N-Triples"],
    "nquads": FORMATS["N-Quads"],
    "trig": FORMATS.TriG,
    "jsonld": FORMATS["JSON-LD"],
    "rdfxml": FORMATS.RDF_XML,
}
"""Format name (as in `communique.negotiation`) -> the W3C format IRI."""

FORMAT_TO_RDFLIB_FORMAT = {
    "turtle": "turtle",
    "ntriples": "nt",
    "nquads": "nquads",
    "trig": "trig",
    "jsonld": "json-ld",
    "rdfxml": "xml",
}
"""Format name -> rdflib serializer name, for writing the description itself."""
QUAD_FORMATS = frozenset({"nquads", "trig"})

COUNT_NAMED_GRAPHS = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
COUNT_DEFAULT_GRAPH = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


@dataclass(frozen=True)
class DatasetSizes:
    """Triples in the default graph (as queries see it) and in each named graph."""

    default_graph: int
    named_graphs: Mapping[str, int]


def measure_dataset(store: Store) -> DatasetSizes:
    """Count the triples of the store's default graph and of each named graph."""
    named = {row["g"].value: int(row["n"].value) for row in store.query(COUNT_NAMED_GRAPHS)}
    default = int(next(iter(store.query(COUNT_DEFAULT_GRAPH)))["n"].value)
    return DatasetSizes(default, named)


def describe_service(
    endpoint: str,
    *,
    settings: Settings,
    sizes: DatasetSizes,
    union_default_graph: bool,
    result_formats: Sequence[str],
) -> Graph:
    """The service description of the endpoint at `endpoint` (an absolute URL)."""
    graph = Graph()
    for prefix, namespace in (("sd", SD), ("void", VOID), ("cq", CQ), ("formats", FORMATS)):
        graph.bind(prefix, namespace)
    service = BNode()
    graph.add((service, RDF.type, SD.Service))
    graph.add((service, SD.endpoint, URIRef(endpoint)))
    graph.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    graph.add((service, SD.defaultEntailmentRegime, ENTAILMENT_SIMPLE))
    for name in result_formats:
        graph.add((service, SD.resultFormat, FORMAT_TO_FORMAT_IRI[name]))
    if union_default_graph:
        graph.add((service, SD.feature, SD.UnionDefaultGraph))
    if settings.allow_service:
        graph.add((service, SD.feature, SD.BasicFederatedQuery))
        for allowed in settings.allow_service:
            graph.add((service, CQ.allowedService, URIRef(allowed)))
    graph.add((service, CQ.timeLimit, Literal(str(settings.timeout), datatype=XSD.decimal)))
    graph.add((service, CQ.resultLimit, Literal(settings.max_rows)))
    graph.add((service, CQ.queryLengthLimit, Literal(settings.max_query_bytes)))
    graph.add((service, SD.defaultDataset, _describe_dataset(graph, sizes)))
    return graph


def _describe_dataset(graph: Graph, sizes: DatasetSizes) -> BNode:
    dataset, default_graph = BNode(), BNode()
    graph.add((dataset, RDF.type, SD.Dataset))
    graph.add((dataset, SD.defaultGraph, default_graph))
    graph.add((default_graph, RDF.type, SD.Graph))
    graph.add((default_graph, VOID.triples, Literal(sizes.default_graph)))
    for name, triples in sorted(sizes.named_graphs.items()):
        named_graph, described = BNode(), BNode()
        graph.add((dataset, SD.namedGraph, named_graph))
        graph.add((named_graph, RDF.type, SD.NamedGraph))
        graph.add((named_graph, SD.name, URIRef(name)))
        graph.add((named_graph, SD.graph, described))
        graph.add((described, RDF.type, SD.Graph))
        graph.add((described, VOID.triples, Literal(triples)))
    return dataset


def serialize_description(graph: Graph, format_name: str) -> bytes:
    """`graph` written in one of the RDF formats of `communique.negotiation.GRAPH_FORMATS`."""
    if format_name in QUAD_FORMATS:
        dataset = Dataset()
        for prefix, namespace in graph.namespaces():
            dataset.bind(prefix, namespace)
        for triple in graph:
            dataset.add(triple)
        return dataset.serialize(format=FORMAT_TO_RDFLIB_FORMAT[format_name], encoding="utf-8")
    return graph.serialize(format=FORMAT_TO_RDFLIB_FORMAT[format_name], encoding="utf-8")
