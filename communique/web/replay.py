"""Repeated requests answered from memory, before the app runs again.

A GET or HEAD answered 200 with a public ``Cache-Control`` (pages, RDF documents, SPARQL answers,
the dataset's descriptions) is kept by the web worker process that made it, as sent (gzipped or
not), keyed by the publication version, the scheme and host, and the request headers a response
may vary on (`variant`). The same request later is answered from it by `ReplayApp`, a WSGI
middleware inside the access log and metrics, without running the Flask app: only the header
limits are checked again (everything else checked depends on the request target, which is part
of the key), and the request id is set afresh. A kept answer costs no query time, so the rate
limits do not apply to it. A new data version makes new keys, so a reload never replays stale
content.

Not kept or not replayed: conditional requests (the view answers 304 at once), requests asking
for a fresh answer (``Cache-Control: no-cache``, ``no-store``, ``max-age=0``, ``Pragma:
no-cache``), requests with a body, streamed responses (dumps), and responses a view marks with
`do_not_keep` (a SPARQL answer that called other endpoints through SERVICE). The kept bytes are
bounded by ``--response-cache`` MiB per web worker, least recently used out first, and one
response by an eighth of that.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import Flask, Response, g, request
from werkzeug.http import parse_accept_header

from communique.errors import HeaderTooLarge
from communique.lru import LruCache
from communique.web.http import REQUEST_ID_ENVIRON_KEY, REQUEST_ID_HEADER, request_id_for
from communique.web.observability import QUERY_HASH_KEY
from communique.web.security import check_header_fields
from communique.web.state import EXTENSION_KEY as STATE_KEY
from communique.web.state import AppState

MEBIBYTE = 1 << 20
LARGEST_SHARE = 8
"""One response may hold at most 1/LARGEST_SHARE of the cache."""
FRESH_DIRECTIVES = frozenset({"no-cache", "no-store", "max-age=0"})
KEY_ENVIRON_KEY = "communique.replay.key"
_DO_NOT_KEEP = "do_not_keep"


@dataclass(frozen=True)
class KeptResponse:
    status: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    query_hash: str | None


def init_app(app: Flask) -> None:
    """Register the replay; call before `observability.init_app`, whose middleware must wrap
    this one (a replayed answer is logged and counted like any other)."""
    megabytes = app.extensions[STATE_KEY].settings.response_cache
    if megabytes <= 0:
        return
    limit = megabytes * MEBIBYTE
    cache = LruCache[KeptResponse](limit, limit // LARGEST_SHARE)
    app.wsgi_app = ReplayApp(app.wsgi_app, cache, app.extensions[STATE_KEY])
    # after_request hooks run in reverse order of registration: first in the list, last to run,
    # so the response is kept as sent (gzipped, with its security headers).
    app.after_request_funcs.setdefault(None, []).insert(0, lambda response: keep(cache, response))


class ReplayApp:
    """WSGI middleware: the kept response for this request if there is one, else the app."""

    def __init__(self, wsgi_app: Callable, cache: LruCache[KeptResponse], state: AppState):
        self.wsgi_app = wsgi_app
        self.cache = cache
        self.state = state

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        key = replay_key(environ, self.state.publication.version)
        kept = self.cache.get(key) if key is not None else None
        if kept is None or not _within_header_limits(environ):
            environ[KEY_ENVIRON_KEY] = key
            return self.wsgi_app(environ, start_response)
        if kept.query_hash is not None:
            environ[QUERY_HASH_KEY] = kept.query_hash
        request_id = request_id_for(environ.get(REQUEST_ID_ENVIRON_KEY, ""))
        start_response(kept.status, [*kept.headers, (REQUEST_ID_HEADER, request_id)])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [kept.body]


def do_not_keep() -> None:
    """Mark this request's response as not to be replayed."""
    g.setdefault(_DO_NOT_KEEP, True)


def keep(cache: LruCache[KeptResponse], response: Response) -> Response:
    key = request.environ.get(KEY_ENVIRON_KEY)
    if (
        key is None
        or response.status_code != 200
        or response.is_streamed
        or response.direct_passthrough
        or g.get(_DO_NOT_KEEP)
        or not _public(response.headers.get("Cache-Control", ""))
    ):
        return response
    body = response.get_data()
    headers = tuple(
        (name, value) for name, value in response.headers.items() if name != REQUEST_ID_HEADER
    )
    kept = KeptResponse(response.status, headers, body, request.environ.get(QUERY_HASH_KEY))
    cache.put(key, kept, len(body) + 64 * len(headers))
    return response


def replay_key(environ: dict, version: str) -> tuple | None:
    """What a kept response must match, or None when this request may not use one."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or _has_body(environ):
        return None
    if "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ:
        return None
    if _asks_for_fresh(environ.get("HTTP_CACHE_CONTROL"), environ.get("HTTP_PRAGMA")):
        return None
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
    origin = (environ.get("wsgi.url_scheme"), host, environ.get("SCRIPT_NAME", ""))
    return (version, *origin, *variant(environ))


def variant(environ: dict) -> tuple[str, ...]:
    """What a response depends on besides the version and the host: the request target as sent
    (not decoded: ``/id/a%2Fb`` is not ``/id/a/b``) and the negotiated headers (Accept,
    Accept-Language, whether gzip is accepted)."""
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if target is None:
        target = environ.get("PATH_INFO", "") + "?" + environ.get("QUERY_STRING", "")
    gzip = parse_accept_header(environ.get("HTTP_ACCEPT_ENCODING")).quality("gzip") > 0
    return (
        target,
        environ.get("HTTP_ACCEPT", ""),
        environ.get("HTTP_ACCEPT_LANGUAGE", ""),
        str(gzip),
    )


def _has_body(environ: dict) -> bool:
    return environ.get("CONTENT_LENGTH", "") not in ("", "0") or "HTTP_TRANSFER_ENCODING" in environ


def _within_header_limits(environ: dict) -> bool:
    """False when the app must answer instead (it refuses the headers with 431)."""
    try:
        check_header_fields(environ)
    except HeaderTooLarge:
        return False
    return True


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
