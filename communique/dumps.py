"""Downloadable dumps of the whole dataset, gzipped, built once per publication version.

Three dumps (`DUMP_FORMATS`): TriG and N-Quads keep the named graphs; Turtle is the union of
every graph (a triple stated in two graphs appears twice in it, which an RDF parser reads as
one). An embedded store writes its datasets with ``pyoxigraph.Store.dump``; a remote store's
quads are read with one SELECT over every named graph.

`DumpCache` keeps the files of the current version in a directory of its own: each file is
written under a temporary name and then linked into place, so processes sharing the directory
never see a partial file and the first complete file wins (later ones are discarded). Files are
gzip streams with no name or time in their header: their bytes depend on the store's content only
(blank node labels included, which differ between two loads of the same data).
"""

import contextlib
import gzip
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyoxigraph as ox

from communique.store import EmbeddedStore, Store

GZIP_LEVEL = 6
HASH_CHUNK_BYTES = 1 << 20
ALL_QUADS_QUERY = "SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } }"


@dataclass(frozen=True)
class DumpFormat:
    """One kind of dump: its file name and the RDF format inside the gzip stream."""

    filename: str
    title: str
    rdf_format: ox.RdfFormat

    @property
    def media_type(self) -> str:
        """The media type of the RDF inside (the file itself is ``application/gzip``)."""
        return self.rdf_format.media_type


DUMP_FORMATS = (
    DumpFormat("dataset.trig.gz", "TriG (named graphs)", ox.RdfFormat.TRIG),
    DumpFormat("dataset.nq.gz", "N-Quads (named graphs)", ox.RdfFormat.N_QUADS),
    DumpFormat("dataset.ttl.gz", "Turtle (union of all graphs)", ox.RdfFormat.TURTLE),
)
FILENAME_TO_DUMP_FORMAT = {dump.filename: dump for dump in DUMP_FORMATS}
GZIP_MEDIA_TYPE = "application/gzip"


@dataclass(frozen=True)
class DumpFile:
    """A built dump: where it is, how big, and a validator of its exact bytes."""

    dump_format: DumpFormat
    path: Path
    size: int
    sha256: str


def write_dump(
    store: Store, dump_format: DumpFormat, output: BinaryIO, prefixes: Mapping[str, str]
) -> None:
    """Write the whole of `store` to `output` in `dump_format`'s RDF format (not compressed)."""
    rdf_format = dump_format.rdf_format
    used = dict(prefixes) if rdf_format in (ox.RdfFormat.TRIG, ox.RdfFormat.TURTLE) else None
    if isinstance(store, EmbeddedStore) and rdf_format.supports_datasets:
        store.oxigraph.dump(output, rdf_format, prefixes=used)
    elif rdf_format.supports_datasets:
        ox.serialize(_all_quads(store), output, rdf_format, prefixes=used)
    else:
        triples = (quad.triple for quad in _all_quads(store))
        ox.serialize(triples, output, rdf_format, prefixes=used)


def _all_quads(store: Store) -> Iterator[ox.Quad]:
    if isinstance(store, EmbeddedStore):
        yield from store.oxigraph.quads_for_pattern(None, None, None)
        return
    for row in store.query(ALL_QUADS_QUERY):
        yield ox.Quad(row["s"], row["p"], row["o"], row["g"])


class DumpCache:
    """The dump files of the current version, in `directory` (which the cache owns)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._lock = threading.Lock()
        self._built: dict[tuple[str, str], DumpFile] = {}

    @classmethod
    def in_temporary_directory(cls) -> "DumpCache":
        return cls(Path(tempfile.mkdtemp(prefix="communique-dumps-")))

    def dump(
        self,
        version: str,
        store: Store,
        dump_format: DumpFormat,
        prefixes: Mapping[str, str],
    ) -> DumpFile:
        """The dump of `store` at `version`, built on first use."""
        key = (version, dump_format.filename)
        with self._lock:
            if key not in self._built:
                path = self._build(version, store, dump_format, prefixes)
                self._built = {k: v for k, v in self._built.items() if k[0] == version}
                self._built[key] = DumpFile(dump_format, path, path.stat().st_size, _sha256(path))
            return self._built[key]

    def _build(
        self, version: str, store: Store, dump_format: DumpFormat, prefixes: Mapping[str, str]
    ) -> Path:
        folder = self.directory / version
        target = folder / dump_format.filename
        if target.exists():
            return target
        self._forget_other_versions(version)
        folder.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=folder, prefix=".partial-")
        try:
            with os.fdopen(handle, "wb") as raw, _gzip_writer(raw) as compressed:
                write_dump(store, dump_format, compressed, prefixes)
            with contextlib.suppress(FileExistsError):
                os.link(partial, target)
        finally:
            os.unlink(partial)
        return target

    def _forget_other_versions(self, version: str) -> None:
        for folder in self.directory.iterdir():
            if folder.name != version:
                shutil.rmtree(folder, ignore_errors=True)

    def remove(self) -> None:
        """Delete the directory and every dump in it."""
        shutil.rmtree(self.directory, ignore_errors=True)


def _gzip_writer(raw: BinaryIO) -> gzip.GzipFile:
    return gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()
