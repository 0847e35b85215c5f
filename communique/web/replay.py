"""Repeated requests answered from memory, without running their view again.

A GET or HEAD answered 200 with a public ``Cache-Control`` (pages, RDF documents, SPARQL answers,
the dataset's descriptions) is kept by the web worker process that made it, as sent (gzipped or
not), keyed by the publication version, the URL, and the request headers a response may vary on
(`variant`). The same request later is answered from it: the security checks and the rate-limit
admission run first, as for any request, and the per-request headers (request id) are set afresh.
A new data version makes new keys, so a reload never replays stale content.

Not kept or not replayed: conditional requests (the view answers 304 at once), requests asking
for a fresh answer (``Cache-Control: no-cache``, ``no-store``, ``max-age=0``, ``Pragma:
no-cache``), streamed responses (dumps), and responses a view marks with `do_not_keep` (a SPARQL
answer that called other endpoints through SERVICE). The kept bytes are bounded by
``--response-cache`` MiB per web worker, least recently used out first, and one response by an
eighth of that.
"""

from dataclasses import dataclass

from flask import Flask, Response, current_app, g, request

from communique.lru import LruCache
from communique.web.state import current_state

EXTENSION_KEY = "communique.replay"
MEBIBYTE = 1 << 20
LARGEST_SHARE = 8
"""One response may hold at most 1/LARGEST_SHARE of the cache."""
FRESH_DIRECTIVES = frozenset({"no-cache", "no-store", "max-age=0"})
_REPLAYED = "replayed"
_DO_NOT_KEEP = "do_not_keep"


@dataclass(frozen=True)
class KeptResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def init_app(app: Flask) -> None:
    """Register the replay; call after the hooks that must run before it (security checks,
    rate-limit admission, the access log's query hash)."""
    megabytes = app.extensions["communique"].settings.response_cache
    if megabytes <= 0:
        return
    limit = megabytes * MEBIBYTE
    app.extensions[EXTENSION_KEY] = LruCache[KeptResponse](limit, limit // LARGEST_SHARE)
    app.before_request(replay)
    # after_request hooks run in reverse order of registration: first in the list, last to run,
    # so the response is kept as sent (gzipped, with its security headers).
    app.after_request_funcs.setdefault(None, []).insert(0, keep)


def do_not_keep() -> None:
    """Mark this request's response as not to be replayed."""
    g.setdefault(_DO_NOT_KEEP, True)


def replay() -> Response | None:
    key = _key()
    if key is None:
        return None
    kept = current_app.extensions[EXTENSION_KEY].get(key)
    if kept is None:
        return None
    g.setdefault(_REPLAYED, True)
    return Response(kept.body, kept.status, headers=list(kept.headers))


def keep(response: Response) -> Response:
    if (
        response.status_code != 200
        or response.is_streamed
        or response.direct_passthrough
        or g.get(_REPLAYED)
        or g.get(_DO_NOT_KEEP)
        or not _public(response.headers.get("Cache-Control", ""))
    ):
        return response
    key = _key()
    if key is not None:
        body = response.get_data()
        headers = tuple(
            (name, value) for name, value in response.headers.items() if name != "X-Request-Id"
        )
        kept = KeptResponse(response.status_code, headers, body)
        current_app.extensions[EXTENSION_KEY].put(key, kept, len(body) + 64 * len(headers))
    return response


def _key() -> tuple | None:
    """What a kept response must match, or None when this request may not use one."""
    if request.method not in ("GET", "HEAD"):
        return None
    environ = request.environ
    if "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ:
        return None
    if _asks_for_fresh(environ.get("HTTP_CACHE_CONTROL"), environ.get("HTTP_PRAGMA")):
        return None
    return (current_state().publication.version, request.host_url, *variant(environ))


def variant(environ: dict) -> tuple[str, ...]:
    """What a response depends on besides the version and the host: the request target as sent
    (not decoded: ``/id/a%2Fb`` is not ``/id/a/b``) and the negotiated headers (Accept,
    Accept-Language, whether gzip is accepted)."""
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if target is None:
        target = environ.get("PATH_INFO", "") + "?" + environ.get("QUERY_STRING", "")
    return (
        target,
        environ.get("HTTP_ACCEPT", ""),
        environ.get("HTTP_ACCEPT_LANGUAGE", ""),
        str(request.accept_encodings.quality("gzip") > 0),
    )


def _asks_for_fresh(cache_control: str | None, pragma: str | None) -> bool:
    """True when the request's directives (RFC 9111 §5.2.1) ask for a response made afresh.

    >>> _asks_for_fresh("max-age=0", None), _asks_for_fresh(None, "no-cache")
    (True, True)
    >>> _asks_for_fresh("max-age=60", "no-cache")
    False
    """
    if cache_control:
        return not FRESH_DIRECTIVES.isdisjoint(_directives(cache_control))
    return "no-cache" in _directives(pragma or "")


def _directives(header: str) -> set[str]:
    return {part.strip().lower().replace(" ", "") for part in header.split(",")}


def _public(cache_control: str) -> bool:
    directives = _directives(cache_control)
    return "public" in directives and directives.isdisjoint({"private", "no-store", "no-cache"})
