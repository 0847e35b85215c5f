"""What the data says about one resource: the content of its page and of its RDF document.

`describe(store, iri)` reads, through the `Store` interface (so a remote endpoint works too),
with a bounded number of queries, each with a LIMIT:

* the outgoing triples, grouped by predicate, from the union of the graphs, each value with the
  named graphs it is stated in; blank-node values expanded into nested descriptions up to
  `MAX_DEPTH` levels (cycle-safe); all in one query, so blank nodes keep their identity even
  over a remote endpoint;
* the incoming links: a count per predicate and one page of the linking resources (a link
  from a blank node counts for the named resource that owns it, up to `OWNER_HOPS` hops);
* the claims about the resource (``?claim cq:about <iri>``), one page of them, with status,
  polarity, attribution, statement and evidence;
* the labels of every IRI mentioned, in one query with ``VALUES``.

`Description.to_triples()` is the RDF document: the concise bounded description (the
outgoing triples and the blank-node closure), which is what SPARQL ``DESCRIBE`` gives on
Oxigraph and Fuseki. Incoming links and claims are on the page for navigation; they are not
part of the document (they are the documents of the linking resources).
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pyoxigraph as ox

from communique.labels import LABEL_PROPERTIES, LABEL_PROPERTY_RANK
from communique.namespaces import CQ, OWL, POLARITY, PROV, RDF, sparql_prologue
from communique.store import Store

Term = ox.NamedNode | ox.BlankNode | ox.Literal

MAX_DEPTH = 6
"""Blank-node levels expanded below the resource (the bundled data needs 3)."""
OWNER_HOPS = 2
"""Blank nodes walked back from an incoming link to the named resource that owns it."""
MAX_OUTGOING_TRIPLES = 5000
"""Triples read for one description (outgoing and nested); more is reported, not hidden."""
INCOMING_PAGE = 50
CLAIMS_PAGE = 50
MAX_PAGE = 500
MAX_PREDICATES = 500
MAX_LABEL_ROWS = 20000
MAX_DETAIL_ROWS = 20000

RDF_TYPE = str(RDF.type)
RDF_FIRST = str(RDF.first)
RDF_REST = str(RDF.rest)
RDF_NIL_NODE = ox.NamedNode(str(RDF.nil))
SAME_AS = str(OWL.sameAs)
NEGATED = str(POLARITY.negated)
CLAIM_PROPERTIES = {
    "status": str(CQ.epistemicStatus),
    "polarity": str(CQ.polarity),
    "attribution": str(PROV.wasAttributedTo),
    "subject": str(RDF.subject),
    "predicate": str(RDF.predicate),
    "object": str(RDF.object),
    "proposition": str(CQ.proposition),
    "type": RDF_TYPE,
}
"""What a claim summary reads, by the property it is read from."""


# --- the description --------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """One object of a property; a blank node carries its own description (`nested`)."""

    term: Term
    graphs: tuple[str, ...] = ()
    nested: tuple["PropertyValues", ...] | None = None
    """For a blank node: its properties; None when not expanded (a cycle, or a list)."""
    items: tuple["Value", ...] | None = None
    """For the head of an RDF list: its members, in order."""


@dataclass(frozen=True)
class PropertyValues:
    predicate: str
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Page:
    """A window ``[offset, offset + limit)`` over `total` items."""

    offset: int
    limit: int
    total: int

    @property
    def first(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.offset + self.limit, self.total)

    @property
    def has_next(self) -> bool:
        return self.offset + self.limit < self.total

    @property
    def has_previous(self) -> bool:
        return self.offset > 0

    @property
    def next_offset(self) -> int:
        return self.offset + self.limit

    @property
    def previous_offset(self) -> int:
        return max(self.offset - self.limit, 0)


@dataclass(frozen=True)
class IncomingGroup:
    """Resources linking here with one predicate: how many, and those on the current page."""

    predicate: str
    through_blank_node: bool
    """True when the link starts at a blank node that `subjects` own (evidence, intervals)."""
    count: int
    subjects: tuple[str, ...]


@dataclass(frozen=True)
class Evidence:
    """One evidence anchor of a claim: the quote and where it is in which document."""

    source: str | None
    exact: str | None
    start: int | None
    end: int | None


@dataclass(frozen=True)
class ClaimSummary:
    iri: str
    types: tuple[str, ...] = ()
    status: str | None = None
    polarity: str | None = None
    attribution: tuple[str, ...] = ()
    statement: tuple[Term, ...] = ()
    """``(rdf:subject, rdf:predicate, rdf:object)`` when the claim states one triple."""
    proposition: str | None = None
    evidence: tuple[Evidence, ...] = ()

    @property
    def negated(self) -> bool:
        return self.polarity == NEGATED


@dataclass(frozen=True)
class Description:
    iri: str
    properties: tuple[PropertyValues, ...]
    incoming: tuple[IncomingGroup, ...]
    incoming_page: Page
    claims: tuple[ClaimSummary, ...]
    claims_page: Page
    closure: tuple[ox.Triple, ...] = ()
    """The triples of the blank nodes below the resource (its concise bounded description
    beyond the outgoing triples)."""
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    """IRI -> language tag ('' for none) -> label (the preferred label property first)."""
    own_claim: ClaimSummary | None = None
    """The resource's own claim summary, when it is a claim."""
    outgoing_truncated: bool = False
    """True when the resource has more than `MAX_OUTGOING_TRIPLES` outgoing triples."""
    depth_exceeded: bool = False
    """True when blank nodes nest deeper than `MAX_DEPTH` (the deepest are not expanded)."""
    is_graph: bool = False
    """True when the IRI names a graph of the dataset."""
    predicate_uses: int = 0
    """Triples with the IRI as their predicate."""

    @property
    def exists(self) -> bool:
        return bool(
            self.properties or self.incoming or self.claims or self.is_graph or self.predicate_uses
        )

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(v.term.value for v in self.values_of(RDF_TYPE) if _is_iri(v.term))

    @property
    def same_as(self) -> tuple[str, ...]:
        return tuple(v.term.value for v in self.values_of(SAME_AS) if _is_iri(v.term))

    def values_of(self, predicate: str) -> tuple[Value, ...]:
        for group in self.properties:
            if group.predicate == predicate:
                return group.values
        return ()

    def literal(self, predicate: str) -> str | None:
        """The first literal value of `predicate`, if any."""
        for value in self.values_of(predicate):
            if isinstance(value.term, ox.Literal):
                return value.term.value
        return None

    def to_triples(self) -> list[ox.Triple]:
        """The RDF document: the outgoing triples and the blank-node closure."""
        subject = ox.NamedNode(self.iri)
        outgoing = (
            ox.Triple(subject, ox.NamedNode(group.predicate), value.term)
            for group in self.properties
            for value in group.values
        )
        return list(dict.fromkeys([*outgoing, *self.closure]))


