"""The dataset described in VoID and DCAT, as an rdflib graph (no web framework here).

`summarize_dataset(store, ...)` counts what VoID states, with a few SPARQL queries over
every graph; `describe_dataset(summary, site, ...)` writes the description:

* ``void:Dataset`` + ``dcat:Dataset``: title, description, licence, ``dcterms:modified``,
  ``void:triples`` (distinct triples of the union of all graphs), ``void:entities`` (distinct IRI
  subjects), ``void:classes``, ``void:properties``, ``void:distinctSubjects`` and
  ``void:distinctObjects``, a ``void:classPartition`` per class (``void:entities``: its distinct
  instances) and a ``void:propertyPartition`` per property (``void:triples``), the SPARQL endpoint,
  ``void:uriSpace``, the vocabularies used, a few ``void:exampleResource`` (the resources other
  resources point at most) and the dumps;
* one ``void:subset`` per named graph (its title and triple count, ``sd:name`` its IRI);
* one ``void:Linkset`` per external target (`communique.external_links.EXTERNAL_DATASETS`) with
  ``void:linkPredicate owl:sameAs`` and ``void:triples`` the number of distinct links;
* a ``dcat:Distribution`` per dump (download URL, media type of the RDF inside, gzip as the
  compression format, byte size) and one for the endpoint, served by a ``dcat:DataService``.

Resources of the description are fragments of the description's own URL (``…/void#dataset``).
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, RDF, RDFS, VOID, XSD

from communique.external_links import EXTERNAL_DATASETS, ExternalDataset
from communique.graph_patterns import everywhere
from communique.namespaces import CQ, SD
from communique.service_description import COUNT_NAMED_GRAPHS, FORMATS
from communique.store import Store

DATASET_TITLE = "Communiqué: diplomacy news as a knowledge graph"
DATASET_DESCRIPTION = (
    "Diplomacy news modelled as claims: what each source asserts, reports, announces, "
    "believes or speculates, by whom, negated or not, with the exact words that say it "
    "(W3C Web Annotation selectors on the source text), over an ontology of diplomatic events, "
    "roles held in time and the people, states and places involved."
)
DATA_LICENSE = URIRef("https://creativecommons.org/licenses/by/4.0/")
DATA_RIGHTS = (
    "The claims, entities, ontology and shapes are licensed CC BY 4.0. The source texts remain "
    "the property of their publishers: they are included so that every claim can be checked "
    "against its words, and are not covered by that licence."
)
SPARQL_PROTOCOL = URIRef("https://www.w3.org/TR/sparql11-protocol/")
IANA_MEDIA_TYPES = Namespace("https://www.iana.org/assignments/media-types/")
EXAMPLE_RESOURCE_COUNT = 5

RDF_FORMAT_TO_FORMAT_IRI = {
    "application/trig": FORMATS.TriG,
    "application/n-quads": FORMATS["N-Quads"],
    "text/turtle": FORMATS.Turtle,
}
"""Media type of a dump's RDF -> the W3C format IRI (``void:feature``)."""

Rows = Callable[[str], list]
"""Runs a SELECT query, giving its rows."""
Pattern = Callable[[str], str]
"""Turns a triple pattern into a group matching it in every graph."""

GRAPH_PATH_TO_TITLE = {
    "graph/ontology": "The Communiqué diplomacy ontology",
    "graph/background": "Background entities: people, states, places, roles and issues",
    "graph/shapes": "SHACL shapes the data conforms to",
}
"""Path of a named graph under the base -> its title (sources and enrichments are named apart)."""


@dataclass(frozen=True)
class DatasetSummary:
    """The figures a VoID description states, counted over every graph."""

    triples: int
    entities: int
    properties: int
    distinct_subjects: int
    distinct_objects: int
    class_entities: Mapping[str, int]
    """Class IRI -> its distinct instances."""
    property_triples: Mapping[str, int]
    """Property IRI -> distinct triples using it."""
    graph_triples: Mapping[str, int]
    """Named graph IRI -> its triples."""
    graph_titles: Mapping[str, str]
    links: Mapping[str, int]
    """`ExternalDataset.key` -> distinct ``owl:sameAs`` links to it."""
    example_resources: tuple[str, ...]

    @property
    def classes(self) -> int:
        return len(self.class_entities)


@dataclass(frozen=True)
class Download:
    """One dump as the description lists it."""

    url: str
    title: str
    media_type: str
    """Of the RDF inside the gzip stream."""
    byte_size: int


