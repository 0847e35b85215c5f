"""The Reconciliation Service API 0.2 (W3C Entity Reconciliation Community Group), framework-free.

`Reconciler` answers what OpenRefine and other clients ask: reconciliation query batches,
suggestions of entities, types and properties, preview data, data extension and property
proposals; `manifest` describes the service. `parse_query_batch` and `parse_extension_query` read
the JSON a client sends and raise `BadRequest` naming what is wrong.

Identifiers. An entity's identifier is its IRI without the identifier space ``{base}id/``
(``kim-jong-un``), as Wikidata's are ``Q42``; a full IRI is accepted wherever an identifier is.
Types and properties are identified by full IRIs; a prefixed name with a known prefix
(``schema:Person``) is accepted too. Reconciled entities are the IRIs under the identifier space
that have a label, except claims.

Candidates come from the label index of `communique.search_index` (preferred, alternative and
hidden labels, normalised so that ``Kim Jong-un`` is ``Kim Jong Un``), its `score` (0-100) being
the name score. A query that is an identifier (ours, or a linked Wikidata or GeoNames IRI, or a
Wikidata Q-id) finds that entity with score 100. Weaker than a word-prefix match (a bare
substring) is not a candidate.

Types. A type matches its subtypes (``rdfs:subClassOf`` in the data, plus schema.org's own
hierarchy for the schema.org types the data uses). ``type_strict``: ``any`` (the default) keeps
candidates with one of the types, ``all`` those with every type, ``should`` keeps every candidate
and takes `TYPE_MISMATCH_PENALTY` off those with none.

Properties. Each ``{pid, v}`` agrees (a value is the same entity or IRI, the same number, or a
literal or a label of the value with the same normalised text), disagrees (the entity has values,
none agreeing) or is unknown. The score is the weighted mean of the name score (weight 2) and
100, 0 or 50 per property; without a query text, the mean of the properties.

Matching. ``match`` is true on the best candidate only when its name is the query exactly on a
preferred or alternative label (a hidden label such as "Pyongyang" for North Korea is a
metonymy, shown but never matched automatically), no other candidate of the right type has such
a label, its type is right and no property disagrees. Without a query text, when it alone agrees
on every property.
"""

import json
import math
import re
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox
from rdflib.namespace import DCTERMS, ORG, OWL, RDF, RDFS, SKOS, XSD

from communique import __version__
from communique.errors import BadRequest, NotFound, PayloadTooLarge
from communique.external_links import same_as_candidates
from communique.graph_patterns import everywhere
from communique.labels import LABEL_PROPERTIES, best_label, fallback_label, local_name
from communique.namespaces import CQ, PREFIXES, SCHEMA
from communique.search_index import (
    LABEL_KIND_TO_PENALTY,
    MATCH_KIND_TO_SCORE,
    LabelIndex,
    LabelKind,
    MatchKind,
    normalize,
    score,
)
from communique.store import Store

API_VERSIONS = ("0.2",)
SERVICE_NAME = "Communiqué"
BATCH_SIZE = 50
"""Most queries in one batch (announced as ``batchSize``; a larger batch is refused with 413)."""
MAX_EXTENSION_IDS = 500
MAX_EXTENSION_PROPERTIES = 50
MAX_VALUES_PER_CELL = 100
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
SEARCH_DEPTH = 100
"""Label-index hits read per query, before candidates that are not entities are left out."""
SUGGEST_PAGE = 10
MAX_CURSOR = 1000
PREVIEW_WIDTH = 420
PREVIEW_HEIGHT = 140

MATCH_NAME_SCORE = (
    MATCH_KIND_TO_SCORE[MatchKind.EXACT] - LABEL_KIND_TO_PENALTY[LabelKind.ALTERNATIVE]
)
"""A name score this high is an exact match on a preferred or alternative label."""
MIN_NAME_SCORE = MATCH_KIND_TO_SCORE[MatchKind.SUBSTRING] + 0.01
"""Candidates must match better than a bare substring."""
NAME_WEIGHT = 2
TYPE_MISMATCH_PENALTY = 25.0
PROPERTY_POINTS = {True: 100.0, False: 0.0, None: 50.0}
TYPE_STRICTNESS = ("any", "all", "should")
QUERY_FIELDS = frozenset({"query", "type", "limit", "properties", "type_strict"})

NAME_PROPERTIES = tuple(iri for iri in LABEL_PROPERTIES if iri != str(DCTERMS.title))
DESCRIPTION_PROPERTIES = (str(SCHEMA.description), str(SKOS.definition), str(RDFS.comment))
"""Where an entity's description comes from, best first."""
DEFAULT_TYPES = (
    SCHEMA.Person,
    SCHEMA.Country,
    SCHEMA.Organization,
    SCHEMA.Place,
    SCHEMA.Event,
    ORG.Role,
    CQ.Issue,
)
"""Types offered first to clients, those the data has instances of."""
SCHEMA_ORG_SUPERCLASSES = {
    SCHEMA.City: (SCHEMA.AdministrativeArea,),
    SCHEMA.Country: (SCHEMA.AdministrativeArea,),
    SCHEMA.State: (SCHEMA.AdministrativeArea,),
    SCHEMA.AdministrativeArea: (SCHEMA.Place,),
    SCHEMA.Hotel: (SCHEMA.LodgingBusiness,),
    SCHEMA.LodgingBusiness: (SCHEMA.LocalBusiness,),
    SCHEMA.LocalBusiness: (SCHEMA.Organization, SCHEMA.Place),
    SCHEMA.NewsMediaOrganization: (SCHEMA.Organization,),
    SCHEMA.GovernmentOrganization: (SCHEMA.Organization,),
}
"""The part of schema.org's type hierarchy the bundled data relies on (schema.org publishes it;
the data does not restate it)."""