# --- reading it -------------------------------------------------------------------------------


def describe(
    store: Store,
    iri: str,
    *,
    incoming_offset: int = 0,
    incoming_limit: int = INCOMING_PAGE,
    claims_offset: int = 0,
    claims_limit: int = CLAIMS_PAGE,
) -> Description:
    """Everything the page and the document of `iri` show (see the module docstring).

    :raises ValueError: `iri` is not a valid IRI, or a paging argument is out of range.
    :raises UpstreamError: a remote store failed.
    """
    node = ox.NamedNode(iri)
    incoming_limit = _page_size(incoming_limit, incoming_offset)
    claims_limit = _page_size(claims_limit, claims_offset)
    outgoing = read_outgoing(store, node)
    properties = outgoing.properties
    counts = read_incoming_counts(store, node)
    incoming_total = sum(count for _, _, count in counts)
    page = read_incoming_page(store, node, incoming_offset, incoming_limit)
    incoming = _incoming_groups(counts, page)
    claim_iris, claims_total = read_claims_about(store, node, claims_offset, claims_limit)
    own = iri if _has_status(properties) else None
    summaries = read_claims(store, [*claim_iris, *([own] if own else [])])
    labels = read_labels(store, _mentioned(iri, properties, incoming, summaries.values()))
    return Description(
        iri=iri,
        properties=properties,
        incoming=incoming,
        incoming_page=Page(incoming_offset, incoming_limit, incoming_total),
        claims=tuple(summaries[c] for c in claim_iris if c in summaries),
        claims_page=Page(claims_offset, claims_limit, claims_total),
        closure=outgoing.closure,
        labels=labels,
        own_claim=summaries.get(own) if own else None,
        outgoing_truncated=outgoing.truncated,
        depth_exceeded=outgoing.too_deep,
        is_graph=iri in store.named_graphs(),
        predicate_uses=_count(store, f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s {node} ?o }}"),
    )


