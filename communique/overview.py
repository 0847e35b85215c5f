"""The dataset at a glance, read through the `Store` interface: what the home page and the
class listings show. Every query is bounded (LIMIT) and counts are exact."""

import datetime as dt
from dataclasses import dataclass

import pyoxigraph as ox

from communique.describe import MAX_PAGE, Page
from communique.namespaces import LIFECYCLE, sparql_prologue
from communique.store import Store

MAX_CLASSES = 500
MAX_EVENTS = 500
MAX_SOURCES = 200
PLANNED_LIFECYCLES = frozenset(str(LIFECYCLE[name]) for name in ("planned", "agreed", "announced"))
"""Lifecycle stages of events that have not happened (yet): drawn as their uncertain window."""

COUNTS_QUERY = (
    sparql_prologue(("cq", "rdfs", "schema"))
    + """
SELECT
  (COUNT(DISTINCT ?entity) AS ?entities) (COUNT(DISTINCT ?claim) AS ?claims)
  (COUNT(DISTINCT ?source) AS ?sources)
WHERE {
  { ?entity a ?type . FILTER(isIRI(?entity) && STRSTARTS(STR(?entity), %s))
    FILTER NOT EXISTS { ?entity cq:epistemicStatus ?s } }
  UNION { ?claim cq:epistemicStatus ?status }
  UNION { ?source schema:text ?text . FILTER NOT EXISTS { ?source cq:epistemicStatus ?t } }
}
"""
)
CLASS_COUNTS_QUERY = """
SELECT ?class (COUNT(DISTINCT ?instance) AS ?n) WHERE {
  ?instance a ?class . FILTER(isIRI(?class) && isIRI(?instance))
}
GROUP BY ?class ORDER BY DESC(?n) ?class LIMIT %d
"""
INSTANCES_WHERE = (
    "?instance a/<http://www.w3.org/2000/01/rdf-schema#subClassOf>* {cls} . "
    "FILTER(isIRI(?instance))"
)
STATUS_COUNTS_QUERY = (
    sparql_prologue(("cq",))
    + """
SELECT ?status (COUNT(DISTINCT ?claim) AS ?n) WHERE { ?claim cq:epistemicStatus ?status }
GROUP BY ?status ORDER BY DESC(?n) ?status LIMIT 200
"""
)
SOURCES_QUERY = (
    sparql_prologue(("cq", "schema"))
    + "SELECT DISTINCT ?source WHERE { ?source schema:text ?text . FILTER(isIRI(?source)) "
    + "FILTER NOT EXISTS { ?source cq:epistemicStatus ?status } } "
    + f"ORDER BY ?source LIMIT {MAX_SOURCES}"
)
EVENTS_QUERY = (
    sparql_prologue(("cq", "rdfs", "sem", "time"))
    + f"""
SELECT ?event ?lifecycle ?instant ?begin ?end WHERE {{
  ?event a/rdfs:subClassOf* sem:Event ; time:hasTime ?time . FILTER(isIRI(?event))
  OPTIONAL {{ ?event cq:lifecycle ?lifecycle }}
  OPTIONAL {{ ?time time:inXSDDate|time:inXSDDateTime ?instant }}
  OPTIONAL {{ ?time time:hasBeginning/(time:inXSDDate|time:inXSDDateTime) ?begin }}
  OPTIONAL {{ ?time time:hasEnd/(time:inXSDDate|time:inXSDDateTime) ?end }}
}} LIMIT {MAX_EVENTS * 4}
"""
)


@dataclass(frozen=True)
class DatasetCounts:
    triples: int
    entities: int
    """Typed named resources other than claims."""
    claims: int
    sources: int


@dataclass(frozen=True)
class TimelineEvent:
    """An event with a known time: a day (`end` is None) or a window."""

    iri: str
    start: dt.date
    end: dt.date | None
    planned: bool


def dataset_counts(store: Store, triples: int, entity_namespace: str) -> DatasetCounts:
    """Counts for the home page; entities are the typed IRIs under `entity_namespace`."""
    namespace = ox.Literal(entity_namespace)
    row = next(iter(store.query(COUNTS_QUERY % namespace)))
    return DatasetCounts(
        triples, int(row["entities"].value), int(row["claims"].value), int(row["sources"].value)
    )


def class_counts(store: Store, limit: int = MAX_CLASSES) -> list[tuple[str, int]]:
    """``(class IRI, named instances)``, most first (direct ``rdf:type`` only, blank nodes
    such as selectors not counted)."""
    rows = store.query(CLASS_COUNTS_QUERY % limit)
    return [(row["class"].value, int(row["n"].value)) for row in rows]


def status_counts(store: Store) -> list[tuple[str, int]]:
    """``(epistemic status, claims)``, most claims first."""
    rows = store.query(STATUS_COUNTS_QUERY)
    return [(row["status"].value, int(row["n"].value)) for row in rows if _is_iri(row["status"])]


def instances(store: Store, class_iri: str, offset: int, limit: int) -> tuple[list[str], Page]:
    """One page of the instances of `class_iri` (its subclasses' included), by IRI.

    :raises ValueError: `class_iri` is not an IRI, or the paging is out of range.
    """
    if offset < 0 or not 0 < limit <= MAX_PAGE:
        raise ValueError(f"paging out of range: offset {offset}, limit {limit}")
    where = INSTANCES_WHERE.format(cls=ox.NamedNode(class_iri))
    count = store.query(f"SELECT (COUNT(DISTINCT ?instance) AS ?n) WHERE {{ {where} }}")
    total = int(next(iter(count))["n"].value)
    rows = store.query(
        f"SELECT DISTINCT ?instance WHERE {{ {where} }} "
        f"ORDER BY ?instance LIMIT {limit} OFFSET {offset}"
    )
    return [row["instance"].value for row in rows], Page(offset, limit, total)


def sources(store: Store) -> list[str]:
    """Documents with a text (``schema:text``), claims (quotations) aside."""
    return [row["source"].value for row in store.query(SOURCES_QUERY)]


def timeline_events(store: Store) -> list[TimelineEvent]:
    """Events with a day or a window of days, in time order (one entry per event)."""
    found: dict[str, TimelineEvent] = {}
    for row in store.query(EVENTS_QUERY):
        event = _timeline_event(row)
        if event is not None and event.iri not in found:
            found[event.iri] = event
    return sorted(found.values(), key=lambda e: (e.start, e.end or e.start, e.iri))[:MAX_EVENTS]


def _timeline_event(row: ox.QuerySolution) -> TimelineEvent | None:
    planned = _is_iri(row["lifecycle"]) and row["lifecycle"].value in PLANNED_LIFECYCLES
    instant = _date(row["instant"])
    if instant is not None:
        return TimelineEvent(row["event"].value, instant, None, planned)
    begin, end = _date(row["begin"]), _date(row["end"])
    if begin is None and end is None:
        return None
    start, finish = begin or end, end or begin
    if finish < start:
        start, finish = finish, start
    return TimelineEvent(row["event"].value, start, finish if finish != start else None, planned)


def _date(term: ox.Literal | None) -> dt.date | None:
    if not isinstance(term, ox.Literal):
        return None
    try:
        return dt.date.fromisoformat(term.value[:10])
    except ValueError:
        return None


def _is_iri(term: object) -> bool:
    return isinstance(term, ox.NamedNode)
