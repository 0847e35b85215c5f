"""The ontology parses, documents every own term, and the data uses only declared terms."""

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.namespace import (
    DCTERMS,
    FOAF,
    ORG,
    OWL,
    PROV,
    RDF,
    RDFS,
    SDO,
    SH,
    SKOS,
    TIME,
    VOID,
    XSD,
)

from communique.dataset import bundled_quads
from communique.layout import Layout
from communique.namespaces import CQ, OA, SEM
from communique.settings import PROJECT_ROOT

ONTOLOGY = PROJECT_ROOT / "ontology" / "communique.ttl"
OWN_TERM_TYPES = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
CLOSED_VOCABULARIES = (DCTERMS, FOAF, ORG, OWL, PROV, RDF, RDFS, SDO, SH, SKOS, TIME, VOID, XSD)
"""Vocabularies whose term lists rdflib ships: a term outside them is a typo."""
OPEN_VOCABULARY_TERMS = {
    str(OA): {
        "SpecificResource",
        "hasSource",
        "hasSelector",
        "TextQuoteSelector",
        "exact",
        "prefix",
        "suffix",
        "TextPositionSelector",
        "start",
        "end",
    },
    str(SEM): {"Event", "hasActor", "hasPlace", "eventType"},
    "http://purl.org/vocab/vann/": {"preferredNamespacePrefix", "preferredNamespaceUri"},
}
"""Reused terms of vocabularies rdflib does not ship, checked against their specifications."""


@pytest.fixture(scope="module")
def ontology() -> rdflib.Graph:
    return rdflib.Graph().parse(ONTOLOGY)


@pytest.fixture(scope="module")
def data_graph() -> rdflib.Graph:
    layout = Layout(PROJECT_ROOT)
    graph = rdflib.Graph()
    for quad in bundled_quads(layout, layout.data_files()):
        graph.add(
            tuple(
                rdflib.URIRef(t.value)
                if isinstance(t, ox.NamedNode)
                else rdflib.BNode(t.value)
                if isinstance(t, ox.BlankNode)
                else rdflib.Literal(t.value)
                for t in quad.triple
            )
        )
    return graph


def own_terms(ontology: rdflib.Graph) -> set[rdflib.URIRef]:
    terms = {s for t in OWN_TERM_TYPES for s in ontology.subjects(RDF.type, t)}
    return {t for t in terms if str(t).startswith(str(CQ))}


def test_ontology_header(ontology):
    header = rdflib.URIRef(str(CQ))
    assert (header, RDF.type, OWL.Ontology) in ontology
    for predicate in (OWL.versionIRI, RDFS.label, DCTERMS.description, DCTERMS.license):
        assert ontology.value(header, predicate) is not None, predicate


def test_every_own_term_has_a_label_and_a_definition(ontology):
    terms = own_terms(ontology)
    assert len(terms) > 40
    for term in terms:
        assert ontology.value(term, RDFS.label), f"{term} has no rdfs:label"
        assert ontology.value(term, SKOS.definition) or ontology.value(term, RDFS.comment), (
            f"{term} has no definition"
        )


def test_every_concept_has_a_label_definition_and_scheme(ontology):
    concepts = set(ontology.subjects(RDF.type, SKOS.Concept))
    assert len(concepts) > 30
    for concept in concepts:
        assert ontology.value(concept, SKOS.prefLabel), concept
        assert ontology.value(concept, SKOS.definition), concept
        assert ontology.value(concept, SKOS.inScheme), concept


def test_event_types_carry_cameo_codes(ontology):
    scheme = CQ.EventTypeScheme
    notations = {
        str(ontology.value(c, SKOS.notation)) for c in ontology.subjects(SKOS.inScheme, scheme)
    }
    assert {"036", "042", "044", "1244"} <= notations


def test_own_classes_and_properties_are_aligned_to_reused_vocabularies(ontology):
    aligned = {
        s for s, o in ontology.subject_objects(RDFS.subClassOf) if not str(o).startswith(str(CQ))
    } | {
        s for s, o in ontology.subject_objects(RDFS.subPropertyOf) if not str(o).startswith(str(CQ))
    }
    for expected in (
        CQ.Claim,
        CQ.DiplomaticEvent,
        CQ.Quotation,
        CQ.UnnamedSource,
        CQ.Issue,
        CQ.about,
    ):
        assert expected in aligned, expected


def _used_terms(graph: rdflib.Graph) -> set[rdflib.URIRef]:
    predicates = set(graph.predicates())
    classes = set(graph.objects(None, RDF.type))
    return {t for t in predicates | classes if isinstance(t, rdflib.URIRef)}


def test_every_term_used_in_the_data_is_declared(ontology, data_graph):
    declared = own_terms(ontology) | set(ontology.subjects(RDF.type, SKOS.ConceptScheme))
    undeclared = []
    for term in _used_terms(data_graph):
        iri = str(term)
        if iri.startswith(str(CQ)):
            if term not in declared:
                undeclared.append(iri)
            continue
        vocabulary = next((v for v in CLOSED_VOCABULARIES if iri.startswith(str(v))), None)
        if vocabulary is not None:
            if not hasattr(vocabulary, iri[len(str(vocabulary)) :]):
                undeclared.append(iri)
            continue
        namespace = next((n for n in OPEN_VOCABULARY_TERMS if iri.startswith(n)), None)
        if namespace is None or iri[len(namespace) :] not in OPEN_VOCABULARY_TERMS[namespace]:
            undeclared.append(iri)
    assert undeclared == []


def test_concepts_used_as_values_exist(ontology, data_graph):
    concept_properties = (
        CQ.epistemicStatus,
        CQ.polarity,
        CQ.lifecycle,
        CQ.venueStatus,
        CQ.eventType,
    )
    concepts = set(ontology.subjects(RDF.type, SKOS.Concept))
    for prop in concept_properties:
        for value in data_graph.objects(None, prop):
            assert value in concepts, f"{prop} {value}"