def resource_exists(store: Store, iri: str) -> bool:
    """True when `iri` is in a triple (subject, predicate or object), or names a graph."""
    node = str(ox.NamedNode(iri))
    answer = store.query(
        f"ASK {{ {{ {node} ?p ?o }} UNION {{ ?s ?p {node} }} UNION {{ ?s {node} ?o }} }}"
    )
    return bool(answer) or iri in store.named_graphs()


def _count(store: Store, query: str) -> int:
    return int(next(iter(store.query(query)))["n"].value)


def _page_size(limit: int, offset: int) -> int:
    if offset < 0 or not 0 < limit <= MAX_PAGE:
        raise ValueError(f"paging out of range: offset {offset}, limit {limit}")
    return limit


# --- outgoing ---------------------------------------------------------------------------------


def outgoing_query(node: ox.NamedNode, depth: int = MAX_DEPTH) -> str:
    """One query for the outgoing triples (with graphs) and the blank-node closure.

    A branch per level: the triples of the blank nodes `level` steps below `node`, where the
    cells of an RDF list (``rdf:rest*``) count as one step, so that a long list is not cut
    off. Blank-node labels are only stable within one answer, hence one query.
    """
    top = (
        f"{{ {node} ?p ?o . OPTIONAL {{ GRAPH ?g {{ {node} ?p ?o }} }} "
        f"BIND({node} AS ?s) BIND(0 AS ?level) }}"
    )
    branches = [top] + [_closure_branch(node, level) for level in range(1, depth + 1)]
    return (
        "SELECT DISTINCT ?s ?p ?o ?g ?level WHERE {\n  "
        + "\n  UNION ".join(branches)
        + f"\n}} LIMIT {MAX_OUTGOING_TRIPLES * 2 + 1}"
    )


def _closure_branch(node: ox.NamedNode, level: int) -> str:
    steps, previous = [], str(node)
    for step in range(1, level + 1):
        steps.append(
            f"{previous} ?q{step} ?m{step} . FILTER(isBlank(?m{step}) && ?q{step} != <{RDF_REST}>) "
            f"?m{step} <{RDF_REST}>* ?b{step} . FILTER(isBlank(?b{step}))"
        )
        previous = f"?b{step}"
    return (
        f"{{ {' '.join(steps)} {previous} ?p ?o . BIND({previous} AS ?s) BIND({level} AS ?level) }}"
    )


@dataclass(frozen=True)
class Outgoing:
    properties: tuple[PropertyValues, ...]
    closure: tuple[ox.Triple, ...]
    truncated: bool
    too_deep: bool


