"""Statistics of a dataset: triples per named graph, instances per class, claims per status.

Counted exactly with SPARQL on an in-memory pyoxigraph store holding the dataset's quads.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from communique.dataset import bundled_quads, read_quads
from communique.namespaces import DEFAULT_BASE, sparql_prologue
from communique.validation import language_rank, local_name, open_layout, prefixed_name

DEFAULT_GRAPH = ""
"""How the default graph is named among the graphs (it has no IRI)."""

TRIPLES_PER_NAMED_GRAPH = (
    "SELECT ?graph (COUNT(*) AS ?n) WHERE { GRAPH ?graph { ?s ?p ?o } } GROUP BY ?graph"
)
TRIPLES_IN_DEFAULT_GRAPH = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
INSTANCES_PER_CLASS = """
SELECT ?class (COUNT(DISTINCT ?instance) AS ?n) WHERE { ?instance a ?class } GROUP BY ?class
"""
CLAIMS = (
    sparql_prologue(("cq", "rdfs"))
    + """
SELECT (COUNT(DISTINCT ?claim) AS ?n) WHERE { ?claim a/rdfs:subClassOf* cq:Claim }
"""
)
CLAIMS_PER_STATUS = (
    sparql_prologue(("cq",))
    + """
SELECT ?status (COUNT(DISTINCT ?claim) AS ?n) WHERE { ?claim cq:epistemicStatus ?status }
GROUP BY ?status
"""
)
STATUS_LABELS = (
    sparql_prologue(("cq", "skos", "rdfs"))
    + """
SELECT DISTINCT ?status ?property ?label WHERE {
  ?claim cq:epistemicStatus ?status .
  VALUES ?property { skos:prefLabel rdfs:label }
  ?status ?property ?label .
}
"""
)
NON_IRI_STARTS = ('"', "_:", "<<")
"""How terms other than IRIs begin in N-Triples form."""
LABEL_PROPERTY_RANK = {
    "http://www.w3.org/2004/02/skos/core#prefLabel": 0,
    "http://www.w3.org/2000/01/rdf-schema#label": 1,
}


@dataclass(frozen=True)
class Count:
    term: str
    """The counted thing, a graph (`DEFAULT_GRAPH` for the default graph), class or status: its
    IRI, or another term (a literal or blank node in the data) in N-Triples form."""
    count: int
    label: str = ""


@dataclass(frozen=True)
class DatasetStats:
    graphs: tuple[Count, ...]
    """Triples per graph, by graph IRI."""
    classes: tuple[Count, ...]
    """Distinct instances per class (``rdf:type`` in any graph), most frequent first."""
    claims: int
    """Instances of ``cq:Claim`` or its subclasses (as the ontology in the data declares them)."""
    statuses: tuple[Count, ...]
    """Claims per epistemic status, most frequent first, labelled by the status concept."""

    @property
    def triples(self) -> int:
        return sum(count.count for count in self.graphs)

    def to_text(self) -> str:
        lines = [f"Triples per graph ({self.triples} in all)"]
        lines += [count_line(c.count, graph_name(c.term)) for c in self.graphs]
        lines += ["", f"Instances per class ({len(self.classes)} classes)"]
        lines += [count_line(c.count, term_name(c.term)) for c in self.classes]
        lines += ["", f"Claims per epistemic status ({self.claims} claims)"]
        lines += [count_line(c.count, status_name(c)) for c in self.statuses]
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        document = {
            "triples": self.triples,
            "graphs": [{"graph": c.term or None, "triples": c.count} for c in self.graphs],
            "classes": [{"class": c.term, "instances": c.count} for c in self.classes],
            "claims": self.claims,
            "statuses": [
                {"status": c.term, "label": c.label, "claims": c.count} for c in self.statuses
            ],
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def count_line(count: int, name: str) -> str:
    return f"{count:>8}  {name}"


def graph_name(term: str) -> str:
    return term_name(term) if term else "(default graph)"


def status_name(count: Count) -> str:
    name = term_name(count.term)
    return name if count.label == count.term else f"{count.label}  {name}"


def term_name(term: str) -> str:
    """A prefixed name for an IRI; other terms as they are."""
    return term if term.startswith(NON_IRI_STARTS) else prefixed_name(term)


def measure_stats(quads: Iterable[ox.Quad]) -> DatasetStats:
    store = ox.Store()
    store.extend(quads)
    return DatasetStats(
        graphs=graph_counts(store),
        classes=by_count(counts(store, INSTANCES_PER_CLASS, "class")),
        claims=single_count(store, CLAIMS),
        statuses=by_count(status_counts(store)),
    )


def layout_stats(root: Path, *, base: str = DEFAULT_BASE) -> DatasetStats:
    """Statistics of a project folder's data (its layout's data files and source texts).

    :raises DataError: not a project folder, an unreadable data file or a missing source text.
    """
    layout = open_layout(root)
    return measure_stats(bundled_quads(layout, layout.data_files(), base))


def file_stats(paths: Sequence[Path]) -> DatasetStats:
    """Statistics of RDF files (triples in the default graph, quad formats keep their graphs).

    :raises DataError: an unreadable file.
    """
    return measure_stats(quad for path in paths for quad in read_quads(path))


def graph_counts(store: ox.Store) -> tuple[Count, ...]:
    named = sorted(counts(store, TRIPLES_PER_NAMED_GRAPH, "graph"), key=lambda c: c.term)
    default = single_count(store, TRIPLES_IN_DEFAULT_GRAPH, union=False)
    return (Count(DEFAULT_GRAPH, default), *named) if default else tuple(named)


def counts(store: ox.Store, query: str, variable: str) -> list[Count]:
    rows = store.query(query, use_default_graph_as_union=True)
    return [Count(term_key(row[variable]), int(row["n"].value)) for row in rows]


def term_key(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> str:
    """An IRI as itself; any other term (a literal or blank node used as a class or status)
    in N-Triples form."""
    if isinstance(term, ox.Triple):
        return f"<<( {term} )>>"
    return term.value if isinstance(term, ox.NamedNode) else str(term)


def single_count(store: ox.Store, query: str, *, union: bool = True) -> int:
    rows = store.query(query, use_default_graph_as_union=union)
    return int(next(iter(rows))["n"].value)


def status_counts(store: ox.Store) -> list[Count]:
    labels = status_labels(store)
    return [
        Count(c.term, c.count, labels.get(c.term) or fallback_label(c.term))
        for c in counts(store, CLAIMS_PER_STATUS, "status")
    ]


def status_labels(store: ox.Store) -> dict[str, str]:
    """Status IRI → its best label: skos:prefLabel before rdfs:label, English first."""
    best: dict[str, tuple[tuple[int, int], str]] = {}
    for row in store.query(STATUS_LABELS, use_default_graph_as_union=True):
        label = row["label"]
        language = getattr(label, "language", None)
        rank = (LABEL_PROPERTY_RANK[row["property"].value], language_rank(language))
        status = term_key(row["status"])
        if status not in best or rank < best[status][0]:
            best[status] = (rank, label.value)
    return {status: label for status, (_, label) in best.items()}


def fallback_label(term: str) -> str:
    return term if term.startswith(NON_IRI_STARTS) else local_name(term)


def by_count(items: Iterable[Count]) -> tuple[Count, ...]:
    return tuple(sorted(items, key=lambda c: (-c.count, c.label or c.term, c.term)))
