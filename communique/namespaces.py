"""The one place where Communiqué spells IRIs: namespaces, graph names and prefixes."""

from rdflib import Namespace
from rdflib.namespace import (
    DCAT,
    DCTERMS,
    FOAF,
    ORG,
    OWL,
    PROV,
    RDF,
    RDFS,
    SH,
    SKOS,
    TIME,
    VOID,
    XSD,
)

DEFAULT_BASE = "https://w3id.org/communique/"
"""The canonical base of the published data; a deployment may choose another (see `rebase`)."""

CQ = Namespace(DEFAULT_BASE + "ontology/")
"""The diplomacy ontology. Its IRIs do not move with the data base: it is a shared vocabulary."""
STATUS = Namespace(CQ + "epistemic-status/")
LIFECYCLE = Namespace(CQ + "event-lifecycle/")
VENUE_STATUS = Namespace(CQ + "venue-status/")
EVENT_TYPE = Namespace(CQ + "event-type/")
POLARITY = Namespace(CQ + "polarity/")
SHAPES = Namespace(DEFAULT_BASE + "shapes/")

ID = Namespace(DEFAULT_BASE + "id/")
GRAPH = Namespace(DEFAULT_BASE + "graph/")

SEM = Namespace("http://semanticweb.cs.vu.nl/2009/11/sem/")
SCHEMA = Namespace("https://schema.org/")
OA = Namespace("http://www.w3.org/ns/oa#")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
NP = Namespace("http://www.nanopub.org/nschema#")
WD = Namespace("http://www.wikidata.org/entity/")
WDT = Namespace("http://www.wikidata.org/prop/direct/")
GEONAMES = Namespace("https://sws.geonames.org/")
GN = Namespace("https://www.geonames.org/ontology#")

ONTOLOGY_GRAPH = GRAPH["ontology"]
BACKGROUND_GRAPH = GRAPH["background"]
SHAPES_GRAPH = GRAPH["shapes"]

PREFIXES = {
    "cq": str(CQ),
    "status": str(STATUS),
    "lifecycle": str(LIFECYCLE),
    "venue": str(VENUE_STATUS),
    "etype": str(EVENT_TYPE),
    "polarity": str(POLARITY),
    "id": str(ID),
    "graph": str(GRAPH),
    "shapes": str(SHAPES),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "owl": str(OWL),
    "xsd": str(XSD),
    "skos": str(SKOS),
    "dcterms": str(DCTERMS),
    "foaf": str(FOAF),
    "prov": str(PROV),
    "oa": str(OA),
    "time": str(TIME),
    "org": str(ORG),
    "sem": str(SEM),
    "schema": str(SCHEMA),
    "sh": str(SH),
    "void": str(VOID),
    "dcat": str(DCAT),
    "sd": str(SD),
    "np": str(NP),
    "wd": str(WD),
    "wdt": str(WDT),
    "gn": str(GN),
}
"""Prefix -> namespace, used in SPARQL prologues, Turtle output and page hovers."""

DATA_NAMESPACES = (str(ID), str(GRAPH))
"""The namespaces that move with the deployment's base (the ontology and shapes do not)."""


def rebase(iri: str, base: str) -> str:
    """Map an IRI in the data namespaces from the canonical base to `base`.

    >>> rebase("https://w3id.org/communique/id/north-korea", "https://kg.example.org/")
    'https://kg.example.org/id/north-korea'
    >>> rebase("https://w3id.org/communique/ontology/Claim", "https://kg.example.org/")
    'https://w3id.org/communique/ontology/Claim'
    """
    if base == DEFAULT_BASE or not iri.startswith(DATA_NAMESPACES):
        return iri
    return base + iri[len(DEFAULT_BASE) :]


def sparql_prologue(names: tuple[str, ...] | None = None) -> str:
    """PREFIX declarations for `names` (all known prefixes when None)."""
    chosen = PREFIXES if names is None else {name: PREFIXES[name] for name in names}
    return "".join(f"PREFIX {name}: <{iri}>\n" for name, iri in chosen.items())