def read_outgoing(store: Store, node: ox.NamedNode) -> Outgoing:
    """The outgoing triples of `node`, grouped and nested, and the blank-node closure."""
    top: dict[tuple[str, Term], set[str]] = {}
    nested: dict[ox.BlankNode, dict[tuple[str, Term], None]] = {}
    beyond: set[ox.BlankNode] = set()
    rows = 0
    for row in store.query(outgoing_query(node)):
        rows += 1
        predicate, value = row["p"].value, row["o"]
        if row["s"] == node:
            graphs = top.setdefault((predicate, value), set())
            if row["g"] is not None:
                graphs.add(row["g"].value)
        elif isinstance(row["s"], ox.BlankNode):
            nested.setdefault(row["s"], {})[(predicate, value)] = None
            if isinstance(value, ox.BlankNode) and int(row["level"].value) == MAX_DEPTH:
                beyond.add(value)
    expander = _Expander(nested)
    properties = _group(
        (predicate, expander.value(term, tuple(sorted(graphs)), frozenset()))
        for (predicate, term), graphs in top.items()
    )
    closure = tuple(
        ox.Triple(subject, ox.NamedNode(predicate), value)
        for subject, pairs in nested.items()
        for predicate, value in pairs
    )
    return Outgoing(
        properties, closure, rows > MAX_OUTGOING_TRIPLES * 2, bool(beyond - nested.keys())
    )


class _Expander:
    """Turns the flat blank-node triples into nested descriptions (RDF lists into item
    sequences), cycle-safe."""

    def __init__(self, nested: dict[ox.BlankNode, dict[tuple[str, Term], None]]):
        self.nested = nested

    def value(self, term: Term, graphs: tuple[str, ...], above: frozenset) -> Value:
        if not isinstance(term, ox.BlankNode) or term in above:
            return Value(term, graphs)
        items = self.list_items(term, above)
        if items is not None:
            return Value(term, graphs, items=items)
        inside = above | {term}
        properties = _group(
            (predicate, self.value(value, (), inside))
            for predicate, value in self.nested.get(term, {})
        )
        return Value(term, graphs, properties)

    def list_items(self, head: ox.BlankNode, above: frozenset) -> tuple[Value, ...] | None:
        """The members of a well-formed RDF list starting at `head`; None for anything else."""
        items, cell, seen = [], head, set()
        while cell != RDF_NIL_NODE:
            pairs = self.nested.get(cell, {}) if isinstance(cell, ox.BlankNode) else {}
            firsts = [v for p, v in pairs if p == RDF_FIRST]
            rests = [v for p, v in pairs if p == RDF_REST]
            if cell in seen or len(pairs) != 2 or len(firsts) != 1 or len(rests) != 1:
                return None
            seen.add(cell)
            items.append(self.value(firsts[0], (), above | seen))
            cell = rests[0]
        return tuple(items)


def _group(pairs: Iterable[tuple[str, Value]]) -> tuple[PropertyValues, ...]:
    grouped: dict[str, list[Value]] = {}
    for predicate, value in pairs:
        grouped.setdefault(predicate, []).append(value)
    ordered = sorted(grouped, key=lambda p: (p != RDF_TYPE, LABEL_PROPERTY_RANK.get(p, 99), p))
    return tuple(
        PropertyValues(p, tuple(sorted(grouped[p], key=lambda v: term_order(v.term))))
        for p in ordered
    )


def term_order(term: Term) -> tuple:
    """IRIs, then blank nodes, then literals (by language, then text)."""
    if isinstance(term, ox.NamedNode):
        return (0, term.value)
    if isinstance(term, ox.BlankNode):
        return (1, "")
    return (2, term.language or "", term.value)


def _is_iri(term: Term) -> bool:
    return isinstance(term, ox.NamedNode)


def _has_status(properties: tuple[PropertyValues, ...]) -> bool:
    return any(group.predicate == CLAIM_PROPERTIES["status"] for group in properties)


# --- incoming ---------------------------------------------------------------------------------


def incoming_pattern(node: ox.NamedNode) -> str:
    """Binds ?p, ?subject (named) and ?hops: direct links, and links from owned blank nodes."""
    branches = [f"{{ ?subject ?p {node} . FILTER(!isBlank(?subject)) BIND(0 AS ?hops) }}"]
    for hops in range(1, OWNER_HOPS + 1):
        chain = " ".join(
            f"?{_hop(step)} ?r{step} ?b{step} . FILTER(isBlank(?b{step}))"
            for step in range(1, hops + 1)
        )
        branches.append(
            f"{{ {chain} ?b{hops} ?p {node} . FILTER(!isBlank(?subject)) BIND({hops} AS ?hops) }}"
        )
    return " UNION ".join(branches)


