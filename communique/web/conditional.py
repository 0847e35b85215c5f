"""HTTP caching of pages and documents: validators from the dataset version, and 304s.

A response's weak ETag hashes the publication version with everything else the body depends on
(route, resource, negotiated format, the reader's languages, paging, the server root);
``Last-Modified`` is when the version was published. `not_modified` answers a revalidation
before any query runs; `cacheable` stamps the validators and caching headers on a response.
Bodies are gzipped later, so ETags are weak (same meaning, maybe different bytes).
"""

import hashlib
import json
from collections.abc import Iterable

from flask import Response, request

from communique.web.state import current_state

CACHE_CONTROL = "public, max-age=300"
VARY = ("Accept", "Accept-Language", "Accept-Encoding")


def etag_for(*identity: object) -> str:
    """A validator for what a response means: the version plus `identity`."""
    version = current_state().publication.version
    text = json.dumps([version, *identity], default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def client_has_current(etag: str) -> bool:
    """True when the request revalidates a response we would send unchanged (RFC 9110 §13.2.2:
    If-None-Match decides when present, else If-Modified-Since)."""
    if request.method not in ("GET", "HEAD"):
        return False
    if request.if_none_match:
        return request.if_none_match.contains_weak(etag)
    since = request.if_modified_since
    published = current_state().publication.published_at.replace(microsecond=0)
    return since is not None and since >= published


def not_modified(etag: str, links: Iterable[str] = ()) -> Response:
    return cacheable(Response(status=304), etag, links)


def cacheable(response: Response, etag: str, links: Iterable[str] = ()) -> Response:
    response.set_etag(etag, weak=True)
    response.last_modified = current_state().publication.published_at
    response.headers["Cache-Control"] = CACHE_CONTROL
    add_vary_and_links(response, links)
    return response


def add_vary_and_links(response: Response, links: Iterable[str]) -> None:
    for header in VARY:
        response.vary.add(header)
    for link in links:
        response.headers.add("Link", link)