XSD_DATE = str(XSD.date)
XSD_DATETIME = str(XSD.dateTime)
INTEGER_DATATYPES = frozenset(
    str(XSD) + name
    for name in (
        "integer",
        "long",
        "int",
        "short",
        "byte",
        "nonNegativeInteger",
        "positiveInteger",
        "nonPositiveInteger",
        "negativeInteger",
        "unsignedLong",
        "unsignedInt",
        "unsignedShort",
        "unsignedByte",
    )
)
FLOAT_DATATYPES = frozenset(str(XSD) + name for name in ("decimal", "double", "float"))
_DATE = re.compile(r"-?[0-9]{4,}-(1[0-2]|0[1-9])-(3[01]|0[1-9]|[12][0-9])")
_DATE_TIME = re.compile(
    r"-?[0-9]{4,}-(1[0-2]|0[1-9])-(3[01]|0[1-9]|[12][0-9])T(2[0-3]|[01][0-9]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]+)?(Z|[+-](2[0-3]|[01][0-9]):[0-5][0-9])?"
)
_WIKIDATA_ITEM = re.compile(r"Q[1-9][0-9]{0,11}")
_IRI_FORBIDDEN = re.compile(r'[<>"{}|^`\\\x00-\x20\x7f]')
_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
MAX_IDENTIFIER_CHARS = 2048


# --- identifiers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identifiers:
    """Turns the identifiers clients send into IRIs and back, for one data base IRI."""

    base: str

    @property
    def entity_space(self) -> str:
        """The identifier space: entity IRIs are this plus the identifier."""
        return self.base + "id/"

    def entity_iri(self, identifier: str) -> str:
        """:raises BadRequest: the identifier cannot be (part of) an IRI."""
        iri = identifier if _ABSOLUTE_IRI.match(identifier) else self.entity_space + identifier
        return checked_iri(iri, "entity identifier")

    def entity_id(self, iri: str) -> str:
        return iri[len(self.entity_space) :] if iri.startswith(self.entity_space) else iri

    def term_iri(self, identifier: str) -> str:
        """The IRI of a type or property given as an IRI or a prefixed name.

        >>> Identifiers("https://w3id.org/communique/").term_iri("schema:Person")
        'https://schema.org/Person'

        :raises BadRequest: neither.
        """
        prefix, colon, rest = identifier.partition(":")
        if colon and prefix in PREFIXES and not rest.startswith("//"):
            return checked_iri(PREFIXES[prefix] + rest, "type or property")
        return checked_iri(identifier, "type or property")


def checked_iri(iri: str, what: str) -> str:
    """`iri` when it is an absolute IRI that can be written in SPARQL.

    :raises BadRequest: it is not.
    """
    if (
        len(iri) > MAX_IDENTIFIER_CHARS
        or not _ABSOLUTE_IRI.match(iri)
        or _IRI_FORBIDDEN.search(iri)
    ):
        raise BadRequest(f"the {what} {iri[:100]!r} is not an absolute IRI")
    return iri


# --- what clients send ------------------------------------------------------------------------


@dataclass(frozen=True)
class EntityReference:
    """A property value that names an entity (``{"id": ...}``), e.g. one reconciled before:
    one of ours, or one of another knowledge base (``Q423``) that ours may be linked to."""

    identifier: str
    iri: str

    @property
    def iris(self) -> tuple[str, ...]:
        """Every IRI the value may be stored as."""
        return (self.iri, *external_iris(self.identifier))


PropertyValue = str | int | float | bool | EntityReference


@dataclass(frozen=True)
class PropertyConstraint:
    property: str
    values: tuple[PropertyValue, ...]


@dataclass(frozen=True)
class ReconciliationQuery:
    text: str | None
    types: tuple[str, ...] = ()
    type_strict: str = "any"
    limit: int = DEFAULT_LIMIT
    properties: tuple[PropertyConstraint, ...] = ()


@dataclass(frozen=True)
class ExtensionQuery:
    ids: tuple[str, ...]
    """As the client sent them (the rows of the answer are keyed by them)."""
    properties: tuple[str, ...]
    """Property IRIs."""


