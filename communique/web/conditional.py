"""HTTP caching of pages and documents: validators from the dataset version, and 304s.

A response's weak ETag hashes the publication version with everything else the body depends on
(route, resource, negotiated format, the reader's languages, paging, the server root);
``Last-Modified`` is when the version was published. `not_modified` answers a revalidation
before any query runs; `cacheable` stamps the validators and caching headers on a response.
Bodies are gzipped later, so ETags are weak (same meaning, maybe different bytes).
"""

import functools
import hashlib
import json
from collections.abc import Iterable
from datetime import datetime

from flask import Response, request
from werkzeug.http import http_date

from communique.web.http import add_vary
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
    stamp_validators(response, etag, current_state().publication.published_at, CACHE_CONTROL)
    add_vary_and_links(response, links)
    return response


def stamp_validators(
    response: Response, etag: str, published_at: datetime, cache_control: str
) -> None:
    """The weak `etag`, ``Last-Modified`` (`published_at`) and ``Cache-Control``."""
    headers = response.headers
    headers["ETag"] = f'W/"{etag}"'
    headers["Last-Modified"] = _http_date(published_at)
    headers["Cache-Control"] = cache_control


def add_vary_and_links(response: Response, links: Iterable[str]) -> None:
    add_vary(response, *VARY)
    for link in links:
        response.headers.add("Link", link)


_http_date = functools.lru_cache(maxsize=4)(http_date)
"""The publication's date as HTTP writes it, formatted once per version."""