def _hop(step: int) -> str:
    return "subject" if step == 1 else f"b{step - 1}"


def _links(node: ox.NamedNode) -> str:
    """A subquery binding each distinct incoming link as ?p, ?subject and ?through."""
    return (
        "{ SELECT DISTINCT ?p ?subject ((?hops > 0) AS ?through) "
        f"WHERE {{ {incoming_pattern(node)} }} }}"
    )


def read_incoming_counts(store: Store, node: ox.NamedNode) -> list[tuple[str, bool, int]]:
    """``(predicate, through a blank node, distinct subjects)``, most frequent first."""
    query = (
        f"SELECT ?p ?through (COUNT(DISTINCT ?subject) AS ?n) WHERE {{ {_links(node)} }} "
        f"GROUP BY ?p ?through ORDER BY DESC(?n) ?p LIMIT {MAX_PREDICATES}"
    )
    return [
        (row["p"].value, _boolean(row["through"]), int(row["n"].value))
        for row in store.query(query)
    ]


def read_incoming_page(
    store: Store, node: ox.NamedNode, offset: int, limit: int
) -> list[tuple[str, bool, str]]:
    """One page of ``(predicate, through a blank node, subject)``, in a stable order."""
    query = (
        f"SELECT DISTINCT ?p ?through ?subject WHERE {{ {_links(node)} }} "
        f"ORDER BY ?p ?through ?subject LIMIT {limit} OFFSET {offset}"
    )
    return [
        (row["p"].value, _boolean(row["through"]), row["subject"].value)
        for row in store.query(query)
    ]


def _boolean(term: Term) -> bool:
    return isinstance(term, ox.Literal) and term.value in ("true", "1")


def _incoming_groups(
    counts: list[tuple[str, bool, int]], page: list[tuple[str, bool, str]]
) -> tuple[IncomingGroup, ...]:
    on_page: dict[tuple[str, bool], list[str]] = {}
    for predicate, through, subject in page:
        on_page.setdefault((predicate, through), []).append(subject)
    return tuple(
        IncomingGroup(predicate, through, count, tuple(on_page.get((predicate, through), ())))
        for predicate, through, count in counts
    )


# --- claims -----------------------------------------------------------------------------------


def read_claims_about(
    store: Store, node: ox.NamedNode, offset: int, limit: int
) -> tuple[list[str], int]:
    """One page of the claims about `node` (by IRI) and how many there are."""
    about = f"?claim <{CQ.about}> {node} . FILTER(isIRI(?claim))"
    count = _count(store, f"SELECT (COUNT(DISTINCT ?claim) AS ?n) WHERE {{ {about} }}")
    if count == 0:
        return [], 0
    rows = store.query(
        f"SELECT DISTINCT ?claim WHERE {{ {about} }} ORDER BY ?claim LIMIT {limit} OFFSET {offset}"
    )
    return [row["claim"].value for row in rows], count


def read_claims(store: Store, iris: list[str]) -> dict[str, ClaimSummary]:
    """Summaries of the claims `iris`, in two queries (their properties, their evidence)."""
    if not iris:
        return {}
    values = " ".join(str(ox.NamedNode(iri)) for iri in dict.fromkeys(iris))
    read = {iri: {} for iri in iris}
    properties = " ".join(f"<{p}>" for p in CLAIM_PROPERTIES.values())
    for row in store.query(
        f"SELECT ?claim ?p ?o WHERE {{ VALUES ?claim {{ {values} }} VALUES ?p {{ {properties} }} "
        f"?claim ?p ?o }} LIMIT {MAX_DETAIL_ROWS}"
    ):
        read[row["claim"].value].setdefault(row["p"].value, []).append(row["o"])
    evidence = read_evidence(store, values)
    return {iri: _summary(iri, found, evidence.get(iri, [])) for iri, found in read.items()}


