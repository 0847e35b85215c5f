"""Reading the W3C SPARQL 1.1 test manifests copied into ``tests/w3c/sparql11``.

Every manifest is read with the suite's published location as its base, so each test file has
one IRI wherever the checkout lives: ``tests/w3c/sparql11/bind/data.ttl`` is
``https://w3c.github.io/rdf-tests/sparql/sparql11/bind/data.ttl`` (`published_iri`,
`local_path`). The query-suite server loads every data file into a named graph called by that
IRI (`dataset_nquads`), so a query's relative IRIs, resolved against its own published IRI,
name the graphs the test means.
"""

from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
from rdflib import RDF, Graph, Namespace, URIRef
from rdflib.collection import Collection

SUITES = Path(__file__).parent / "w3c" / "sparql11"
PUBLISHED_BASE = "https://w3c.github.io/rdf-tests/sparql/sparql11/"
"""Where the W3C publishes the suites; the stand-in for ``SUITES`` in every IRI."""

MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
QT = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-query#")

QUERY_SUITES = (
    "aggregates",
    "bind",
    "bindings",
    "cast",
    "construct",
    "exists",
    "functions",
    "grouping",
    "negation",
    "project-expression",
    "property-path",
    "subquery",
    "syntax-query",
)
"""The query evaluation and query syntax suites, each a folder with a ``manifest.ttl``."""


@dataclass(frozen=True)
class ManifestEntry:
    """One test of a manifest; data files are given by their published IRIs."""

    suite: str
    name: str
    kind: str
    """The local name of the test's type: QueryEvaluationTest, PositiveSyntaxTest11, ..."""
    query: Path
    data: tuple[str, ...] = ()
    graph_data: tuple[str, ...] = ()
    result: Path | None = None

    @property
    def query_iri(self) -> str:
        return published_iri(self.query)

    @property
    def data_paths(self) -> tuple[Path, ...]:
        return tuple(map(local_path, self.data))


def published_iri(path: Path) -> str:
    return PUBLISHED_BASE + path.relative_to(SUITES).as_posix()


def local_path(iri: str) -> Path:
    if not iri.startswith(PUBLISHED_BASE):
        raise ValueError(f"<{iri}> is not a file of the W3C SPARQL 1.1 suites")
    return SUITES / iri.removeprefix(PUBLISHED_BASE)


def read_manifest(suite: str) -> list[ManifestEntry]:
    """The entries of ``tests/w3c/sparql11/<suite>/manifest.ttl``, in manifest order."""
    manifest = Graph().parse(SUITES / suite / "manifest.ttl", publicID=PUBLISHED_BASE + suite + "/")
    (root,) = manifest.subjects(RDF.type, MF.Manifest)
    entries = Collection(manifest, manifest.value(root, MF.entries))
    return [_read_entry(manifest, suite, entry) for entry in entries]


def _read_entry(manifest: Graph, suite: str, entry: URIRef) -> ManifestEntry:
    action = manifest.value(entry, MF.action)
    result = manifest.value(entry, MF.result)
    if isinstance(action, URIRef):
        return ManifestEntry(suite, _name(entry), _kind(manifest, entry), local_path(action))
    return ManifestEntry(
        suite,
        _name(entry),
        _kind(manifest, entry),
        local_path(str(manifest.value(action, QT.query))),
        tuple(sorted(map(str, manifest.objects(action, QT.data)))),
        tuple(sorted(map(str, manifest.objects(action, QT.graphData)))),
        local_path(str(result)) if result is not None else None,
    )


def _name(entry: URIRef) -> str:
    return str(entry).rsplit("#", 1)[1]


def _kind(manifest: Graph, entry: URIRef) -> str:
    return str(manifest.value(entry, RDF.type)).rsplit("#", 1)[1]


def data_files(entries: list[ManifestEntry]) -> list[str]:
    """The published IRIs of every data file the entries use, sorted, each once."""
    return sorted({iri for entry in entries for iri in (*entry.data, *entry.graph_data)})


def read_rdf_file(path: Path) -> list[ox.Triple]:
    """The triples of an RDF test file (format by suffix), relative IRIs resolved against it."""
    rdf_format = ox.RdfFormat.from_extension(path.suffix.removeprefix("."))
    quads = ox.parse(path=path, format=rdf_format, base_iri=published_iri(path))
    return [quad.triple for quad in quads]


def dataset_nquads(entries: list[ManifestEntry]) -> bytes:
    """Every data file of `entries` as N-Quads, each in a named graph called by its IRI.

    Each file is parsed on its own, so blank nodes are never shared between files.
    """
    quads = [
        ox.Quad(triple.subject, triple.predicate, triple.object, ox.NamedNode(iri))
        for iri in data_files(entries)
        for triple in read_rdf_file(local_path(iri))
    ]
    return ox.serialize(quads, format=ox.RdfFormat.N_QUADS) or b""
