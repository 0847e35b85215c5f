"""``communique push``: publish the validated dataset into a triplestore that already runs.

Each named graph of the publication replaces the graph of the same name in the target, and only
those graphs are touched; triples outside named graphs are refused (the target's default graph
is its owner's). Two ways in:

* SPARQL 1.1 Graph Store HTTP Protocol (``--graph-store``): one ``PUT <store>?graph=<g>`` per
  graph with the whole graph as N-Triples. A store that applies a request in one transaction
  (Oxigraph, Fuseki, GraphDB, RDF4J, Virtuoso) replaces each graph atomically.
* SPARQL 1.1 Update (otherwise): a graph of at most `batch_triples` triples is replaced by one
  request, ``DROP SILENT GRAPH <g> ; INSERT DATA { GRAPH <g> { … } }``, atomic on stores that
  run an update request in one transaction. A larger graph is loaded in batches into a staging
  graph (``<g>`` plus ``#communique-push-<id>``), then moved over ``<g>`` by one
  ``MOVE SILENT GRAPH <staging> TO GRAPH <g>``, so readers see the old graph or the new one,
  never half of it. Batches never split the triples that share a blank node (INSERT DATA
  scopes blank node labels to its request).

Afterwards the triples of every pushed graph are counted at the query endpoint
(``SELECT (COUNT(*) …) { GRAPH <g> { ?s ?p ?o } }``); any difference is a `PushMismatch`.
"""

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pyoxigraph as ox

from communique.errors import DataError, UpstreamError
from communique.remote_sparql import RemoteSparql
from communique.store import EmbeddedStore

NTRIPLES = "application/n-triples"
DEFAULT_BATCH_TRIPLES = 10_000
STAGING_FRAGMENT = "#communique-push-"


class PushMismatch(UpstreamError):
    """The target holds other counts than were sent; the message lists them."""


@dataclass(frozen=True)
class PushTarget:
    query_endpoint: str
    """Where pushed graphs are counted."""
    graph_store: str | None = None
    """A Graph Store Protocol endpoint; when None, updates go to `update_endpoint`."""
    update_endpoint: str | None = None
    """Defaults to `query_endpoint` (many stores take both at one URL)."""
    batch_triples: int = DEFAULT_BATCH_TRIPLES

    @property
    def method(self) -> str:
        return "graph store PUT" if self.graph_store else "SPARQL Update"


@dataclass(frozen=True)
class GraphPush:
    graph: str
    sent: int
    found: int | None = None

    @property
    def matches(self) -> bool:
        return self.found == self.sent


def push(
    store: EmbeddedStore,
    target: PushTarget,
    client: RemoteSparql,
    progress: Callable[[str], None] | None = None,
) -> list[GraphPush]:
    """Replace each named graph of `store` in the target, then count them there.

    :raises DataError: `store` has triples outside named graphs.
    :raises UpstreamError: a request failed.
    :raises PushMismatch: a graph's count at the target differs from what was sent.
    """
    refuse_default_graph(store)
    pushed = []
    for graph in store.named_graphs():
        triples = graph_triples(store, graph)
        if progress:
            progress(f"graph <{graph}>: sending {len(triples)} triples by {target.method}")
        replace_graph(graph, triples, target, client)
        pushed.append(GraphPush(graph, len(triples)))
    counted = [GraphPush(p.graph, p.sent, count_triples(p.graph, target, client)) for p in pushed]
    wrong = [p for p in counted if not p.matches]
    if wrong:
        raise PushMismatch(
            "the target does not hold what was sent: "
            + "; ".join(f"<{p.graph}> {p.sent} sent, {p.found} found" for p in wrong),
        )
    return counted


def refuse_default_graph(store: EmbeddedStore) -> None:
    outside = sum(1 for _ in store.oxigraph.quads_for_pattern(None, None, None, ox.DefaultGraph()))
    if outside:
        raise DataError(
            f"{outside} triples are outside named graphs; push publishes named graphs only "
            "(it never replaces the target's default graph): put them in a graph (TriG, N-Quads)"
        )