EVIDENCE_QUERY = sparql_prologue(("cq", "oa")) + (
    "SELECT ?claim ?evidence ?source ?exact ?start ?end WHERE {{ VALUES ?claim {{ {values} }} "
    "?claim cq:evidence ?evidence . OPTIONAL {{ ?evidence oa:hasSource ?source }} "
    "OPTIONAL {{ ?evidence oa:hasSelector ?quote . ?quote oa:exact ?exact }} "
    "OPTIONAL {{ ?evidence oa:hasSelector ?position . ?position oa:start ?start ; oa:end ?end }} "
    "}} LIMIT {limit}"
)


def read_evidence(store: Store, values: str) -> dict[str, list[Evidence]]:
    """Claim IRI -> its evidence anchors, ordered by position."""
    anchors: dict[str, dict[Term, Evidence]] = {}
    for row in store.query(EVIDENCE_QUERY.format(values=values, limit=MAX_DETAIL_ROWS)):
        found = anchors.setdefault(row["claim"].value, {})
        if row["evidence"] not in found:
            found[row["evidence"]] = Evidence(
                _iri_value(row["source"]),
                row["exact"].value if isinstance(row["exact"], ox.Literal) else None,
                _integer(row["start"]),
                _integer(row["end"]),
            )
    return {
        claim: sorted(found.values(), key=lambda e: (e.start is None, e.start or 0, e.end or 0))
        for claim, found in anchors.items()
    }


def _summary(iri: str, found: dict[str, list[Term]], evidence: list[Evidence]) -> ClaimSummary:
    def iris(key: str) -> tuple[str, ...]:
        return tuple(sorted(t.value for t in found.get(CLAIM_PROPERTIES[key], []) if _is_iri(t)))

    def first(key: str) -> Term | None:
        terms = sorted(found.get(CLAIM_PROPERTIES[key], []), key=term_order)
        return terms[0] if terms else None

    statement = tuple(first(key) for key in ("subject", "predicate", "object"))
    proposition = first("proposition")
    return ClaimSummary(
        iri=iri,
        types=iris("type"),
        status=(iris("status") or (None,))[0],
        polarity=(iris("polarity") or (None,))[0],
        attribution=iris("attribution"),
        statement=statement if None not in statement else (),
        proposition=proposition.value if isinstance(proposition, ox.Literal) else None,
        evidence=tuple(evidence),
    )


def _iri_value(term: Term | None) -> str | None:
    return term.value if isinstance(term, ox.NamedNode) else None


def _integer(term: Term | None) -> int | None:
    if not isinstance(term, ox.Literal):
        return None
    try:
        return int(term.value)
    except ValueError:
        return None


# --- labels -----------------------------------------------------------------------------------


def read_labels(store: Store, iris: Iterable[str]) -> dict[str, dict[str, str]]:
    """IRI -> language -> label, by `LABEL_PROPERTIES` order; one query for all of them."""
    wanted = sorted(set(iris))
    if not wanted:
        return {}
    values = " ".join(str(ox.NamedNode(iri)) for iri in wanted)
    properties = " ".join(f"<{p}>" for p in LABEL_PROPERTIES)
    query = (
        f"SELECT ?x ?property ?label WHERE {{ VALUES ?x {{ {values} }} "
        f"VALUES ?property {{ {properties} }} ?x ?property ?label . FILTER(isLiteral(?label)) }} "
        f"LIMIT {MAX_LABEL_ROWS}"
    )
    ranked: dict[str, dict[str, tuple[int, str]]] = {}
    for row in store.query(query):
        rank = LABEL_PROPERTY_RANK[row["property"].value]
        language = row["label"].language or ""
        by_language = ranked.setdefault(row["x"].value, {})
        candidate = (rank, row["label"].value)
        if language not in by_language or candidate < by_language[language]:
            by_language[language] = candidate
    return {
        iri: {language: text for language, (_, text) in by_language.items()}
        for iri, by_language in ranked.items()
    }


