"""Read RDF files into quads: exact syntax errors, hostile-input checks, rebasing, source texts.

pyoxigraph parses: it reports file, line and column, and is standards-exact.
"""

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyoxigraph as ox
import rdflib

from communique.errors import DataError
from communique.layout import GraphFile, Layout, Source
from communique.namespaces import DEFAULT_BASE, SCHEMA, rebase

QUAD_FORMATS = (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG)
XML_PROLOGUE_BYTES = 4096
SCHEMA_TEXT = ox.NamedNode(str(SCHEMA.text))


def rdf_format_for(path: Path) -> ox.RdfFormat:
    """The RDF format of a file, from its suffix (``.ttl``, ``.nt``, ``.nq``, ``.trig``, ...)."""
    suffix = path.suffix.lstrip(".").lower()
    fmt = ox.RdfFormat.from_extension(
        {"owl": "rdf", "xml": "rdf", "json": "jsonld"}.get(suffix, suffix)
    )
    if fmt is None or fmt == ox.RdfFormat.N3:
        raise DataError(
            f"{path}: unknown RDF file type {path.suffix!r} "
            "(use .ttl, .trig, .nt, .nq, .rdf or .jsonld)"
        )
    return fmt


def refuse_xml_entities(path: Path, head: bytes) -> None:
    """Refuse RDF/XML declaring a DOCTYPE or entities: entity expansion is a denial of service."""
    if b"<!DOCTYPE" in head.upper() or b"<!ENTITY" in head.upper():
        raise DataError(
            f"{path}: RDF/XML with a DOCTYPE or entity declarations is not accepted "
            "(entity expansion can exhaust memory); expand the entities before publishing"
        )


def read_quads(path: Path, graph: str | None = None) -> Iterator[ox.Quad]:
    """Parse one RDF file. Triples go into `graph` (the default graph when None); quad formats
    keep their named graphs. Raises DataError naming the file, line and column."""
    fmt = rdf_format_for(path)
    try:
        if fmt == ox.RdfFormat.RDF_XML:
            with path.open("rb") as stream:
                refuse_xml_entities(path, stream.read(XML_PROLOGUE_BYTES))
        target = ox.NamedNode(graph) if graph else ox.DefaultGraph()
        for quad in ox.parse(path=path, format=fmt, rename_blank_nodes=True):
            if fmt in QUAD_FORMATS and quad.graph_name != ox.DefaultGraph():
                yield quad
            else:
                yield ox.Quad(quad.subject, quad.predicate, quad.object, target)
    except SyntaxError as error:
        raise DataError(syntax_error_message(path, error)) from None
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: cannot read: {error}") from None


def syntax_error_message(path: Path, error: SyntaxError) -> str:
    where = f"{path}:{error.lineno}:{error.offset}" if error.lineno else str(path)
    return f"{where}: syntax error: {error.msg}"


def rebase_quad(quad: ox.Quad, base: str) -> ox.Quad:
    """The same quad with data-namespace IRIs moved from the canonical base to `base`."""
    return ox.Quad(*(rebase_term(term, base) for term in quad))


def rebase_term(term, base: str):
    if isinstance(term, ox.NamedNode):
        moved = rebase(term.value, base)
        return term if moved == term.value else ox.NamedNode(moved)
    return term


def source_text_quad(source: Source, base: str) -> ox.Quad:
    """The triple publishing a source's text on its document, in the source's graph."""
    return ox.Quad(
        ox.NamedNode(rebase(source.document, base)),
        SCHEMA_TEXT,
        ox.Literal(source.read_text()),
        ox.NamedNode(rebase(source.graph, base)),
    )


def bundled_quads(
    layout: Layout, files: Iterable[GraphFile], base: str = DEFAULT_BASE
) -> list[ox.Quad]:
    """The quads of `files` (from `layout`), rebased, plus the text of every source among them."""
    quads = [quad for file in files for quad in read_quads(file.path, file.graph)]
    graphs = {file.graph for file in files}
    quads += [source_text_quad(s, DEFAULT_BASE) for s in layout.sources() if s.graph in graphs]
    if base != DEFAULT_BASE:
        quads = [rebase_quad(quad, base) for quad in quads]
    return quads


def content_version(paths: Iterable[Path], *extra: str) -> str:
    """A short hash of the files' names and bytes (plus `extra` strings): the dataset version."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode() + b"\0")
        try:
            with path.open("rb") as stream:
                for chunk in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(chunk)
        except OSError as error:
            raise DataError(f"{path}: cannot read: {error.strerror}") from None
    for item in extra:
        digest.update(item.encode() + b"\0")
    return digest.hexdigest()[:16]


def rdflib_term(term) -> rdflib.term.Node:
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    if term.language:
        return rdflib.Literal(term.value, lang=term.language)
    return rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value))
