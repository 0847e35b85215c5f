"""Sitemaps (sitemaps.org protocol 0.9): the pages of every resource, for crawlers.

`plan_sitemap` splits a list of absolute URLs into documents of at most `MAX_URLS_PER_SITEMAP`
URLs; one document is the sitemap itself, several are listed by a sitemap index.
`urlset_xml` and `sitemap_index_xml` write the XML (UTF-8, entity-escaped, ``lastmod`` in W3C
datetime); `subject_iris` lists the IRI subjects of a store, which the web layer turns into
page URLs.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

from communique.graph_patterns import everywhere
from communique.store import Store

SITEMAP_NAMESPACE = "http://www.sitemaps.org/schemas/sitemap/0.9"
MAX_URLS_PER_SITEMAP = 50_000
"""The protocol's limit per document (a document must also stay under 50 MB)."""


@dataclass(frozen=True)
class SitemapPlan:
    """The URLs of each sitemap document; more than one document needs an index."""

    documents: tuple[tuple[str, ...], ...]

    @property
    def needs_index(self) -> bool:
        return len(self.documents) > 1


def plan_sitemap(urls: Sequence[str], limit: int = MAX_URLS_PER_SITEMAP) -> SitemapPlan:
    """`urls` (duplicates dropped, order kept) in documents of at most `limit` URLs.

    >>> plan_sitemap(["a", "b", "a", "c"], limit=2).documents
    (('a', 'b'), ('c',))
    """
    unique = tuple(dict.fromkeys(urls))
    documents = tuple(unique[start : start + limit] for start in range(0, len(unique), limit))
    return SitemapPlan(documents or ((),))


def urlset_xml(urls: Sequence[str], lastmod: datetime) -> bytes:
    """A sitemap listing `urls`, each last modified at `lastmod`."""
    stamp = _w3c_datetime(lastmod)
    entries = "".join(
        f"<url><loc>{escape(url)}</loc><lastmod>{stamp}</lastmod></url>\n" for url in urls
    )
    return _document("urlset", entries)


def sitemap_index_xml(sitemap_urls: Sequence[str], lastmod: datetime) -> bytes:
    """A sitemap index listing the sitemaps at `sitemap_urls`."""
    stamp = _w3c_datetime(lastmod)
    entries = "".join(
        f"<sitemap><loc>{escape(url)}</loc><lastmod>{stamp}</lastmod></sitemap>\n"
        for url in sitemap_urls
    )
    return _document("sitemapindex", entries)


def _document(root: str, entries: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<{root} xmlns="{SITEMAP_NAMESPACE}">\n{entries}</{root}>\n'
    ).encode()


def _w3c_datetime(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def subject_iris(store: Store) -> Iterator[str]:
    """Every IRI that is the subject of a triple in any graph, in IRI order."""
    pattern = everywhere("?s ?p ?o", union_default_graph=store.union_default_graph)
    query = f"SELECT DISTINCT ?s WHERE {{ {pattern} FILTER (isIRI(?s)) }} ORDER BY ?s"
    for row in store.query(query):
        yield row["s"].value
