"""The ontology and its shapes, read through the `Store` interface for the ontology pages.

`overview(store, namespace)` lists what a vocabulary defines (classes with their definitions
and super-classes, properties with domain and range, concept schemes with their concepts and
notations) and how it aligns to other vocabularies. `term_details(store, iri)` gives one term's
definition, super- and sub-terms, domain and range, how often the data uses it, and the SHACL
shapes that target or constrain it.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

import pyoxigraph as ox

from communique.namespaces import OWL, RDF, RDFS, SKOS, sparql_prologue
from communique.store import Store

MAX_TERMS = 2000
MAX_ROWS = 20000

CLASS_TYPES = (str(OWL.Class), str(RDFS.Class))
PROPERTY_TYPES = (
    str(OWL.ObjectProperty),
    str(OWL.DatatypeProperty),
    str(OWL.AnnotationProperty),
    str(RDF.Property),
)
SCHEME_TYPES = (str(SKOS.ConceptScheme),)
CONCEPT_TYPES = (str(SKOS.Concept),)
TERM_TYPES = (*CLASS_TYPES, *PROPERTY_TYPES, *SCHEME_TYPES, *CONCEPT_TYPES)
DEFINITION_PROPERTIES = (str(SKOS.definition), str(RDFS.comment))
ALIGNMENT_PROPERTIES = (
    str(RDFS.subClassOf),
    str(RDFS.subPropertyOf),
    str(OWL.equivalentClass),
    str(OWL.equivalentProperty),
    str(SKOS.exactMatch),
    str(SKOS.closeMatch),
    str(SKOS.broadMatch),
    str(SKOS.narrowMatch),
)
SUPER_PROPERTIES = (str(RDFS.subClassOf), str(RDFS.subPropertyOf), str(SKOS.broader))


@dataclass(frozen=True)
class TermSummary:
    iri: str
    kind: str
    """"class", "property", "scheme" or "concept"."""
    definition: str | None = None
    parents: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    ranges: tuple[str, ...] = ()
    notation: str | None = None
    members: tuple["TermSummary", ...] = ()
    """The concepts of a scheme."""


@dataclass(frozen=True)
class Alignment:
    term: str
    relation: str
    target: str


@dataclass(frozen=True)
class Overview:
    classes: tuple[TermSummary, ...]
    properties: tuple[TermSummary, ...]
    schemes: tuple[TermSummary, ...]
    alignments: tuple[Alignment, ...]

    def iris(self) -> Iterable[str]:
        """Every IRI the overview mentions (to label them in one go)."""
        for term in (*self.classes, *self.properties, *self.schemes):
            yield from _term_iris(term)
        for alignment in self.alignments:
            yield from (alignment.term, alignment.relation, alignment.target)


@dataclass(frozen=True)
class ShapeRule:
    """A SHACL constraint that concerns a term: the node shape, the path and its message."""

    shape: str
    path: str | None
    message: str | None
    how: str
    """"targets", "requires values of class", "constrains property" ..."""


@dataclass(frozen=True)
class TermDetails:
    summary: TermSummary
    children: tuple[str, ...] = ()
    uses: int = 0
    """Instances of a class (subclasses included), triples of a property, claims or links
    naming a concept."""
    shapes: tuple[ShapeRule, ...] = field(default_factory=tuple)

    def iris(self) -> Iterable[str]:
        yield from _term_iris(self.summary)
        yield from self.children
        for rule in self.shapes:
            yield from (p for p in (rule.shape, rule.path) if p)


def _term_iris(term: TermSummary) -> Iterable[str]:
    yield term.iri
    yield from (*term.parents, *term.domains, *term.ranges)
    for member in term.members:
        yield from _term_iris(member)


# --- queries ----------------------------------------------------------------------------------


def _values(name: str, iris: Iterable[str]) -> str:
    return f"VALUES ?{name} {{ {' '.join(str(ox.NamedNode(iri)) for iri in iris)} }}"


TERMS_QUERY = """SELECT ?term ?type ?p ?o WHERE {{
  {types} ?term a ?type . FILTER(isIRI(?term) && STRSTARTS(STR(?term), {namespace}))
  OPTIONAL {{ {properties} ?term ?p ?o }}
}} LIMIT {limit}"""

READ_PROPERTIES = (
    *DEFINITION_PROPERTIES,
    *SUPER_PROPERTIES,
    str(RDFS.domain),
    str(RDFS.range),
    str(SKOS.notation),
    str(SKOS.inScheme),
    str(SKOS.topConceptOf),
)


def read_terms(store: Store, namespace: str) -> dict[str, TermSummary]:
    """The classes, properties, schemes and concepts whose IRIs start with `namespace`."""
    query = TERMS_QUERY.format(
        types=_values("type", TERM_TYPES),
        namespace=ox.Literal(namespace),
        properties=_values("p", READ_PROPERTIES),
        limit=MAX_ROWS,
    )
    found: dict[str, tuple[str, dict[str, list[ox.NamedNode | ox.Literal]]]] = {}
    for row in store.query(query):
        kind = _kind(row["type"].value)
        iri = row["term"].value
        previous = found.get(iri)
        if previous is None or _KIND_ORDER[kind] < _KIND_ORDER[previous[0]]:
            found[iri] = (kind, previous[1] if previous else {})
        if row["p"] is not None:
            found[iri][1].setdefault(row["p"].value, []).append(row["o"])
    return {iri: _summary(iri, kind, values) for iri, (kind, values) in sorted(found.items())}


_KIND_ORDER = {"class": 0, "property": 1, "scheme": 2, "concept": 3}


def _kind(type_iri: str) -> str:
    if type_iri in CLASS_TYPES:
        return "class"
    if type_iri in PROPERTY_TYPES:
        return "property"
    if type_iri in SCHEME_TYPES:
        return "scheme"
    return "concept"


def _summary(iri: str, kind: str, values: dict[str, list]) -> TermSummary:
    def iris(*properties: str) -> tuple[str, ...]:
        return tuple(sorted({t.value for p in properties for t in values.get(p, []) if _is_iri(t)}))

    definition = _first_literal(values, DEFINITION_PROPERTIES)
    return TermSummary(
        iri=iri,
        kind=kind,
        definition=definition,
        parents=iris(*SUPER_PROPERTIES),
        domains=iris(str(RDFS.domain)),
        ranges=iris(str(RDFS.range)),
        notation=_first_literal(values, (str(SKOS.notation),)),
    )


def _first_literal(values: dict[str, list], properties: Iterable[str]) -> str | None:
    for prop in properties:
        literals = sorted(
            (t for t in values.get(prop, []) if isinstance(t, ox.Literal)),
            key=lambda t: (t.language not in (None, "en"), t.language or "", t.value),
        )
        if literals:
            return literals[0].value
    return None


def _is_iri(term: object) -> bool:
    return isinstance(term, ox.NamedNode)


SCHEME_MEMBERS_QUERY = (
    sparql_prologue(("skos",))
    + """SELECT DISTINCT ?scheme ?concept WHERE {{
  {schemes} {{ ?concept skos:inScheme ?scheme }} UNION {{ ?concept skos:topConceptOf ?scheme }}
  UNION {{ ?scheme skos:hasTopConcept ?concept }} FILTER(isIRI(?concept))
}} ORDER BY ?scheme ?concept LIMIT {limit}"""
)


def overview(store: Store, namespace: str) -> Overview:
    """What the vocabulary at `namespace` defines, and its alignments to others."""
    terms = read_terms(store, namespace)
    schemes = [t for t in terms.values() if t.kind == "scheme"]
    members: dict[str, list[TermSummary]] = {}
    if schemes:
        query = SCHEME_MEMBERS_QUERY.format(
            schemes=_values("scheme", [s.iri for s in schemes]), limit=MAX_ROWS
        )
        for row in store.query(query):
            concept = row["concept"].value
            summary = terms.get(concept) or TermSummary(concept, "concept")
            members.setdefault(row["scheme"].value, []).append(summary)
    return Overview(
        classes=tuple(t for t in terms.values() if t.kind == "class"),
        properties=tuple(t for t in terms.values() if t.kind == "property"),
        schemes=tuple(
            TermSummary(**{**s.__dict__, "members": tuple(members.get(s.iri, ()))}) for s in schemes
        ),
        alignments=read_alignments(store, namespace),
    )


ALIGNMENTS_QUERY = """SELECT DISTINCT ?term ?relation ?target WHERE {{
  {relations} ?term ?relation ?target .
  FILTER(isIRI(?term) && isIRI(?target) && STRSTARTS(STR(?term), {namespace})
         && !STRSTARTS(STR(?target), {namespace}))
}} ORDER BY ?term ?relation ?target LIMIT {limit}"""


def read_alignments(store: Store, namespace: str) -> tuple[Alignment, ...]:
    query = ALIGNMENTS_QUERY.format(
        relations=_values("relation", ALIGNMENT_PROPERTIES),
        namespace=ox.Literal(namespace),
        limit=MAX_TERMS,
    )
    return tuple(
        Alignment(row["term"].value, row["relation"].value, row["target"].value)
        for row in store.query(query)
    )


# --- one term ---------------------------------------------------------------------------------


def term_kind(types: Iterable[str]) -> str | None:
    """The kind of term a resource with `types` is, or None when it is not a vocabulary term."""
    kinds = [_kind(t) for t in types if t in TERM_TYPES]
    return min(kinds, key=_KIND_ORDER.__getitem__) if kinds else None


TERM_QUERY = "SELECT ?p ?o WHERE {{ {properties} {term} ?p ?o }} LIMIT {limit}"
CHILDREN_QUERY = """SELECT DISTINCT ?child WHERE {{
  {relations} ?child ?relation {term} . FILTER(isIRI(?child))
}} ORDER BY ?child LIMIT {limit}"""
USES_QUERIES = {
    "class": (
        "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ ?x a/<" + str(RDFS.subClassOf) + ">* {term} }}"
    ),
    "property": "SELECT (COUNT(*) AS ?n) WHERE {{ ?s {term} ?o }}",
    "concept": "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s ?p {term} }}",
    "scheme": (
        "SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE {{ ?c <" + str(SKOS.inScheme) + "> {term} }}"
    ),
}
SHAPES_QUERY = (
    sparql_prologue(("sh",))
    + """SELECT DISTINCT ?shape ?path ?message ?how WHERE {{
  {{ ?shape sh:targetClass {term} . BIND("targets its instances" AS ?how) }}
  UNION {{ ?shape sh:targetSubjectsOf {term} . BIND("targets subjects of it" AS ?how) }}
  UNION {{ ?shape sh:targetObjectsOf {term} . BIND("targets objects of it" AS ?how) }}
  UNION {{ ?shape sh:property ?rule . ?rule sh:path {term} .
           OPTIONAL {{ ?rule sh:message ?message }} BIND({term} AS ?path)
           BIND("constrains this property" AS ?how) }}
  UNION {{ ?shape sh:property ?rule . ?rule sh:class {term} ; sh:path ?path .
           OPTIONAL {{ ?rule sh:message ?message }} BIND("requires values of this class" AS ?how) }}
  UNION {{ ?shape sh:property ?rule . ?rule sh:in/<{rest}>*/<{first}> {term} ; sh:path ?path .
           OPTIONAL {{ ?rule sh:message ?message }} BIND("allows this value" AS ?how) }}
  FILTER(isIRI(?shape))
}} ORDER BY ?shape ?how LIMIT {limit}"""
)


def term_details(store: Store, iri: str, kind: str) -> TermDetails:
    """Definition, super- and sub-terms, domain and range, uses and shapes of one term."""
    term = ox.NamedNode(iri)
    values: dict[str, list] = {}
    query = TERM_QUERY.format(properties=_values("p", READ_PROPERTIES), term=term, limit=MAX_ROWS)
    for row in store.query(query):
        values.setdefault(row["p"].value, []).append(row["o"])
    children = CHILDREN_QUERY.format(
        relations=_values("relation", SUPER_PROPERTIES), term=term, limit=MAX_TERMS
    )
    uses = next(iter(store.query(USES_QUERIES[kind].format(term=term))))["n"]
    shapes = SHAPES_QUERY.format(term=term, rest=RDF.rest, first=RDF.first, limit=MAX_TERMS)
    return TermDetails(
        summary=_summary(iri, kind, values),
        children=tuple(row["child"].value for row in store.query(children)),
        uses=int(uses.value),
        shapes=tuple(
            ShapeRule(
                row["shape"].value,
                row["path"].value if _is_iri(row["path"]) else None,
                row["message"].value if isinstance(row["message"], ox.Literal) else None,
                row["how"].value,
            )
            for row in store.query(shapes)
        ),
    )