def parse_query_batch(text: str, identifiers: Identifiers) -> dict[str, ReconciliationQuery]:
    """The queries of a reconciliation query batch (the ``queries`` parameter).

    :raises BadRequest: not JSON, or not a query batch (the message says where and why).
    :raises PayloadTooLarge: more than `BATCH_SIZE` queries.
    """
    document = _json_document(text, "queries")
    if not isinstance(document, dict):
        raise BadRequest("queries must be a JSON object mapping query keys to queries")
    if len(document) > BATCH_SIZE:
        raise PayloadTooLarge(
            f"the batch holds {len(document)} queries; this service takes at most {BATCH_SIZE}"
        )
    return {key: _query(key, value, identifiers) for key, value in document.items()}


def parse_extension_query(text: str, identifiers: Identifiers) -> ExtensionQuery:
    """The data extension query of the ``extend`` parameter.

    :raises BadRequest: not JSON, or not a data extension query.
    :raises PayloadTooLarge: too many ids or properties.
    """
    document = _json_document(text, "extend")
    if not isinstance(document, dict) or set(document) - {"ids", "properties"}:
        raise BadRequest('extend must be a JSON object with "ids" and "properties" only')
    ids = _string_list(document.get("ids"), "extend.ids")
    properties = document.get("properties")
    if not isinstance(properties, list) or not all(
        isinstance(item, dict) and isinstance(item.get("id"), str) for item in properties
    ):
        raise BadRequest('extend.properties must be a list of objects with a string "id"')
    if len(ids) > MAX_EXTENSION_IDS or len(properties) > MAX_EXTENSION_PROPERTIES:
        raise PayloadTooLarge(
            f"a data extension query takes at most {MAX_EXTENSION_IDS} ids and "
            f"{MAX_EXTENSION_PROPERTIES} properties"
        )
    for identifier in ids:
        identifiers.entity_iri(identifier)
    return ExtensionQuery(
        tuple(ids), tuple(identifiers.term_iri(item["id"]) for item in properties)
    )


def _json_document(text: str, parameter: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise BadRequest(f"{parameter} is nested too deeply") from None
    except ValueError as error:
        raise BadRequest(f"{parameter} is not valid JSON: {error}") from None


def _query(key: str, value: object, identifiers: Identifiers) -> ReconciliationQuery:
    where = f"query {key[:40]!r}"
    if not isinstance(value, dict):
        raise BadRequest(f"{where} is not a JSON object")
    unknown = set(value) - QUERY_FIELDS
    if unknown:
        raise BadRequest(f"{where} has fields the API does not define: {sorted(unknown)}")
    text = value.get("query")
    if text is not None and not isinstance(text, str):
        raise BadRequest(f"{where}: query must be a string")
    properties = _constraints(value.get("properties", []), where, identifiers)
    if not (text and text.strip()) and not properties:
        raise BadRequest(f"{where} needs a query string or at least one property")
    strict = value.get("type_strict", "any")
    if strict not in TYPE_STRICTNESS:
        raise BadRequest(f"{where}: type_strict must be one of {', '.join(TYPE_STRICTNESS)}")
    return ReconciliationQuery(
        text=text if text and text.strip() else None,
        types=_types(value.get("type"), where, identifiers),
        type_strict=strict,
        limit=_limit(value.get("limit", DEFAULT_LIMIT), where),
        properties=properties,
    )


def _types(value: object, where: str, identifiers: Identifiers) -> tuple[str, ...]:
    if value is None:
        return ()
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise BadRequest(f"{where}: type must be a type identifier or a list of them")
    return tuple(identifiers.term_iri(name) for name in names if name)


def _limit(value: object, where: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value != int(value)
        or value < 1
    ):
        raise BadRequest(f"{where}: limit must be a positive integer")
    return min(int(value), MAX_LIMIT)


def _constraints(
    value: object, where: str, identifiers: Identifiers
) -> tuple[PropertyConstraint, ...]:
    if not isinstance(value, list):
        raise BadRequest(f"{where}: properties must be a list")
    constraints = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("pid"), str) or "v" not in item:
            raise BadRequest(f'{where}: each property needs a string "pid" and a "v"')
        values = item["v"] if isinstance(item["v"], list) else [item["v"]]
        constraints.append(
            PropertyConstraint(
                identifiers.term_iri(item["pid"]),
                tuple(_property_value(v, where, identifiers) for v in values),
            )
        )
    return tuple(constraints)


def _property_value(value: object, where: str, identifiers: Identifiers) -> PropertyValue:
    if isinstance(value, dict):
        if not isinstance(value.get("id"), str):
            raise BadRequest(f'{where}: an entity property value needs a string "id"')
        return EntityReference(value["id"], identifiers.entity_iri(value["id"]))
    if isinstance(value, str | bool | int | float):
        return value
    raise BadRequest(f"{where}: a property value is a string, number, boolean or entity")