@dataclass(frozen=True)
class SiteLinks:
    """Absolute URLs of what this server offers."""

    description: str
    """The VoID document itself; the described resources are its fragments."""
    homepage: str
    ontology: str
    """The ontology's page."""
    sparql_endpoint: str
    downloads: Sequence[Download]


def summarize_dataset(store: Store, *, base: str) -> DatasetSummary:
    """Count what VoID states about `store`, whose data IRIs start with ``{base}id/``."""
    union = store.union_default_graph

    def rows(query: str) -> list:
        return list(store.query(query))

    def pattern(triple: str) -> str:
        return everywhere(triple, union_default_graph=union)

    totals = rows(_totals_query(pattern("?s ?p ?o")))[0]
    classes = rows(
        f"SELECT ?class (COUNT(DISTINCT ?s) AS ?n) WHERE {{ {pattern('?s a ?class')} }} "
        "GROUP BY ?class"
    )
    properties = rows(
        "SELECT ?p (COUNT(*) AS ?n) WHERE { "
        f"SELECT DISTINCT ?s ?p ?o WHERE {{ {pattern('?s ?p ?o')} }} }} GROUP BY ?p"
    )
    graphs = {row["g"].value: _number(row["n"]) for row in rows(COUNT_NAMED_GRAPHS)}
    return DatasetSummary(
        triples=_number(totals["triples"]),
        entities=_number(totals["entities"]),
        properties=_number(totals["properties"]),
        distinct_subjects=_number(totals["subjects"]),
        distinct_objects=_number(totals["objects"]),
        class_entities={row["class"].value: _number(row["n"]) for row in classes},
        property_triples={row["p"].value: _number(row["n"]) for row in properties},
        graph_triples=graphs,
        graph_titles=_graph_titles(graphs, base, _source_labels(rows, pattern, base)),
        links={target.key: _link_count(rows, pattern, target) for target in EXTERNAL_DATASETS},
        example_resources=_example_resources(rows, pattern, base + "id/"),
    )


def _totals_query(every_triple: str) -> str:
    return (
        "SELECT (COUNT(*) AS ?triples) (COUNT(DISTINCT ?entity) AS ?entities) "
        "(COUNT(DISTINCT ?p) AS ?properties) (COUNT(DISTINCT ?s) AS ?subjects) "
        "(COUNT(DISTINCT ?o) AS ?objects) WHERE { "
        f"{{ SELECT DISTINCT ?s ?p ?o WHERE {{ {every_triple} }} }} "
        "BIND (IF(isIRI(?s), ?s, ?unbound) AS ?entity) }"
    )


def _link_count(rows: Rows, pattern: Pattern, target: ExternalDataset) -> int:
    starts = " || ".join(f'STRSTARTS(STR(?o), "{space}")' for space in target.uri_spaces)
    query = (
        "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?o WHERE { "
        f"{pattern(f'?s <{OWL.sameAs}> ?o')} FILTER (isIRI(?o) && ({starts})) }} }}"
    )
    return _number(rows(query)[0]["n"])


def _example_resources(rows: Rows, pattern: Pattern, uri_space: str) -> tuple[str, ...]:
    query = (
        f"SELECT ?o (COUNT(*) AS ?n) WHERE {{ {pattern('?s ?p ?o')} "
        f'FILTER (isIRI(?o) && STRSTARTS(STR(?o), "{uri_space}")) }} '
        f"GROUP BY ?o ORDER BY DESC(?n) ?o LIMIT {EXAMPLE_RESOURCE_COUNT}"
    )
    return tuple(row["o"].value for row in rows(query))


def _source_labels(rows: Rows, pattern: Pattern, base: str) -> dict[str, str]:
    """Source document IRI -> its label (English or untagged first)."""
    query = (
        f"SELECT ?document ?label WHERE {{ {pattern(f'?document <{RDFS.label}> ?label')} "
        f'FILTER (STRSTARTS(STR(?document), "{base}id/source/")) }} '
        'ORDER BY ?document DESC(LANGMATCHES(LANG(?label), "en")) DESC(LANG(?label) = "")'
    )
    labels: dict[str, str] = {}
    for row in rows(query):
        labels.setdefault(row["document"].value, row["label"].value)
    return labels


