"""The one place where this server's URLs are built from IRIs, and IRIs read back from URLs.

Our IRIs live in four path namespaces: ``id/`` and ``graph/`` under the deployment's base
(`Settings.base`), ``ontology/`` and ``shapes/`` under `DEFAULT_BASE` (the vocabulary does not move
with the data). This server answers for an IRI at the same path under its own root, so
``{base}id/north-korea`` is ``/id/north-korea`` here; that URL redirects (303) to the page
``/page/id/north-korea`` or a document such as ``/data/id/north-korea.ttl``.

Paths are percent-encoded so that any IRI round-trips: ``%``, ``?``, ``#``, spaces and other
characters outside a path segment's safe set are escaped. A path with a dot segment, a backslash
or a control character maps to no IRI.

>>> urls = UrlBuilder("https://w3id.org/communique/")
>>> urls.page_url("https://w3id.org/communique/id/north-korea")
'/page/id/north-korea'
>>> urls.data_url("https://w3id.org/communique/id/x?y", "turtle")
'/data/id/x%3Fy.ttl'
>>> urls.iri_for_path("id/x?y")
'https://w3id.org/communique/id/x?y'
>>> urls.iri_for_path("id/../etc/passwd") is None
True
"""

import functools
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import pyoxigraph as ox

from communique.namespaces import DEFAULT_BASE

DATA_SEGMENTS = ("id", "graph")
"""First path segments of IRIs under the deployment's base."""
VOCABULARY_SEGMENTS = ("ontology", "shapes")
"""First path segments of IRIs under `DEFAULT_BASE`, wherever the data lives."""

PAGE_PREFIX = "page/"
DATA_PREFIX = "data/"

FORMAT_TO_SUFFIX = {"turtle": ".ttl", "ntriples": ".nt", "jsonld": ".jsonld", "rdfxml": ".rdf"}
"""Document format -> the file suffix of its URL (the suffix overrides Accept)."""
SUFFIX_TO_FORMAT = {suffix: name for name, suffix in FORMAT_TO_SUFFIX.items()}
DOCUMENT_FORMATS = tuple(FORMAT_TO_SUFFIX)
"""The formats of a resource's RDF document, Turtle (the default) first."""

PATH_SAFE = "/:@!$&'()*+,;=-._~"
"""Characters left as they are in a URL path (RFC 3986 pchar and "/"); the rest is escaped."""
_FORBIDDEN_IN_PATH = re.compile(r"[\x00-\x20\x7f\\]")
_DOT_SEGMENTS = frozenset({".", ".."})
MAX_PATH_LENGTH = 2048


@dataclass(frozen=True)
class UrlBuilder:
    """Maps our IRIs to URLs on this server and back.

    `root` is where this server's paths start: ``"/"``, or ``"/kg/"`` behind a proxy (taken
    from ``--public-url``). Every URL built here is root-relative, so links and redirects stay on
    whatever host the client reached.
    """

    base: str = DEFAULT_BASE
    root: str = "/"

    def is_ours(self, iri: str) -> bool:
        """True for an IRI in one of our namespaces (it dereferences on this server)."""
        return self._path_of(iri) is not None

    def local_url(self, iri: str) -> str:
        """The URL of the IRI itself on this server (it answers 303 to a page or document).

        :raises ValueError: the IRI is not ours.
        """
        return self.root + _escape_path(self._require_path(iri))

    def page_url(self, iri: str) -> str:
        """The URL of the IRI's HTML page. :raises ValueError: the IRI is not ours."""
        return self.root + PAGE_PREFIX + _escape_path(self._require_path(iri))

    def data_url(self, iri: str, format_name: str) -> str:
        """The URL of the IRI's RDF document in `format_name` (one of `DOCUMENT_FORMATS`).

        An IRI ending in ``/`` (the ontology's) gets the suffix as a segment of its own:
        ``/data/ontology/.ttl``.

        :raises ValueError: the IRI is not ours, or the format is not a document format.
        """
        if format_name not in FORMAT_TO_SUFFIX:
            raise ValueError(f"no document format {format_name!r}")
        path = _escape_path(self._require_path(iri))
        return self.root + DATA_PREFIX + path + FORMAT_TO_SUFFIX[format_name]

    def iri_for_path(self, path: str) -> str | None:
        """The IRI a (percent-decoded) path names, such as ``id/north-korea``; None when the
        path is outside our namespaces or malformed (dot segments, backslash, controls, or
        characters no IRI may hold)."""
        if len(path) > MAX_PATH_LENGTH or _FORBIDDEN_IN_PATH.search(path):
            return None
        segments = path.split("/")
        if len(segments) < 2 or any(segment in _DOT_SEGMENTS for segment in segments):
            return None
        if segments[0] in DATA_SEGMENTS:
            return _valid_iri(self.base + path)
        if segments[0] in VOCABULARY_SEGMENTS:
            return _valid_iri(DEFAULT_BASE + path)
        return None

    def iri_for_data_path(self, path: str) -> tuple[str, str] | None:
        """``(iri, format name)`` for a document path such as ``id/north-korea.ttl``."""
        for suffix, format_name in SUFFIX_TO_FORMAT.items():
            if path.endswith(suffix):
                iri = self.iri_for_path(path[: -len(suffix)])
                return (iri, format_name) if iri else None
        return None

    def _path_of(self, iri: str) -> str | None:
        return _path_under(self.base, iri)

    def _require_path(self, iri: str) -> str:
        path = self._path_of(iri)
        if path is None:
            raise ValueError(f"{iri!r} is not in this server's namespaces")
        return path


@functools.lru_cache(maxsize=65536)
def _path_under(base: str, iri: str) -> str | None:
    """The path of `iri` relative to its namespace's base, when it is one of ours."""
    for namespace, segments in ((base, DATA_SEGMENTS), (DEFAULT_BASE, VOCABULARY_SEGMENTS)):
        if iri.startswith(namespace):
            path = iri[len(namespace) :]
            if path.split("/", 1)[0] in segments and UrlBuilder(base).iri_for_path(path) == iri:
                return path
    return None


def root_path(public_url: str | None, script_root: str = "") -> str:
    """The root of this server's paths: the path of `public_url` when set, else the
    application's script root (both end with ``/``).

    >>> root_path("https://staging.example.org/kg")
    '/kg/'
    >>> root_path(None)
    '/'
    """
    path = urlsplit(public_url).path if public_url else script_root
    return "/" + path.strip("/") + "/" if path.strip("/") else "/"


def is_linkable(iri: str) -> bool:
    """True for an http(s) IRI, the only kind rendered as a link to elsewhere.

    >>> is_linkable("javascript:alert(1)"), is_linkable("https://www.wikidata.org/wiki/Q30")
    (False, True)
    """
    if _FORBIDDEN_IN_PATH.search(iri):
        return False
    parts = urlsplit(iri)
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _valid_iri(iri: str) -> str | None:
    try:
        ox.NamedNode(iri)
    except ValueError:
        return None
    return iri


def _escape_path(path: str) -> str:
    return quote(path, safe=PATH_SAFE)
