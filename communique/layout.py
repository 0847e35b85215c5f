"""Where the bundled data lives and which named graph each file goes into.

The layout is a convention, so that adding a source is a data change, never a code change:

- ``ontology/*.ttl``                  → graph ``graph/ontology``
- ``graph/background/*.ttl``          → graph ``graph/background`` (entities, roles, places)
- ``graph/sources/<slug>.ttl``        → graph ``graph/source/<slug>`` (one per source document)
- ``graph/sources/<slug>.txt``        → the source's text, byte for byte; published as the
  ``schema:text`` of the document ``id/source/<slug>`` in that source's graph
- ``graph/enrichment/<name>.ttl``     → graph ``graph/enrichment/<name>`` (fetched, never curated)
- ``shapes/*.ttl``                    → graph ``graph/shapes`` (the shapes; not validated data)
"""

from dataclasses import dataclass
from pathlib import Path

from communique.errors import DataError
from communique.namespaces import BACKGROUND_GRAPH, GRAPH, ID, ONTOLOGY_GRAPH, SHAPES_GRAPH


@dataclass(frozen=True)
class Source:
    """One source document: its text file and the file of claims drawn from it."""

    slug: str
    text_path: Path
    data_path: Path

    @property
    def graph(self) -> str:
        return str(GRAPH[f"source/{self.slug}"])

    @property
    def document(self) -> str:
        return str(ID[f"source/{self.slug}"])

    def read_text(self) -> str:
        """The source text, decoded as UTF-8 exactly as stored (offsets count its characters)."""
        try:
            return self.text_path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            raise DataError(
                f"{self.data_path}: the source text {self.text_path.name} is missing "
                f"(every graph/sources/<slug>.ttl needs its <slug>.txt)"
            ) from None
        except UnicodeDecodeError as error:
            raise DataError(f"{self.text_path}: not valid UTF-8 ({error.reason})") from None


@dataclass(frozen=True)
class GraphFile:
    """One RDF file and the named graph it is loaded into."""

    path: Path
    graph: str


@dataclass(frozen=True)
class Layout:
    """The bundled data of one project folder."""

    root: Path

    @property
    def shapes_dir(self) -> Path:
        return self.root / "shapes"

    def sources(self) -> list[Source]:
        folder = self.root / "graph" / "sources"
        return [
            Source(path.stem, path.with_suffix(".txt"), path)
            for path in sorted(folder.glob("*.ttl"))
        ]

    def source(self, slug: str) -> Source:
        """The source `slug`, whose text must exist (its claims file may not, yet)."""
        folder = self.root / "graph" / "sources"
        text = folder / f"{slug}.txt"
        if "/" in slug or not text.is_file():
            raise DataError(f"there is no source text {text}")
        return Source(slug, text, folder / f"{slug}.ttl")

    def data_files(self) -> list[GraphFile]:
        """Every file of validated data: ontology, background, sources, enrichment."""
        files = [GraphFile(p, str(ONTOLOGY_GRAPH)) for p in self._ttl("ontology")]
        files += [GraphFile(p, str(BACKGROUND_GRAPH)) for p in self._ttl("graph/background")]
        files += [GraphFile(s.data_path, s.graph) for s in self.sources()]
        files += [
            GraphFile(p, str(GRAPH[f"enrichment/{p.stem}"])) for p in self._ttl("graph/enrichment")
        ]
        return files

    def shape_files(self) -> list[GraphFile]:
        return [GraphFile(p, str(SHAPES_GRAPH)) for p in self._ttl("shapes")]

    def orphan_texts(self) -> list[Path]:
        """Source texts with no data file beside them (a source nobody has modelled yet)."""
        folder = self.root / "graph" / "sources"
        return [p for p in sorted(folder.glob("*.txt")) if not p.with_suffix(".ttl").exists()]

    def _ttl(self, folder: str) -> list[Path]:
        return sorted((self.root / folder).glob("*.ttl"))
