"""pyshacl on a pyoxigraph store, in this process or shared out over worker processes.

The data graph is a pyoxigraph store (SHACL-SPARQL then runs on Oxigraph: standards-exact and
fast), wrapped for pyshacl by `LiteralSafeDataGraph`; its default graph is the union of its
graphs.

A SHACL validation report is the union of the results of validating each focus node of each
shape against the data graph (SHACL 1.0, section 3.4), and one focus node's results do not depend
on which other focus nodes are validated. So `validate_store` can share the focus nodes out: each
worker process validates, against the whole store, the focus nodes whose key hashes to its
share, and the union of the workers' results is the report one process gives, for any shapes;
no rule has to be restated as a cross-graph check. The workers are forked once the store is
built and read it copy-on-write; each runs as an `IsolatedCall` that dies with the validating
process and keeps the limits that process runs under. pyshacl's own ``focus_nodes`` option keeps
IRIs only (evidence anchors are blank nodes), so each worker narrows
``pyshacl.shape.Shape.focus_nodes`` to its share, in its own process.
"""

import contextlib
import gc
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyoxigraph as ox
import pyshacl
import rdflib
from pyparsing.exceptions import ParseBaseException
from pyshacl.errors import ReportableRuntimeError
from pyshacl.graph_abstraction import OxigraphDataGraph
from pyshacl.shape import Shape
from rdflib.namespace import RDF, SH

from communique.errors import DataError
from communique.isolation import ChildLimits, IsolatedCall

PARALLEL_MINIMUM_QUADS = 2_000
"""Below this many quads one process validates: a worker's start costs more than it saves."""
WORKER_LIMITS = ChildLimits(timeout=None, memory_limit=None)
"""Workers keep the limits of the process that forks them (see `isolation`)."""

Triple = tuple[rdflib.term.Node, rdflib.term.Node, rdflib.term.Node]


class LiteralSafeDataGraph(OxigraphDataGraph):
    """pyshacl's data graph over a pyoxigraph store, with two fixes for pyshacl 0.40.1.

    A literal has no properties: pyshacl passes literal value nodes (``cq:evidence "text"``) to
    pyoxigraph as subjects, which raises TypeError. And pyshacl evaluates ``datagraph or sg``
    per result, which counts every triple of the store each time.
    Validation runs ``inplace`` so that pyshacl does not replace this graph by a plain clone.
    """

    def objects(self, subject, predicate, unique=False):
        if not isinstance(subject, rdflib.Literal):
            yield from super().objects(subject, predicate, unique)

    def predicate_objects(self, subject, unique=False):
        if not isinstance(subject, rdflib.Literal):
            yield from super().predicate_objects(subject, unique)

    def __bool__(self) -> bool:
        return True


def worker_count(store: ox.Store, shapes: rdflib.Graph) -> int:
    """One worker per core this process may use; one for a small store, and one when the shapes
    have SHACL rules (a rule adds data for every focus node of its shape, in each worker)."""
    if len(store) < PARALLEL_MINIMUM_QUADS or (None, SH.rule, None) in shapes:
        return 1
    return len(os.sched_getaffinity(0))


def validate_store(store: ox.Store, shapes: rdflib.Graph, workers: int) -> rdflib.Graph:
    """pyshacl's results graph for the data in `store` against `shapes`, from `workers`
    processes (1: this one).

    :raises DataError: shapes pyshacl cannot use, or a worker that died or ran out of memory.
    """
    if workers == 1:
        return run_pyshacl(store, shapes)
    return merged_results(shared_out(store, shapes, workers))


def run_pyshacl(store: ox.Store, shapes: rdflib.Graph) -> rdflib.Graph:
    """pyshacl (SHACL-SPARQL on, warnings allowed) on `store`, in this process."""
    try:
        _, results, _ = pyshacl.validate(
            LiteralSafeDataGraph(store),
            shacl_graph=shapes,
            inference="none",
            advanced=True,
            allow_warnings=True,
            inplace=True,
        )
    except ReportableRuntimeError as error:
        raise DataError(f"the shapes cannot be used: {error}") from None
    except (SyntaxError, ParseBaseException) as error:
        raise DataError(f"a SHACL-SPARQL query in the shapes does not parse: {error}") from None
    except re.error as error:
        raise DataError(
            f"a sh:pattern in the shapes is not a valid regular expression: {error}"
        ) from None
    if isinstance(results, Exception):
        raise DataError(f"validation failed: {results}")
    return results


@dataclass(frozen=True)
class FocusShare:
    """The focus nodes worker `index` of `count` validates: those whose key hashes to `index`."""

    index: int
    count: int

    def holds(self, node: rdflib.term.Node) -> bool:
        key = node.n3().encode("utf-8", "surrogatepass")
        return zlib.crc32(key) % self.count == self.index


def shared_out(store: ox.Store, shapes: rdflib.Graph, workers: int) -> list[list[Triple]]:
    """Each worker's results graph, as triples; the workers run at the same time."""
    gc.freeze()  # the workers' collections then leave this process's objects, and pages, shared
    try:
        with contextlib.ExitStack() as running:
            calls = [
                running.enter_context(
                    IsolatedCall(
                        validate_share,
                        store,
                        shapes,
                        FocusShare(index, workers),
                        limits=WORKER_LIMITS,
                        description=f"SHACL validation (worker {index + 1} of {workers})",
                    )
                )
                for index in range(workers)
            ]
            return [call.result() for call in calls]
    finally:
        gc.unfreeze()


def validate_share(store: ox.Store, shapes: rdflib.Graph, share: FocusShare) -> list[Triple]:
    """In a worker: the results graph for the focus nodes of `share`, as triples."""
    with focus_nodes_kept(share):
        return list(run_pyshacl(store, shapes))


@contextlib.contextmanager
def focus_nodes_kept(share: FocusShare) -> Iterator[None]:
    """Within the block, every shape's targets are narrowed to the focus nodes of `share`."""
    all_focus_nodes = Shape.focus_nodes

    def focus_nodes_of_share(shape: Shape, data_graph, debug: bool = False) -> set:
        return {node for node in all_focus_nodes(shape, data_graph, debug) if share.holds(node)}

    Shape.focus_nodes = focus_nodes_of_share
    try:
        yield
    finally:
        Shape.focus_nodes = all_focus_nodes


def merged_results(parts: Iterable[list[Triple]]) -> rdflib.Graph:
    """One results graph from the workers': all their results under one sh:ValidationReport,
    which conforms when each of theirs does."""
    merged = rdflib.Graph()
    report = rdflib.BNode()
    conforms = True
    for triples in parts:
        part = rdflib.Graph()
        for triple in triples:
            part.add(triple)
        [part_report] = part.subjects(RDF.type, SH.ValidationReport)
        conforms = conforms and part.value(part_report, SH.conforms).toPython()
        for subject, predicate, value in part:
            if subject != part_report:
                merged.add((subject, predicate, value))
            elif predicate == SH.result:
                merged.add((report, predicate, value))
    merged.add((report, RDF.type, SH.ValidationReport))
    merged.add((report, SH.conforms, rdflib.Literal(conforms)))
    return merged