def graph_triples(store: EmbeddedStore, graph: str) -> list[ox.Triple]:
    quads = store.oxigraph.quads_for_pattern(None, None, None, ox.NamedNode(graph))
    return sorted({quad.triple for quad in quads}, key=str)


def replace_graph(
    graph: str, triples: list[ox.Triple], target: PushTarget, client: RemoteSparql
) -> None:
    if target.graph_store:
        body = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
        client.put(graph_store_url(target.graph_store, graph), body, NTRIPLES)
        return
    endpoint = target.update_endpoint or target.query_endpoint
    if len(triples) <= target.batch_triples:
        client.update(endpoint, f"DROP SILENT GRAPH <{graph}> ;\n{insert_data(graph, triples)}")
        return
    staging = f"{graph}{STAGING_FRAGMENT}{uuid.uuid4().hex}"
    client.update(endpoint, f"DROP SILENT GRAPH <{staging}>")
    for batch in batches(triples, target.batch_triples):
        client.update(endpoint, insert_data(staging, batch))
    client.update(endpoint, f"MOVE SILENT GRAPH <{staging}> TO GRAPH <{graph}>")


def graph_store_url(graph_store: str, graph: str) -> str:
    """The URL naming `graph` at a Graph Store Protocol endpoint (indirect identification).

    >>> graph_store_url("http://127.0.0.1:7878/store", "https://ex.org/g#1")
    'http://127.0.0.1:7878/store?graph=https%3A%2F%2Fex.org%2Fg%231'
    """
    separator = "&" if "?" in graph_store else "?"
    return f"{graph_store}{separator}graph={quote(graph, safe='')}"


def insert_data(graph: str, triples: Iterable[ox.Triple]) -> str:
    """``INSERT DATA`` of `triples` into `graph` (N-Triples terms are SPARQL terms)."""
    body = "\n".join(f"{t.subject} {t.predicate} {t.object} ." for t in triples)
    return f"INSERT DATA {{ GRAPH <{graph}> {{\n{body}\n}} }}"


def batches(triples: list[ox.Triple], size: int) -> Iterator[list[ox.Triple]]:
    """Batches of about `size` triples; the triples linked by blank nodes stay together (a group
    larger than `size` is a batch of its own)."""
    batch: list[ox.Triple] = []
    for group in blank_node_groups(triples):
        if batch and len(batch) + len(group) > size:
            yield batch
            batch = []
        batch.extend(group)
    if batch:
        yield batch


def blank_node_groups(triples: list[ox.Triple]) -> list[list[ox.Triple]]:
    """`triples` grouped so that all triples mentioning one blank node share a group."""
    parent: dict[ox.BlankNode, ox.BlankNode] = {}

    def root(node: ox.BlankNode) -> ox.BlankNode:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for triple in triples:
        nodes = [t for t in (triple.subject, triple.object) if isinstance(t, ox.BlankNode)]
        if len(nodes) == 2:
            parent[root(nodes[0])] = root(nodes[1])
    groups: dict[object, list[ox.Triple]] = {}
    for index, triple in enumerate(triples):
        node = next(
            (t for t in (triple.subject, triple.object) if isinstance(t, ox.BlankNode)), None
        )
        groups.setdefault(root(node) if node is not None else index, []).append(triple)
    return list(groups.values())


def count_triples(graph: str, target: PushTarget, client: RemoteSparql) -> int:
    query = f"SELECT (COUNT(*) AS ?triples) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
    rows = list(client.select(target.query_endpoint, query))
    value = rows[0]["triples"] if rows else None
    if not isinstance(value, ox.Literal) or not value.value.isdigit():
        raise UpstreamError(f"{target.query_endpoint} answered a count that is not a number")
    return int(value.value)
