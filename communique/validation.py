"""The validation gate: SHACL (pyshacl) over the data, and a report a person can act on.

The data graph is the union of the data graphs (ontology, background, sources, enrichment) in a
pyoxigraph store, so SHACL-SPARQL constraints run on Oxigraph (standards-exact: ``xsd:gYear``
compares, named graphs answer ``GRAPH ?g``) and fast; the shapes are a separate graph. The
ontology is part of that union rather than pyshacl's ``ont_graph``, which pyshacl copies into
every named graph and takes only RDFS and OWL axioms from, so the ontology's concepts (the
epistemic statuses) would not count for ``sh:class``. Each finding names its shape, focus node
(with label, and for a blank node the resource that owns it), path, message, value and the file
that describes the focus node.

Data files are read once, in batches, into the store and a `NodeIndex` (labels, blank-node
owners, files), so memory holds the store and the index but never a file's quads as Python
objects. From `shacl_engine.PARALLEL_MINIMUM_QUADS` quads on, the focus nodes are shared out over
one worker process per core (see `shacl_engine`); the report is the same as from one process.
"""

import dataclasses
import itertools
import json
import logging
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import rdflib
from rdflib.namespace import DCTERMS, FOAF, RDF, RDFS, SH, SKOS, XSD

from communique.dataset import bundled_quads, rdflib_term, read_quads
from communique.errors import DataError
from communique.layout import GraphFile, Layout
from communique.namespaces import DEFAULT_BASE, ONTOLOGY_GRAPH, PREFIXES, SCHEMA
from communique.rdflib_sparql import use_cached_parsing
from communique.shacl_engine import validate_store, worker_count

use_cached_parsing()


class IllTypedLiteralFilter(logging.Filter):
    """rdflib logs a traceback for each ill-typed literal (``"abc"^^xsd:integer``) it builds;
    such a literal is input to report (``sh:datatype``), not a program error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to convert Literal lexical form")


logging.getLogger("rdflib.term").addFilter(IllTypedLiteralFilter())

SEVERITIES = ("Violation", "Warning", "Info")
LABEL_PREDICATES = (RDFS.label, SKOS.prefLabel, SCHEMA.name, FOAF.name, SH.name, DCTERMS.title)
"""Where a node's display label comes from, best first."""
LABEL_RANK = {str(predicate): rank for rank, predicate in enumerate(LABEL_PREDICATES)}
OWNER_SEARCH_DEPTH = 8
"""How many blank nodes up a report looks for the IRI that owns a blank focus node or shape."""
LONGEST_SHOWN_VALUE = 120
NTRIPLES_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})
RDF_SUFFIXES = {".ttl", ".trig", ".nt", ".nq", ".rdf", ".owl", ".xml", ".jsonld", ".n3"}
LAYOUT_FOLDERS = ("ontology", "graph", "graph/background", "graph/sources", "graph/enrichment")
PATH_SUFFIXES = {SH.zeroOrMorePath: "*", SH.oneOrMorePath: "+", SH.zeroOrOnePath: "?"}
SHACL_QUERY_FORMS = {SH.select: "SELECT", SH.ask: "ASK", SH.construct: "CONSTRUCT"}
"""The query form each SHACL-SPARQL property must hold (pyshacl crashes on the wrong one)."""
STRUCTURE_PREDICATES = (
    RDF.first,
    RDF.rest,
    SH.inversePath,
    SH.alternativePath,
    SH.zeroOrMorePath,
    SH.oneOrMorePath,
    SH.zeroOrOnePath,
)
"""The predicates that build lists and property paths: they must never lead in a circle."""
LOAD_BATCH = 100_000
"""Quads read into the store and the index at a time."""
DISTINCT_TRIPLES = "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o } }"
SPARQL_PROLOGUE = re.compile(
    r"(?:\s+|#[^\n]*|PREFIX\s+[^\s:]*:\s*<[^>]*>|BASE\s*<[^>]*>)*", re.IGNORECASE
)