def _graph_titles(
    graphs: Mapping[str, int], base: str, source_labels: Mapping[str, str]
) -> dict[str, str]:
    titles = {}
    for graph in graphs:
        path = graph[len(base) :] if graph.startswith(base) else None
        if path in GRAPH_PATH_TO_TITLE:
            titles[graph] = GRAPH_PATH_TO_TITLE[path]
        elif path and path.startswith("graph/source/"):
            slug = path.removeprefix("graph/source/")
            titles[graph] = "Source: " + source_labels.get(f"{base}id/source/{slug}", slug)
        elif path and path.startswith("graph/enrichment/"):
            titles[graph] = "Enrichment: " + path.removeprefix("graph/enrichment/")
        else:
            titles[graph] = graph
    return titles


def _number(literal) -> int:
    return int(literal.value)


# --- the description ---------------------------------------------------------------------------


def describe_dataset(
    summary: DatasetSummary,
    site: SiteLinks,
    *,
    base: str,
    published_at: datetime,
    version: str,
) -> Graph:
    """The VoID and DCAT description of the dataset that `summary` measures."""
    graph = Graph()
    for prefix, namespace in (
        ("void", VOID),
        ("dcat", DCAT),
        ("dcterms", DCTERMS),
        ("foaf", FOAF),
        ("sd", SD),
        ("formats", FORMATS),
        ("cq", CQ),
    ):
        graph.bind(prefix, namespace)
    dataset = _fragment(site, "dataset")
    _describe_main(graph, dataset, summary, site, base, published_at, version)
    _describe_partitions(graph, dataset, summary)
    _describe_graphs(graph, dataset, summary, site)
    _describe_linksets(graph, dataset, summary, site)
    _describe_distributions(graph, dataset, site)
    return graph


def _fragment(site: SiteLinks, name: str) -> URIRef:
    return URIRef(f"{site.description}#{name}")


def _describe_main(
    graph: Graph,
    dataset: URIRef,
    summary: DatasetSummary,
    site: SiteLinks,
    base: str,
    published_at: datetime,
    version: str,
) -> None:
    home = URIRef(site.homepage)
    for kind in (VOID.Dataset, DCAT.Dataset):
        graph.add((dataset, RDF.type, kind))
    graph.add((dataset, DCTERMS.title, Literal(DATASET_TITLE, lang="en")))
    graph.add((dataset, DCTERMS.description, Literal(DATASET_DESCRIPTION, lang="en")))
    graph.add((dataset, DCTERMS.license, DATA_LICENSE))
    graph.add((dataset, DCTERMS.rights, Literal(DATA_RIGHTS, lang="en")))
    graph.add((dataset, DCTERMS.modified, Literal(published_at.isoformat(), datatype=XSD.dateTime)))
    graph.add((dataset, OWL.versionInfo, Literal(version)))
    graph.add((dataset, FOAF.homepage, home))
    graph.add((dataset, DCAT.landingPage, home))
    graph.add((dataset, VOID.sparqlEndpoint, URIRef(site.sparql_endpoint)))
    graph.add((dataset, VOID.uriSpace, Literal(base + "id/")))
    graph.add((dataset, RDFS.seeAlso, URIRef(site.ontology)))
    for vocabulary in _vocabularies(summary):
        graph.add((dataset, VOID.vocabulary, URIRef(vocabulary)))
    for resource in summary.example_resources:
        graph.add((dataset, VOID.exampleResource, URIRef(resource)))
    for download in site.downloads:
        graph.add((dataset, VOID.dataDump, URIRef(download.url)))
        if download.media_type in RDF_FORMAT_TO_FORMAT_IRI:
            graph.add((dataset, VOID.feature, RDF_FORMAT_TO_FORMAT_IRI[download.media_type]))
    for predicate, value in (
        (VOID.triples, summary.triples),
        (VOID.entities, summary.entities),
        (VOID.classes, summary.classes),
        (VOID.properties, summary.properties),
        (VOID.distinctSubjects, summary.distinct_subjects),
        (VOID.distinctObjects, summary.distinct_objects),
    ):
        graph.add((dataset, predicate, Literal(value)))


def _vocabularies(summary: DatasetSummary) -> list[str]:
    """Namespaces of the properties and classes used, CQ's first."""
    used = {_namespace(iri) for iri in (*summary.property_triples, *summary.class_entities)}
    return sorted(used, key=lambda namespace: (namespace != str(CQ), namespace))


def _namespace(iri: str) -> str:
    cut = max(iri.rfind("#"), iri.rfind("/"))
    return iri[: cut + 1]


