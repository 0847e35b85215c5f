"""Helpers every page module uses: this request's URL builder, store, languages and paging,
and the cached, conditional HTML response."""

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Response, current_app, request, url_for

from communique.errors import BadRequest
from communique.labels import parse_accept_language
from communique.store import Store
from communique.urls import UrlBuilder, root_path
from communique.web.conditional import cacheable, client_has_current, not_modified
from communique.web.state import current_state
from communique.web.store_access import RenderCache, store_for_this_process

EXTENSION_KEY = "communique.pages"
CACHE_ENTRIES = 256
"""Descriptions and rendered pages kept per web worker (pages are up to ~150 KB)."""
MAX_OFFSET = 10_000_000


@dataclass
class PagesState:
    """Per-process state of the pages, at ``app.extensions["communique.pages"]``."""

    cache: RenderCache


def new_state() -> PagesState:
    return PagesState(RenderCache(CACHE_ENTRIES))


def url_builder() -> UrlBuilder:
    settings = current_state().settings
    return UrlBuilder(settings.base, root_path(settings.public_url, request.script_root))


def page_store() -> Store:
    return store_for_this_process(current_state().publication.store)


def cache() -> RenderCache:
    return current_app.extensions[EXTENSION_KEY].cache


def accept_language() -> str | None:
    return request.headers.get("Accept-Language")


def language_ranges() -> tuple[str, ...]:
    return tuple(parse_accept_language(accept_language()))


def offset_parameter(name: str) -> int:
    """A non-negative paging offset from the query string (0 when absent).

    :raises BadRequest: not a whole number, or absurdly large.
    """
    raw = request.args.get(name, "0")
    if not raw.isdigit() or int(raw) > MAX_OFFSET:
        raise BadRequest(f"'{name}' must be a whole number from 0 to {MAX_OFFSET}, not {raw!r}")
    return int(raw)


def html_response(
    etag: str, build: Callable[[], str], links: list[str] | tuple[str, ...] = ()
) -> Response:
    """The page for `etag`: a 304 when the client has it, else built once and cached."""
    if client_has_current(etag):
        return not_modified(etag, links)
    body = cache().get_or_build(("html", etag), build)
    return cacheable(Response(body, 200, mimetype="text/html"), etag, links)


def site_path(endpoint: str, **values: object) -> str:
    """`url_for`, under the root of `url_builder` (so ``--public-url`` applies to it too)."""
    path = url_for(endpoint, **values).removeprefix(request.script_root).lstrip("/")
    return url_builder().root + path


def listing_href(class_iri: str, offset: int = 0) -> str:
    """The paged listing of the instances of `class_iri`."""
    parameters = {"class": class_iri, **({"offset": offset} if offset else {})}
    return site_path("pages.class_instances") + "?" + urlencode(parameters)