@dataclass(frozen=True)
class Finding:
    """One SHACL validation result, resolved to names a person recognises."""

    severity: str
    """"Violation", "Warning" or "Info"."""
    shape: str
    """IRI of the source shape; for a blank property shape, of the named shape that holds it."""
    shape_label: str
    constraint: str
    """The constraint component as a prefixed name, e.g. ``sh:MinCountConstraintComponent``."""
    focus: str
    """The focus node's IRI, or ``_:id`` for a blank node (see `owner`)."""
    focus_label: str
    """Best label of the focus node (of its owner for a blank node); "" when it has none."""
    path: str | None
    """The result path as prefixed names (``cq:evidence/oa:hasSelector``)."""
    message: str
    value: str | None
    """The offending value, N-Triples-like (``"text"@en``, ``<iri>``)."""
    source_file: str | None
    """The data file describing the focus node (or its owner), relative to the project root."""
    owner: str | None = None
    """For a blank focus node: the nearest IRI that owns it (e.g. the claim of an evidence)."""
    owner_path: str | None = None
    """For a blank focus node: the properties leading from `owner` to it."""


@dataclass(frozen=True)
class ValidationReport:
    conforms: bool
    findings: tuple[Finding, ...]
    graph_turtle: str
    """pyshacl's results graph, as Turtle."""
    duration: float
    """Seconds spent loading and validating."""
    triple_count: int
    """Distinct triples in the validated data graph (the union of the data graphs)."""

    def count(self, severity: str) -> int:
        return count_of(self.findings, severity)

    def by_shape(self) -> dict[str, list[Finding]]:
        """Findings grouped by shape IRI, in report order."""
        groups: dict[str, list[Finding]] = {}
        for finding in self.findings:
            groups.setdefault(finding.shape, []).append(finding)
        return groups

    def to_text(self) -> str:
        """The report for a person: grouped by shape, one line per finding, a verdict at the end."""
        lines = [
            f"SHACL validation of {self.triple_count} triples in {self.duration:.2f} s: "
            f"{self._counts()}"
        ]
        for group in self.by_shape().values():
            lines += ["", group_heading(group)]
            lines += [finding_line(finding) for finding in group]
        verdict = "yes" if self.conforms else "no"
        lines += ["", f"Conforms: {verdict} ({self._counts()})"]
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        document = {
            "conforms": self.conforms,
            "violations": self.count("Violation"),
            "warnings": self.count("Warning"),
            "infos": self.count("Info"),
            "triples": self.triple_count,
            "duration": round(self.duration, 3),
            "findings": [dataclasses.asdict(finding) for finding in self.findings],
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"

    def to_turtle(self) -> str:
        return self.graph_turtle

    def _counts(self) -> str:
        counts = [
            plural(self.count("Violation"), "violation"),
            plural(self.count("Warning"), "warning"),
        ]
        if infos := self.count("Info"):
            counts.append(f"{infos} info")
        return ", ".join(counts)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def group_heading(group: Sequence[Finding]) -> str:
    first = group[0]
    name = prefixed_name(first.shape)
    title = f"{first.shape_label} ({name})" if first.shape_label != name else name
    severities = [plural(n, s.lower()) for s in SEVERITIES if (n := count_of(group, s))]
    return f"{title}: {', '.join(severities)}"


def count_of(findings: Iterable[Finding], severity: str) -> int:
    return sum(1 for finding in findings if finding.severity == severity)


def finding_line(finding: Finding) -> str:
    """``  <label> <focus>  path  message  [value]  (file)``; parts that are absent are left out."""
    focus = prefixed_name(finding.focus)
    if finding.owner:
        focus = f"{prefixed_name(finding.owner)} › {finding.owner_path}"
    subject = f"{finding.focus_label} {focus}" if finding.focus_label else focus
    parts = [subject, finding.path, finding.message]
    if finding.value is not None:
        parts.append(f"[{shorten(finding.value)}]")
    if finding.source_file:
        parts.append(f"({finding.source_file})")
    marker = "" if finding.severity == "Violation" else f"{finding.severity.lower()}: "
    return "  " + marker + "  ".join(part for part in parts if part)


def shorten(text: str) -> str:
    return text if len(text) <= LONGEST_SHOWN_VALUE else text[: LONGEST_SHOWN_VALUE - 1] + "…"


PREFIXES_LONGEST_FIRST = sorted(PREFIXES.items(), key=lambda item: -len(item[1]))


def prefixed_name(iri: str) -> str:
    """``cq:Claim`` for a known namespace, ``<iri>`` otherwise, blank nodes as given."""
    if iri.startswith("_:"):
        return iri
    for prefix, namespace in PREFIXES_LONGEST_FIRST:
        if iri.startswith(namespace) and len(iri) > len(namespace):
            return f"{prefix}:{iri[len(namespace) :]}"
    return f"<{iri}>"


# Loading


@dataclass(frozen=True)
class LoadedFile:
    """The quads of one input file and the name it is reported under."""

    name: str
    quads: Iterable[ox.Quad]
    """A list, or for a data file that may be large, an iterator read once."""


class NodeIndex:
    """What a report needs to point at the input: labels, blank-node owners, describing files."""

    def __init__(self, files: Iterable[LoadedFile]):
        self.labels: dict[str, tuple[tuple[int, int], str]] = {}
        self.incoming: dict[str, list[tuple[str, str]]] = {}
        self.typed_in: dict[str, str] = {}
        self.described_in: dict[str, str] = {}
        for file in files:
            self.add(file.quads, file.name)

    def add(self, quads: Iterable[ox.Quad], file: str) -> None:
        for quad in quads:
            self._add(quad, file)

    def _add(self, quad: ox.Quad, file: str) -> None:
        subject, predicate = node_key(quad.subject), quad.predicate.value
        self.described_in.setdefault(subject, file)
        if predicate == str(RDF.type):
            self.typed_in.setdefault(subject, file)
        if isinstance(quad.object, ox.BlankNode):
            self.incoming.setdefault(node_key(quad.object), []).append((subject, predicate))
        if predicate in LABEL_RANK and isinstance(quad.object, ox.Literal):
            rank = (LABEL_RANK[predicate], language_rank(quad.object.language))
            if subject not in self.labels or rank < self.labels[subject][0]:
                self.labels[subject] = (rank, quad.object.value)

    def label(self, key: str) -> str:
        return self.labels[key][1] if key in self.labels else ""

    def file(self, key: str) -> str | None:
        return self.typed_in.get(key) or self.described_in.get(key)

    def owner(self, key: str) -> tuple[str, list[str]] | None:
        """The nearest IRI from which a chain of properties leads to blank node `key`."""
        frontier, seen = [(key, [])], {key}
        for _ in range(OWNER_SEARCH_DEPTH):
            next_frontier = []
            for node, chain in frontier:
                for subject, predicate in self.incoming.get(node, ()):
                    if not subject.startswith("_:"):
                        return subject, [predicate, *chain]
                    if subject not in seen:
                        seen.add(subject)
                        next_frontier.append((subject, [predicate, *chain]))
            frontier = next_frontier
        return None


def language_rank(language: str | None) -> int:
    """English labels first, then labels without a language, then the rest."""
    if language and language.lower().split("-")[0] == "en":
        return 0
    return 1 if not language else 2


def node_key(term) -> str:
    """The key of a pyoxigraph or rdflib node: its IRI, ``_:id`` for a blank node, or a literal
    in N-Triples form."""
    if isinstance(term, ox.NamedNode):
        return term.value
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    return str(term) if isinstance(term, rdflib.URIRef) else render_term(term)


def open_layout(root: Path) -> Layout:
    """The layout of the project folder `root`; DataError when it is not one."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such project folder")
    if not (root / "ontology").is_dir() or not (root / "graph").is_dir():
        raise DataError(f"{root}: not a Communiqué project (needs ontology/, graph/, shapes/)")
    return Layout(root)


def check_layout(layout: Layout) -> None:
    """Refuse RDF files the layout would silently skip, and sources whose text or data file is
    missing."""
    problems = [
        f"{path}: not read (the layout reads only *.ttl files in {path.parent.name}/)"
        for path in unread_rdf_files(layout)
    ]
    problems += [
        f"{path}: source text without its data file {path.with_suffix('.ttl').name}"
        for path in layout.orphan_texts()
    ]
    problems += [
        f"{s.data_path}: the source text {s.text_path.name} is missing "
        "(every graph/sources/<slug>.ttl needs its <slug>.txt)"
        for s in layout.sources()
        if not s.text_path.is_file()
    ]
    if problems:
        raise DataError("\n".join(problems))


def unread_rdf_files(layout: Layout) -> list[Path]:
    folders = [layout.root / name for name in LAYOUT_FOLDERS] + [layout.shapes_dir]
    return [
        path
        for folder in folders
        for path in sorted(folder.glob("*"))
        if path.is_file()
        and path.suffix.lower() in RDF_SUFFIXES
        and (path.suffix != ".ttl" or folder == layout.root / "graph")
    ]


def loaded_file(name: str, quads: list[ox.Quad]) -> LoadedFile:
    """The file's quads, refusing RDF 1.2 triple terms: pyshacl cannot validate them."""
    return LoadedFile(name, list(without_triple_terms(name, quads)))


def without_triple_terms(name: str, quads: Iterable[ox.Quad]) -> Iterator[ox.Quad]:
    """`quads`, as they are read; DataError at the first RDF 1.2 triple term."""
    for quad in quads:
        if isinstance(quad.object, ox.Triple):
            raise DataError(
                f"{name}: triple terms (<<( ... )>>) are not supported; model the statement "
                f"as a claim instead (found on {quad.subject} {quad.predicate})"
            )
        yield quad


def load_layout_files(layout: Layout, files: Sequence[GraphFile], base: str) -> list[LoadedFile]:
    return [
        loaded_file(relative_name(file.path, layout.root), bundled_quads(layout, [file], base))
        for file in files
    ]


def relative_name(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def load_files(paths: Sequence[Path]) -> list[LoadedFile]:
    return [loaded_file(str(path), list(read_quads(path))) for path in paths]


def stream_files(paths: Sequence[Path]) -> Iterator[LoadedFile]:
    """The files, each parsed only when its quads are read."""
    for path in paths:
        yield LoadedFile(str(path), without_triple_terms(str(path), read_quads(path)))


def rdflib_graph(files: Iterable[LoadedFile]) -> rdflib.Graph:
    """The triples of `files` in one plain graph (named graphs merged)."""
    graph = rdflib.Graph()
    for file in files:
        for quad in file.quads:
            graph.add(tuple(rdflib_term(term) for term in quad.triple))
    return graph


# Validating


def validate_layout(
    root: Path, *, base: str = DEFAULT_BASE, workers: int | None = None
) -> ValidationReport:
    """Validate a project folder: every data file of its layout against its shapes.

    `workers`: how many processes validate (default: one per core from
    `shacl_engine.PARALLEL_MINIMUM_QUADS` quads on, else one).

    :raises DataError: unreadable or unknown files, a source text without data or the reverse,
        no shapes, or shapes pyshacl cannot use.
    """
    started = time.perf_counter()
    layout = open_layout(root)
    check_layout(layout)
    data = load_layout_files(layout, layout.data_files(), base)
    shapes = load_layout_files(layout, layout.shape_files(), base)
    if not shapes:
        raise DataError(f"{layout.shapes_dir}: no shapes (*.ttl) to validate against")
    return run_validation(data, shapes, started, workers=workers)


def validate_files(
    data: Sequence[Path],
    shapes: Sequence[Path],
    *,
    ontology: Sequence[Path] = (),
    workers: int | None = None,
) -> ValidationReport:
    """Validate RDF files (any format `dataset.read_quads` reads) against SHACL files.

    The `ontology` files, if any, join the data in the ontology graph, as in a project folder.
    The data files are parsed as they are loaded, never held whole; `workers` as in
    `validate_layout`.

    :raises DataError: unreadable files, no data, no shapes, or shapes pyshacl cannot use.
    """
    started = time.perf_counter()
    if not data:
        raise DataError("no data files to validate")
    if not shapes:
        raise DataError("no shapes files to validate against")
    ontology_files = [
        loaded_file(str(path), list(read_quads(path, str(ONTOLOGY_GRAPH)))) for path in ontology
    ]
    data_files = itertools.chain(ontology_files, stream_files(data))
    return run_validation(data_files, load_files(shapes), started, workers=workers)


def run_validation(
    data: Iterable[LoadedFile],
    shapes: list[LoadedFile],
    started: float,
    *,
    workers: int | None = None,
) -> ValidationReport:
    """Run pyshacl on the union of `data` (the ontology among it, so that ``sh:class`` and
    targets follow ``rdfs:subClassOf`` and see the ontology's concepts) with `shapes`, in
    `workers` processes (default: see `shacl_engine.worker_count`)."""
    shapes_graph = rdflib_graph(shapes)
    shapes_index = NodeIndex(shapes)
    check_query_forms(shapes_graph, shapes_index)
    check_structures(shapes_graph, shapes_index)
    store, data_index = load_data(data)
    if workers is None:
        workers = worker_count(store, shapes_graph)
    results = validate_store(store, shapes_graph, workers)
    findings = read_findings(results, data_index, shapes_index)
    bind_prefixes(results)
    return ValidationReport(
        conforms=not any(finding.severity == "Violation" for finding in findings),
        findings=tuple(findings),
        graph_turtle=results.serialize(format="turtle"),
        duration=time.perf_counter() - started,
        triple_count=distinct_triple_count(store),
    )


def load_data(files: Iterable[LoadedFile]) -> tuple[ox.Store, NodeIndex]:
    """The union of `files` in an in-memory pyoxigraph store (named graphs kept), and their
    index; each file's quads are read once, a batch at a time."""
    store, index = ox.Store(), NodeIndex(())
    for file in files:
        quads = iter(file.quads)
        while batch := list(itertools.islice(quads, LOAD_BATCH)):
            index.add(batch, file.name)
            store.bulk_extend(batch)
    return store, index


def distinct_triple_count(store: ox.Store) -> int:
    """Distinct triples in the union of the store's graphs."""
    [solution] = store.query(DISTINCT_TRIPLES, use_default_graph_as_union=True)
    return int(solution["n"].value)


def check_query_forms(shapes_graph: rdflib.Graph, shapes: NodeIndex) -> None:
    """Refuse a ``sh:select`` that is not a SELECT query (and so on), naming its shape."""
    for predicate, form in SHACL_QUERY_FORMS.items():
        for holder, query in shapes_graph.subject_objects(predicate):
            if query_form(str(query)) != form:
                where = shape_name(holder, shapes)
                raise DataError(f"{where}: {prefixed_name(str(predicate))} needs a {form} query")


def check_structures(shapes_graph: rdflib.Graph, shapes: NodeIndex) -> None:
    """Refuse a list or property path that leads back to itself (pyshacl would loop or crash)."""
    edges: dict[rdflib.term.Node, list[rdflib.BNode]] = {}
    for predicate in STRUCTURE_PREDICATES:
        for subject, item in shapes_graph.subject_objects(predicate):
            if isinstance(item, rdflib.BNode):
                edges.setdefault(subject, []).append(item)
    finished: set[rdflib.term.Node] = set()
    for start in edges:
        if start not in finished:
            walk_structure(start, edges, finished, shapes)


def walk_structure(
    start: rdflib.term.Node,
    edges: dict[rdflib.term.Node, list[rdflib.BNode]],
    finished: set[rdflib.term.Node],
    shapes: NodeIndex,
) -> None:
    """Depth-first from `start`, without recursion; a node met again on the way is a cycle."""
    stack, on_path = [(start, iter(edges.get(start, ())))], {start}
    while stack:
        node, following = stack[-1]
        item = next(following, None)
        if item is None:
            stack.pop()
            on_path.discard(node)
            finished.add(node)
        elif item in on_path:
            raise DataError(
                f"{shape_name(node, shapes)}: a list or property path in the shapes leads back "
                "to itself"
            )
        elif item not in finished:
            on_path.add(item)
            stack.append((item, iter(edges.get(item, ()))))


def shape_name(node: rdflib.term.Node, shapes: NodeIndex) -> str:
    """The prefixed name of `node`, or of the named shape holding a blank `node`."""
    owner = shapes.owner(node_key(node)) if isinstance(node, rdflib.BNode) else None
    return prefixed_name(owner[0] if owner else node_key(node))


def query_form(query: str) -> str:
    """The first keyword after the prologue: SELECT, ASK, CONSTRUCT, ..."""
    body = query[SPARQL_PROLOGUE.match(query).end() :]
    keyword = re.match(r"[A-Za-z]+", body)
    return keyword.group().upper() if keyword else ""


def bind_prefixes(graph: rdflib.Graph) -> None:
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace, override=True, replace=True)


# Reading pyshacl's results graph


def read_findings(results: rdflib.Graph, data: NodeIndex, shapes: NodeIndex) -> list[Finding]:
    findings = [
        read_finding(results, result, data, shapes)
        for result in results.subjects(RDF.type, SH.ValidationResult)
    ]
    return sorted(findings, key=finding_order)


def finding_order(finding: Finding) -> tuple:
    return (
        SEVERITIES.index(finding.severity) if finding.severity in SEVERITIES else len(SEVERITIES),
        finding.shape_label.lower(),
        finding.shape,
        finding.source_file or "",
        finding.owner or finding.focus,
        finding.path or "",
        finding.value or "",
    )


def read_finding(
    results: rdflib.Graph, result: rdflib.term.Node, data: NodeIndex, shapes: NodeIndex
) -> Finding:
    focus = node_key(results.value(result, SH.focusNode))
    owner = data.owner(focus) if focus.startswith("_:") else None
    described = owner[0] if owner else focus
    shape, shape_label = named_shape(node_key(results.value(result, SH.sourceShape)), shapes)
    path_node = results.value(result, SH.resultPath)
    value = results.value(result, SH.value)
    return Finding(
        severity=local_name(str(results.value(result, SH.resultSeverity))),
        shape=shape,
        shape_label=shape_label,
        constraint=prefixed_name(str(results.value(result, SH.sourceConstraintComponent))),
        focus=focus,
        focus_label=data.label(described),
        path=render_path(results, path_node) if path_node is not None else None,
        message="; ".join(sorted(str(m) for m in results.objects(result, SH.resultMessage))),
        value=render_term(value) if value is not None else None,
        source_file=data.file(described),
        owner=owner[0] if owner else None,
        owner_path="/".join(prefixed_name(p) for p in owner[1]) if owner else None,
    )


def named_shape(shape: str, shapes: NodeIndex) -> tuple[str, str]:
    """The shape's IRI and label; a blank shape is reported under the named shape holding it."""
    if shape.startswith("_:") and (owner := shapes.owner(shape)):
        shape = owner[0]
    return shape, shapes.label(shape) or prefixed_name(shape)


def local_name(iri: str) -> str:
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def render_term(term: rdflib.term.Node) -> str:
    """N-Triples: ``<iri>``, ``"text"``, ``"text"@en``, ``"5"^^<datatype>``, ``_:id``."""
    if isinstance(term, rdflib.BNode):
        return f"_:{term}"
    if not isinstance(term, rdflib.Literal):
        return f"<{term}>"
    text = '"' + str(term).translate(NTRIPLES_ESCAPES) + '"'
    if term.language:
        return f"{text}@{term.language}"
    if term.datatype and term.datatype != XSD.string:
        return f"{text}^^<{term.datatype}>"
    return text


def render_path(graph: rdflib.Graph, node: rdflib.term.Node) -> str:
    """A SHACL property path in SPARQL-like syntax: ``a/b``, ``^a``, ``a|b``, ``a*``."""
    if isinstance(node, rdflib.URIRef):
        return prefixed_name(str(node))
    if graph.value(node, RDF.first) is not None:
        return "/".join(nested_path(graph, step) for step in graph.items(node))
    if (inverse := graph.value(node, SH.inversePath)) is not None:
        return "^" + nested_path(graph, inverse)
    if (alternatives := graph.value(node, SH.alternativePath)) is not None:
        return "|".join(nested_path(graph, step) for step in graph.items(alternatives))
    for predicate, suffix in PATH_SUFFIXES.items():
        if (inner := graph.value(node, predicate)) is not None:
            return nested_path(graph, inner) + suffix
    return render_term(node)


def nested_path(graph: rdflib.Graph, node: rdflib.term.Node) -> str:
    text = render_path(graph, node)
    return text if isinstance(node, rdflib.URIRef) else f"({text})"