def _string_list(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest(f"{where} must be a list of strings")
    return value


# --- what the data holds ----------------------------------------------------------------------


@dataclass(frozen=True)
class Entity:
    """A reconcilable resource: names and descriptions by language tag ("" for none)."""

    iri: str
    names: Mapping[str, str]
    descriptions: Mapping[str, str]
    types: tuple[str, ...]
    same_as: tuple[str, ...]

    def name(self, language: str = "en") -> str:
        chosen = best_label(self.names, language)
        return chosen[0] if chosen else local_name(self.iri)

    def description(self, language: str = "en") -> str | None:
        chosen = best_label(self.descriptions, language)
        return chosen[0] if chosen else None


@dataclass(frozen=True)
class Term:
    """A type or property: its IRI, name and how many entities use it."""

    iri: str
    name: str
    uses: int


@dataclass
class Catalogue:
    """The reconcilable entities of one publication, and the types and properties they use."""

    entities: dict[str, Entity]
    types: dict[str, Term]
    properties: dict[str, Term]
    superclasses: dict[str, set[str]]
    properties_by_type: dict[str, dict[str, int]]
    by_external_iri: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for entity in self.entities.values():
            for external in entity.same_as:
                self.by_external_iri.setdefault(external, entity.iri)

    def subtypes(self, type_iri: str) -> frozenset[str]:
        """`type_iri` and every type below it."""
        found = {type_iri}
        frontier = [type_iri]
        while frontier:
            current = frontier.pop()
            for sub, supers in self.superclasses.items():
                if current in supers and sub not in found:
                    found.add(sub)
                    frontier.append(sub)
        return frozenset(found)

    def default_types(self) -> list[Term]:
        chosen = [
            self.type_term(str(iri))
            for iri in DEFAULT_TYPES
            if any(t in self.types for t in self.subtypes(str(iri)))
        ]
        if chosen:
            return chosen
        return sorted(self.types.values(), key=lambda term: (-term.uses, term.iri))[:8]

    def type_term(self, iri: str) -> Term:
        return self.types.get(iri) or Term(iri, fallback_label(iri), 0)

    def property_term(self, iri: str) -> Term:
        return self.properties.get(iri) or Term(iri, fallback_label(iri), 0)


def read_catalogue(store: Store, identifiers: Identifiers) -> Catalogue:
    """The catalogue of `store`'s entities (a few queries, once per publication version)."""
    union = store.union_default_graph
    claims = _subjects_of(store, str(CQ.epistemicStatus), union)
    entities = _read_entities(store, identifiers, claims, union)
    uses_by_property: dict[str, set[str]] = defaultdict(set)
    for row in store.query(_entity_predicates_query(identifiers, union)):
        if row["s"].value in entities:
            uses_by_property[row["p"].value].add(row["s"].value)
    types: dict[str, set[str]] = defaultdict(set)
    for entity in entities.values():
        for type_iri in entity.types:
            types[type_iri].add(entity.iri)
    names = _term_names(store, [*types, *uses_by_property], union)
    return Catalogue(
        entities=entities,
        types={
            iri: Term(iri, names.get(iri, fallback_label(iri)), len(s)) for iri, s in types.items()
        },
        properties={
            iri: Term(iri, names.get(iri, fallback_label(iri)), len(subjects))
            for iri, subjects in uses_by_property.items()
        },
        superclasses=_superclasses(store, union),
        properties_by_type=_properties_by_type(entities, uses_by_property),
    )


def _subjects_of(store: Store, predicate: str, union: bool) -> set[str]:
    pattern = everywhere(f"?s <{predicate}> ?o", union_default_graph=union)
    return {row["s"].value for row in store.query(f"SELECT DISTINCT ?s WHERE {{ {pattern} }}")}


def _read_entities(
    store: Store, identifiers: Identifiers, claims: set[str], union: bool
) -> dict[str, Entity]:
    predicates = [str(RDF.type), str(OWL.sameAs), *NAME_PROPERTIES, *DESCRIPTION_PROPERTIES]
    pattern = everywhere(
        f"VALUES ?p {{ {' '.join(f'<{p}>' for p in predicates)} }} ?s ?p ?o",
        union_default_graph=union,
    )
    query = (
        f"SELECT DISTINCT ?s ?p ?o WHERE {{ {pattern} "
        f"FILTER (isIRI(?s) && STRSTARTS(STR(?s), {_string(identifiers.entity_space)})) }}"
    )
    rows: dict[str, list[tuple[str, object]]] = defaultdict(list)
    for row in store.query(query):
        if row["s"].value not in claims:
            rows[row["s"].value].append((row["p"].value, row["o"]))
    entities = {iri: _entity(iri, facts) for iri, facts in rows.items()}
    return {iri: entity for iri, entity in entities.items() if entity.names}


def _entity(iri: str, facts: list[tuple[str, object]]) -> Entity:
    return Entity(
        iri=iri,
        names=_by_language(facts, NAME_PROPERTIES),
        descriptions=_by_language(facts, DESCRIPTION_PROPERTIES),
        types=tuple(sorted(o.value for p, o in facts if p == str(RDF.type) and _is_iri(o))),
        same_as=tuple(sorted(o.value for p, o in facts if p == str(OWL.sameAs) and _is_iri(o))),
    )


def _by_language(facts: list[tuple[str, object]], predicates: tuple[str, ...]) -> dict[str, str]:
    """Per language tag, the text of the best-ranked predicate (the smallest text on a tie)."""
    rank = {predicate: position for position, predicate in enumerate(predicates)}
    chosen: dict[str, tuple[int, str]] = {}
    for predicate, term in facts:
        if predicate in rank and isinstance(term, ox.Literal):
            candidate = (rank[predicate], term.value)
            language = (term.language or "").lower()
            chosen[language] = min(chosen.get(language, candidate), candidate)
    return {language: text for language, (_, text) in chosen.items()}


def _entity_predicates_query(identifiers: Identifiers, union: bool) -> str:
    pattern = everywhere("?s ?p ?o", union_default_graph=union)
    return (
        f"SELECT DISTINCT ?s ?p WHERE {{ {pattern} "
        f"FILTER (isIRI(?s) && STRSTARTS(STR(?s), {_string(identifiers.entity_space)})) }}"
    )


def _term_names(store: Store, iris: Iterable[str], union: bool) -> dict[str, str]:
    """English (or else any) labels of types and properties, where the data has them."""
    unique = sorted(set(iris))
    if not unique:
        return {}
    pattern = everywhere(
        f"VALUES ?term {{ {' '.join(f'<{iri}>' for iri in unique)} }} "
        f"?term <{RDFS.label}>|<{SKOS.prefLabel}> ?label",
        union_default_graph=union,
    )
    labels: dict[str, dict[str, str]] = defaultdict(dict)
    for row in store.query(f"SELECT DISTINCT ?term ?label WHERE {{ {pattern} }}"):
        literal = row["label"]
        if isinstance(literal, ox.Literal):
            labels[row["term"].value].setdefault((literal.language or "").lower(), literal.value)
    names = {iri: best_label(by_language, "en") for iri, by_language in labels.items()}
    return {iri: chosen[0] for iri, chosen in names.items() if chosen}


def _superclasses(store: Store, union: bool) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for sub, supers in SCHEMA_ORG_SUPERCLASSES.items():
        found[str(sub)].update(str(s) for s in supers)
    pattern = everywhere(f"?sub <{RDFS.subClassOf}> ?super", union_default_graph=union)
    query = (
        f"SELECT DISTINCT ?sub ?super WHERE {{ {pattern} FILTER (isIRI(?sub) && isIRI(?super)) }}"
    )
    for row in store.query(query):
        found[row["sub"].value].add(row["super"].value)
    return dict(found)


def _properties_by_type(
    entities: Mapping[str, Entity], uses_by_property: Mapping[str, set[str]]
) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = defaultdict(dict)
    for property_iri, subjects in uses_by_property.items():
        for subject in subjects:
            for type_iri in entities[subject].types:
                table[type_iri][property_iri] = table[type_iri].get(property_iri, 0) + 1
    return dict(table)


# --- answers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    entity: Entity
    name: str
    name_score: float | None
    type_match: bool | None
    agreements: tuple[tuple[str, bool | None], ...]
    score: float

    @property
    def name_matches_exactly(self) -> bool:
        return self.name_score is not None and self.name_score >= MATCH_NAME_SCORE


@dataclass(frozen=True)
class EntityPreview:
    """What a preview of an entity shows."""

    id: str
    iri: str
    names: Mapping[str, str]
    descriptions: Mapping[str, str]
    types: tuple[Term, ...]
    same_as: tuple[str, ...]


@dataclass(frozen=True)
class ServiceUrls:
    """Where this server answers: its root and its reconciliation endpoint (absolute URLs)."""

    root: str
    """Ends with a slash."""
    service: str
    """No trailing slash."""


class Reconciler:
    """Answers the API's requests over one publication's store."""

    def __init__(
        self, store: Store, identifiers: Identifiers, index: LabelIndex, catalogue: Catalogue
    ):
        self.store = store
        self.identifiers = identifiers
        self.index = index
        self.catalogue = catalogue

    @classmethod
    def from_store(cls, store: Store, base: str, index: LabelIndex | None = None) -> "Reconciler":
        """The reconciler of `store`, reusing `index` when given (it must be `store`'s)."""
        identifiers = Identifiers(base)
        return cls(
            store,
            identifiers,
            index or LabelIndex.from_store(store),
            read_catalogue(store, identifiers),
        )

    # manifest

    def manifest(self, urls: ServiceUrls) -> dict[str, Any]:
        """The service manifest (what `GET /reconcile` without parameters answers)."""
        service_path = {"service_url": urls.service}
        return {
            "versions": list(API_VERSIONS),
            "name": SERVICE_NAME,
            "identifierSpace": self.identifiers.entity_space,
            "schemaSpace": str(CQ),
            "serviceVersion": __version__,
            "documentation": urls.root,
            "defaultTypes": [_type_json(term) for term in self.catalogue.default_types()],
            "view": {"url": urls.service + "/view?id={{id}}"},
            "preview": {
                "url": urls.service + "/preview?id={{id}}",
                "width": PREVIEW_WIDTH,
                "height": PREVIEW_HEIGHT,
            },
            "suggest": {
                kind: {**service_path, "service_path": f"/suggest/{kind}"}
                for kind in ("entity", "type", "property")
            },
            "extend": {
                "propose_properties": {**service_path, "service_path": "/properties"},
                "property_settings": [],
            },
            "batchSize": BATCH_SIZE,
        }

    # reconciliation

    def reconcile(self, batch: Mapping[str, ReconciliationQuery]) -> dict[str, Any]:
        """The result batch: for each query key, its candidates, best first."""
        return {key: {"result": self.result(query)} for key, query in batch.items()}

    def result(self, query: ReconciliationQuery) -> list[dict[str, Any]]:
        candidates = self.candidates(query)
        matched = self._match(query, candidates)
        return [
            self._candidate_json(candidate, query, candidate is matched) for candidate in candidates
        ]

    def candidates(self, query: ReconciliationQuery) -> list[Candidate]:
        """The candidates of `query`, best first, at most ``query.limit``."""
        named = self._named(query)
        values = self._values(list(named), [c.property for c in query.properties])
        candidates = [
            self._candidate(self.catalogue.entities[iri], name, name_score, query, values)
            for iri, (name, name_score) in named.items()
        ]
        kept = [c for c in candidates if c.type_match is not False or query.type_strict == "should"]
        kept.sort(key=lambda c: (-c.score, c.name, c.entity.iri))
        return kept[: query.limit]

    def _named(self, query: ReconciliationQuery) -> dict[str, tuple[str, float | None]]:
        """Entity IRI -> (name to show, name score) of the entities the query may mean."""
        if query.text is None:
            return {
                iri: (self.catalogue.entities[iri].name(), None) for iri in self._by_values(query)
            }
        identified = self._identified(query.text.strip())
        if identified is not None:
            return {identified: (self.catalogue.entities[identified].name(), 100.0)}
        found: dict[str, tuple[str, float | None]] = {}
        for hit in self._search(query.text, self._search_types(query)):
            if hit.iri in self.catalogue.entities and hit.score >= MIN_NAME_SCORE:
                found.setdefault(hit.iri, (hit.label, hit.score))
        return found

    def _search(self, text: str, types: frozenset[str] | None) -> list:
        try:
            return self.index.search(text, limit=SEARCH_DEPTH, types=types)
        except BadRequest:
            return []

    def _search_types(self, query: ReconciliationQuery) -> frozenset[str] | None:
        if not query.types or query.type_strict != "any":
            return None
        return frozenset().union(*(self.catalogue.subtypes(t) for t in query.types))

    def _identified(self, text: str) -> str | None:
        """The entity `text` identifies: our identifier or IRI, or a linked Wikidata or GeoNames
        entity (IRI, page URL, ``wd:Q423`` or a bare Q-id)."""
        if _IRI_FORBIDDEN.search(text) or len(text) > MAX_IDENTIFIER_CHARS:
            return None
        for iri in (text, self.identifiers.entity_space + text):
            if iri in self.catalogue.entities:
                return iri
        linked = (self.catalogue.by_external_iri.get(iri) for iri in external_iris(text))
        return next(filter(None, linked), None)

    def _by_values(self, query: ReconciliationQuery) -> list[str]:
        """Entities with one of the IRI or literal values a property-only query gives."""
        found: set[str] = set()
        for constraint in query.properties:
            terms = [t for v in constraint.values for t in self._value_terms(v)]
            if not terms:
                continue
            pattern = everywhere(
                f"VALUES ?o {{ {' '.join(terms)} }} ?s <{constraint.property}> ?o",
                union_default_graph=self.store.union_default_graph,
            )
            rows = self.store.query(f"SELECT DISTINCT ?s WHERE {{ {pattern} }} LIMIT {MAX_LIMIT}")
            found.update(row["s"].value for row in rows)
        return sorted(iri for iri in found if iri in self.catalogue.entities)

    def _value_terms(self, value: PropertyValue) -> list[str]:
        """SPARQL terms that a property value may be stored as."""
        if isinstance(value, EntityReference):
            return [f"<{iri}>" for iri in value.iris]
        if isinstance(value, bool) or not isinstance(value, str):
            return []
        iris = [self._identified(value.strip()), *external_iris(value)]
        return [str(ox.Literal(value)), *(f"<{iri}>" for iri in dict.fromkeys(iris) if iri)]

    def _candidate(
        self,
        entity: Entity,
        name: str,
        name_score: float | None,
        query: ReconciliationQuery,
        values: Mapping[tuple[str, str], list[object]],
    ) -> Candidate:
        type_match = self._type_match(entity, query) if query.types else None
        agreements = tuple(
            (c.property, self._agreement(c, values.get((entity.iri, c.property), [])))
            for c in query.properties
        )
        points = [PROPERTY_POINTS[agreement] for _, agreement in agreements]
        if name_score is None:
            total = sum(points) / len(points)
        else:
            total = (NAME_WEIGHT * name_score + sum(points)) / (NAME_WEIGHT + len(points))
        if type_match is False:
            total = max(0.0, total - TYPE_MISMATCH_PENALTY)
        return Candidate(entity, name, name_score, type_match, agreements, round(total, 2))

    def _type_match(self, entity: Entity, query: ReconciliationQuery) -> bool:
        has = [not self.catalogue.subtypes(t).isdisjoint(entity.types) for t in query.types]
        return all(has) if query.type_strict == "all" else any(has)

    def _values(
        self, iris: list[str], properties: list[str]
    ) -> dict[tuple[str, str], list[object]]:
        """(entity, property) -> the entity's values, for property constraints and extension."""
        if not iris or not properties:
            return {}
        pattern = everywhere(
            f"VALUES ?s {{ {' '.join(f'<{i}>' for i in iris)} }} "
            f"VALUES ?p {{ {' '.join(f'<{p}>' for p in properties)} }} ?s ?p ?o",
            union_default_graph=self.store.union_default_graph,
        )
        found: dict[tuple[str, str], list[object]] = defaultdict(list)
        for row in self.store.query(f"SELECT DISTINCT ?s ?p ?o WHERE {{ {pattern} }}"):
            cell = found[(row["s"].value, row["p"].value)]
            if len(cell) < MAX_VALUES_PER_CELL:
                cell.append(row["o"])
        return found

    def _agreement(self, constraint: PropertyConstraint, values: list[object]) -> bool | None:
        if not values:
            return None
        return any(
            self._agrees(expected, actual) for expected in constraint.values for actual in values
        )

    def _agrees(self, expected: PropertyValue, actual: object) -> bool:
        if isinstance(expected, EntityReference):
            return _is_iri(actual) and actual.value in expected.iris
        if isinstance(expected, bool):
            return isinstance(actual, ox.Literal) and actual.value == str(expected).lower()
        if isinstance(expected, int | float):
            return isinstance(actual, ox.Literal) and _number(actual.value) == expected
        if _is_iri(actual):
            return self._iri_agrees(expected.strip(), actual.value)
        return isinstance(actual, ox.Literal) and normalize(actual.value) == normalize(expected)

    def _iri_agrees(self, expected: str, iri: str) -> bool:
        if expected == iri or iri in external_iris(expected) or self._identified(expected) == iri:
            return True
        entity = self.catalogue.entities.get(iri)
        return entity is not None and any(
            normalize(name) == normalize(expected) for name in entity.names.values()
        )

    def _match(self, query: ReconciliationQuery, candidates: list[Candidate]) -> Candidate | None:
        """The candidate that is confidently the one meant, if any (see the module docstring)."""
        if not candidates:
            return None
        best = candidates[0]
        if best.type_match is False or any(a is False for _, a in best.agreements):
            return None
        if query.text is None:
            agreeing = [c for c in candidates if all(a is True for _, a in c.agreements)]
            return best if agreeing == [best] else None
        rivals = [c for c in candidates[1:] if c.name_matches_exactly and c.type_match is not False]
        return best if best.name_matches_exactly and not rivals else None

    def _candidate_json(
        self, candidate: Candidate, query: ReconciliationQuery, matched: bool
    ) -> dict[str, Any]:
        entity = candidate.entity
        answer: dict[str, Any] = {
            "id": self.identifiers.entity_id(entity.iri),
            "name": candidate.name,
            "score": candidate.score,
            "match": matched,
            "type": [_type_json(self.catalogue.type_term(t)) for t in entity.types],
            "features": _features(candidate),
        }
        description = entity.description()
        if description:
            answer["description"] = description
        return answer

    # suggest

    def suggest_entities(self, prefix: str, cursor: int = 0) -> dict[str, Any]:
        """Entities whose labels start with (or have words starting with) `prefix`."""
        hits = [
            hit
            for hit in self._search(prefix, None)
            if hit.iri in self.catalogue.entities and hit.score >= MIN_NAME_SCORE
        ]
        page = hits[cursor : cursor + SUGGEST_PAGE]
        return {"result": [self._suggested_entity(hit.iri, hit.label) for hit in page]}

    def _suggested_entity(self, iri: str, name: str) -> dict[str, Any]:
        entity = self.catalogue.entities[iri]
        answer: dict[str, Any] = {
            "id": self.identifiers.entity_id(iri),
            "name": name,
            "notable": [_type_json(self.catalogue.type_term(t)) for t in entity.types],
        }
        description = entity.description()
        if description:
            answer["description"] = description
        return answer

    def suggest_types(self, prefix: str, cursor: int = 0) -> dict[str, Any]:
        found = _suggested_terms(self.catalogue.types.values(), prefix)
        return {"result": [_type_json(term) for term in found[cursor : cursor + SUGGEST_PAGE]]}

    def suggest_properties(self, prefix: str, cursor: int = 0) -> dict[str, Any]:
        found = _suggested_terms(self.catalogue.properties.values(), prefix)
        page = found[cursor : cursor + SUGGEST_PAGE]
        return {"result": [{"id": term.iri, "name": term.name} for term in page]}

    # preview

    def preview(self, identifier: str) -> EntityPreview:
        """:raises NotFound: no entity has this identifier. :raises BadRequest: not an IRI."""
        iri = self.identifiers.entity_iri(identifier)
        entity = self.catalogue.entities.get(iri)
        if entity is None:
            raise NotFound(f"no entity has the identifier {identifier[:100]!r}")
        return EntityPreview(
            id=self.identifiers.entity_id(iri),
            iri=iri,
            names=entity.names,
            descriptions=entity.descriptions,
            types=tuple(self.catalogue.type_term(t) for t in entity.types),
            same_as=entity.same_as,
        )

    # data extension

    def propose_properties(self, type_identifier: str, limit: int | None) -> dict[str, Any]:
        """The properties entities of the type (or its subtypes) have, most used first."""
        type_iri = self.identifiers.term_iri(type_identifier)
        uses: dict[str, int] = defaultdict(int)
        for subtype in self.catalogue.subtypes(type_iri):
            for property_iri, count in self.catalogue.properties_by_type.get(subtype, {}).items():
                uses[property_iri] += count
        ranked = sorted(uses, key=lambda iri: (-uses[iri], iri))[: limit or None]
        answer: dict[str, Any] = {
            "type": type_identifier,
            "properties": [
                {"id": iri, "name": self.catalogue.property_term(iri).name} for iri in ranked
            ],
        }
        if limit is not None:
            answer["limit"] = limit
        return answer

    def extend(self, query: ExtensionQuery) -> dict[str, Any]:
        """The data extension response: for each id, each property's values."""
        iris = {identifier: self.identifiers.entity_iri(identifier) for identifier in query.ids}
        values = self._values(sorted(set(iris.values())), list(query.properties))
        return {
            "meta": [
                {"id": iri, "name": self.catalogue.property_term(iri).name}
                for iri in query.properties
            ],
            "rows": {
                identifier: {
                    prop: self._cells(values.get((iri, prop), [])) for prop in query.properties
                }
                for identifier, iri in iris.items()
            },
        }

    def _cells(self, terms: list[object]) -> list[dict[str, Any]]:
        cells = [self._cell(term) for term in terms]
        return sorted(cells, key=lambda cell: json.dumps(cell, sort_keys=True))

    def _cell(self, term: object) -> dict[str, Any]:
        if _is_iri(term):
            entity = self.catalogue.entities.get(term.value)
            if entity is None:
                return {"str": term.value}
            return {"id": self.identifiers.entity_id(term.value), "name": entity.name()}
        if isinstance(term, ox.Literal):
            return literal_cell(term)
        return {}


def literal_cell(literal: ox.Literal) -> dict[str, Any]:
    """A literal as a data extension value: int, float, date or str.

    >>> literal_cell(ox.Literal("2019-01-19", datatype=ox.NamedNode(XSD_DATE)))
    {'date': '2019-01-19T00:00:00'}
    """
    datatype = literal.datatype.value
    number = _number(literal.value)
    if datatype in INTEGER_DATATYPES and isinstance(number, int):
        return {"int": number}
    if datatype in FLOAT_DATATYPES and number is not None and math.isfinite(number):
        return {"float": float(number)}
    if datatype == XSD_DATETIME and _DATE_TIME.fullmatch(literal.value):
        return {"date": literal.value}
    if datatype == XSD_DATE and _DATE.fullmatch(literal.value):
        return {"date": literal.value + "T00:00:00"}
    return {"str": literal.value}


def external_iris(text: str) -> tuple[str, ...]:
    """The IRIs of other knowledge bases `text` may name (``Q423``, ``wd:Q423``, a Wikidata or
    GeoNames page or entity IRI); none when it names nothing of the kind."""
    text = text.strip()
    try:
        return same_as_candidates("wd:" + text if _WIKIDATA_ITEM.fullmatch(text) else text)
    except BadRequest:
        return ()


def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def _is_iri(term: object) -> bool:
    return isinstance(term, ox.NamedNode)


def _string(text: str) -> str:
    return str(ox.Literal(text))


def _type_json(term: Term) -> dict[str, str]:
    return {"id": term.iri, "name": term.name}


def _features(candidate: Candidate) -> list[dict[str, Any]]:
    features: list[dict[str, Any]] = []
    if candidate.name_score is not None:
        features.append({"id": "name", "value": candidate.name_score})
    if candidate.type_match is not None:
        features.append({"id": "type_match", "value": candidate.type_match})
    features += [
        {"id": f"property:{iri}", "value": agreement}
        for iri, agreement in candidate.agreements
        if agreement is not None
    ]
    return features


def _suggested_terms(terms: Iterable[Term], prefix: str) -> list[Term]:
    """Terms whose name or IRI matches `prefix`, best first."""
    scored = []
    for term in terms:
        value = max(score(prefix, term.name), score(prefix, local_name(term.iri)))
        if prefix.strip() == term.iri:
            value = 100.0
        if value >= MIN_NAME_SCORE:
            scored.append((-value, -term.uses, term.name, term))
    return [term for *_, term in sorted(scored, key=lambda item: item[:3])]


class ReconcilerCache:
    """The reconciler of the current publication version, built on first use (once per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: str | None = None
        self._reconciler: Reconciler | None = None

    def reconciler_for(
        self, version: str, store: Store, base: str, index: LabelIndex | None = None
    ) -> Reconciler:
        """The reconciler of `store` at `version` (`index`: that version's label index)."""
        with self._lock:
            if self._reconciler is None or self._version != version:
                self._reconciler = Reconciler.from_store(store, base, index)
                self._version = version
            return self._reconciler