def _describe_partitions(graph: Graph, dataset: URIRef, summary: DatasetSummary) -> None:
    for class_iri, entities in sorted(summary.class_entities.items()):
        partition = BNode()
        graph.add((dataset, VOID.classPartition, partition))
        graph.add((partition, VOID["class"], URIRef(class_iri)))
        graph.add((partition, VOID.entities, Literal(entities)))
    for property_iri, triples in sorted(summary.property_triples.items()):
        partition = BNode()
        graph.add((dataset, VOID.propertyPartition, partition))
        graph.add((partition, VOID.property, URIRef(property_iri)))
        graph.add((partition, VOID.triples, Literal(triples)))


def _describe_graphs(
    graph: Graph, dataset: URIRef, summary: DatasetSummary, site: SiteLinks
) -> None:
    for number, (name, triples) in enumerate(sorted(summary.graph_triples.items()), start=1):
        subset = _fragment(site, f"graph-{number}")
        graph.add((dataset, VOID.subset, subset))
        graph.add((subset, RDF.type, VOID.Dataset))
        graph.add((subset, SD.name, URIRef(name)))
        graph.add((subset, DCTERMS.title, Literal(summary.graph_titles[name], lang="en")))
        graph.add((subset, VOID.triples, Literal(triples)))


def _describe_linksets(
    graph: Graph, dataset: URIRef, summary: DatasetSummary, site: SiteLinks
) -> None:
    for target in EXTERNAL_DATASETS:
        linkset = _fragment(site, f"linkset-{target.key}")
        other = _fragment(site, f"target-{target.key}")
        graph.add((dataset, VOID.subset, linkset))
        graph.add((linkset, RDF.type, VOID.Linkset))
        graph.add(
            (linkset, DCTERMS.title, Literal(f"owl:sameAs links to {target.title}", lang="en"))
        )
        graph.add((linkset, VOID.linkPredicate, OWL.sameAs))
        graph.add((linkset, VOID.subjectsTarget, dataset))
        graph.add((linkset, VOID.objectsTarget, other))
        graph.add((linkset, VOID.target, dataset))
        graph.add((linkset, VOID.target, other))
        graph.add((linkset, VOID.triples, Literal(summary.links[target.key])))
        graph.add((other, RDF.type, VOID.Dataset))
        graph.add((other, DCTERMS.title, Literal(target.title)))
        graph.add((other, FOAF.homepage, URIRef(target.homepage)))
        for space in target.uri_spaces:
            graph.add((other, VOID.uriSpace, Literal(space)))


def _describe_distributions(graph: Graph, dataset: URIRef, site: SiteLinks) -> None:
    for download in site.downloads:
        distribution = URIRef(download.url)
        graph.add((dataset, DCAT.distribution, distribution))
        graph.add((distribution, RDF.type, DCAT.Distribution))
        graph.add((distribution, DCTERMS.title, Literal(download.title, lang="en")))
        graph.add((distribution, DCAT.downloadURL, distribution))
        graph.add((distribution, DCAT.accessURL, distribution))
        graph.add((distribution, DCAT.mediaType, IANA_MEDIA_TYPES[download.media_type]))
        graph.add((distribution, DCAT.compressFormat, IANA_MEDIA_TYPES["application/gzip"]))
        graph.add(
            (
                distribution,
                DCAT.byteSize,
                Literal(download.byte_size, datatype=XSD.nonNegativeInteger),
            )
        )
        graph.add((distribution, DCTERMS.license, DATA_LICENSE))
    service = _fragment(site, "sparql-service")
    endpoint = URIRef(site.sparql_endpoint)
    graph.add((service, RDF.type, DCAT.DataService))
    graph.add((service, DCTERMS.title, Literal("SPARQL 1.1 endpoint", lang="en")))
    graph.add((service, DCAT.endpointURL, endpoint))
    graph.add((service, DCAT.endpointDescription, endpoint))
    graph.add((service, DCTERMS.conformsTo, SPARQL_PROTOCOL))
    graph.add((service, DCAT.servesDataset, dataset))
    access = _fragment(site, "sparql-access")
    graph.add((dataset, DCAT.distribution, access))
    graph.add((access, RDF.type, DCAT.Distribution))
    graph.add((access, DCTERMS.title, Literal("Queries through the SPARQL endpoint", lang="en")))
    graph.add((access, DCAT.accessURL, endpoint))
    graph.add((access, DCAT.accessService, service))