def _mentioned(
    iri: str,
    properties: tuple[PropertyValues, ...],
    incoming: tuple[IncomingGroup, ...],
    claims: Iterable[ClaimSummary],
) -> Iterator[str]:
    yield iri
    yield from _iris_in(properties)
    for group in incoming:
        yield group.predicate
        yield from group.subjects
    for claim in claims:
        yield claim.iri
        yield from claim.types
        yield from (t for t in (claim.status, claim.polarity) if t)
        yield from claim.attribution
        yield from (t.value for t in claim.statement if _is_iri(t))
        yield from (e.source for e in claim.evidence if e.source)


def _iris_in(properties: tuple[PropertyValues, ...]) -> Iterator[str]:
    for group in properties:
        yield group.predicate
        for value in group.values:
            if _is_iri(value.term):
                yield value.term.value
            if value.nested:
                yield from _iris_in(value.nested)
            if value.items:
                yield from _iris_in((PropertyValues(RDF_FIRST, value.items),))


SUGGESTION_PROPERTIES = (*LABEL_PROPERTIES, "http://www.w3.org/2004/02/skos/core#altLabel")
MAX_SUGGESTIONS = 10
MAX_CANDIDATES = 500


def similar_resources(store: Store, words: Iterable[str]) -> dict[str, dict[str, str]]:
    """Resources with a label containing some of `words` (case-insensitive): IRI -> labels by
    language, at most `MAX_SUGGESTIONS`, those matching more words and with shorter labels
    first."""
    lowered = [word.lower() for word in words]
    tests = [f"CONTAINS(LCASE(STR(?text)), {ox.Literal(word)})" for word in lowered]
    if not tests:
        return {}
    properties = " ".join(f"<{p}>" for p in SUGGESTION_PROPERTIES)
    query = (
        f"SELECT DISTINCT ?x ?text WHERE {{ VALUES ?property {{ {properties} }} "
        f"?x ?property ?text . FILTER(isIRI(?x) && isLiteral(?text) && ({' || '.join(tests)})) }} "
        f"LIMIT {MAX_CANDIDATES}"
    )
    best: dict[str, tuple[int, int, str]] = {}
    for row in store.query(query):
        text = row["text"].value.lower()
        rank = (-sum(word in text for word in lowered), len(text), row["x"].value)
        best[row["x"].value] = min(rank, best.get(row["x"].value, rank))
    found = sorted(best, key=best.__getitem__)[:MAX_SUGGESTIONS]
    labels = read_labels(store, found)
    return {iri: labels.get(iri, {}) for iri in found}


@dataclass(frozen=True)
class Anchor:
    """A claim's evidence span in a document: ``text[start:end]``, and the quote it should be."""

    claim: str
    start: int
    end: int
    exact: str | None


MAX_ANCHORS = 100_000
ANCHORS_QUERY = sparql_prologue(("cq", "oa")) + (
    "SELECT DISTINCT ?claim ?start ?end ?exact WHERE {{ "
    "?claim cq:evidence ?evidence . ?evidence oa:hasSource {document} ; oa:hasSelector ?position . "
    "?position oa:start ?start ; oa:end ?end . FILTER(isIRI(?claim)) "
    "OPTIONAL {{ ?evidence oa:hasSelector ?quote . ?quote oa:exact ?exact }} "
    "}} LIMIT {limit}"
)


def read_anchors(store: Store, document: str) -> list[Anchor]:
    """Every evidence span of a claim in `document` whose offsets are integers, in order."""
    query = ANCHORS_QUERY.format(document=ox.NamedNode(document), limit=MAX_ANCHORS)
    anchors = set()
    for row in store.query(query):
        start, end = _integer(row["start"]), _integer(row["end"])
        exact = row["exact"].value if isinstance(row["exact"], ox.Literal) else None
        if start is not None and end is not None:
            anchors.add(Anchor(row["claim"].value, start, end, exact))
    return sorted(anchors, key=lambda a: (a.start, a.end, a.claim))
