"""Request limits, security headers and per-client query rate limits, for every route.

`init_app(app)` registers:

* a ``before_request`` check of what arrives, before any view reads it (limits are set below
  gunicorn's own, so that clients get this app's JSON errors, not gunicorn's HTML pages):

  - request target (path and query string) over `MAX_TARGET_BYTES`: 414;
  - more than `MAX_HEADER_FIELDS` header fields, one over `MAX_HEADER_FIELD_BYTES`, all
    together over `MAX_HEADER_BYTES`, or an Accept header over `MAX_ACCEPT_BYTES`: 431;
  - a declared body over the app's ``MAX_CONTENT_LENGTH``: 413 (a chunked one is cut when read);
  - a path or query string that is not UTF-8 once percent-decoded, more than `MAX_PARAMETERS`
    parameters, a control character (CR, LF, NUL...) in the path or in a parameter other than
    the free-text ones (`FREE_TEXT_PARAMETERS`): 400. No such value can then reach a response
    header (Werkzeug would raise on it: a 500);
  - a path with a ``..`` segment (raw or percent-encoded): 404, whatever the route.

* per-client rate limits on the requests that evaluate SPARQL (`QUERY_ENDPOINTS`): at most
  ``rate_limit_concurrency`` at once and ``rate_limit_query_seconds`` of query time per minute
  (see `communique.rate_limits`), else 429 with ``Retry-After``. The client is the peer address,
  or, behind ``trusted_proxy_count`` proxies, the address in X-Forwarded-For they vouch for.

* on every response: `SECURITY_HEADERS` (Content-Security-Policy, nosniff, Referrer-Policy,
  X-Frame-Options). A view may send its own policy instead (the reconciliation preview, which
  other sites frame, allows ``frame-ancestors *`` and runs no script).

Residual limits enforced by gunicorn itself, before this app sees the request (its own plain
answer, not JSON): a request line over `GUNICORN_LIMITS` ``limit_request_line`` bytes (414),
more header fields than ``limit_request_fields`` or one over ``limit_request_field_size`` (431).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import RequestURITooLarge

from communique.errors import BadRequest, HeaderTooLarge, NotFound, PayloadTooLarge
from communique.rate_limits import RateLimiter, RateLimits
from communique.settings import Settings
from communique.web.http import add_missing
from communique.web.state import EXTENSION_KEY as STATE_KEY

EXTENSION_KEY = "communique.security"

MAX_TARGET_BYTES = 8000
MAX_HEADER_FIELDS = 100
MAX_HEADER_FIELD_BYTES = 8190
MAX_HEADER_BYTES = 32768
MAX_ACCEPT_BYTES = 2048
FREE_TEXT_PARAMETERS = frozenset({"query", "update", "q"})
"""Parameters whose values may span lines (a query text); they never go into a header."""

GUNICORN_LIMITS = {
    "limit_request_line": 8190,
    "limit_request_fields": 128,
    "limit_request_field_size": 16380,
}
"""gunicorn's own limits, above this module's (8190 is the largest request line it allows)."""

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}
_ALL_SECURITY_HEADERS = tuple(SECURITY_HEADERS.items())
_OWN_POLICY_HEADERS = tuple(
    (name, value) for name, value in _ALL_SECURITY_HEADERS if name != "X-Frame-Options"
)

QUERY_ENDPOINTS = frozenset({"sparql.endpoint", "sparql.endpoint_with_slash"})
"""Endpoints that evaluate SPARQL sent by the client: the rate limits apply to them."""
LEASE_MARGIN_SECONDS = 60.0

_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
_PATH_SEPARATOR = re.compile(r"[/\\]")
_BODY_HEADERS = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})
_MISPLACED_BODY_HEADERS = frozenset({"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"})


@dataclass(frozen=True)
class Guard:
    """What the hooks need, at ``app.extensions["communique.security"]``."""

    limiter: RateLimiter
    limits: RateLimits
    trusted_proxy_count: int


_PROCESS_LIMITER: RateLimiter | None = None


def process_limiter() -> RateLimiter:
    """This process's rate limit table, made on first use (in gunicorn's master: before it
    forks, so every web worker shares it; a reload keeps it)."""
    global _PROCESS_LIMITER
    if _PROCESS_LIMITER is None:
        _PROCESS_LIMITER = RateLimiter()
    return _PROCESS_LIMITER


def init_app(app: Flask) -> None:
    """Register the hooks; reads the settings of the app's `AppState`."""
    settings: Settings = app.extensions[STATE_KEY].settings
    app.extensions[EXTENSION_KEY] = Guard(
        process_limiter(), rate_limits(settings), settings.trusted_proxy_count
    )
    app.before_request(check_request)
    app.before_request(admit_query)
    app.teardown_request(release_query)
    app.after_request(add_security_headers)


def rate_limits(settings: Settings) -> RateLimits:
    return RateLimits(
        concurrency=settings.rate_limit_concurrency,
        query_seconds=settings.rate_limit_query_seconds,
        lease_seconds=2 * settings.timeout + LEASE_MARGIN_SECONDS,
    )


# --- what arrives -----------------------------------------------------------------------------


def check_request() -> None:
    """Refuse a request over the limits, or whose path or parameters could do harm."""
    environ = request.environ
    _check_target_length(environ)
    check_header_fields(environ)
    _check_body_length()
    path = _decoded_path()
    _check_parameters()
    if ".." in _PATH_SEPARATOR.split(path):
        raise NotFound("no such resource: a path may not have '..' segments")


def _check_target_length(environ: Mapping[str, str]) -> None:
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if target is None:
        target = environ.get("PATH_INFO", "") + "?" + environ.get("QUERY_STRING", "")
    if len(target) > MAX_TARGET_BYTES:
        raise RequestURITooLarge(
            f"the URL is longer than {MAX_TARGET_BYTES} bytes; send a long query with POST"
        )


def check_header_fields(environ: Mapping[str, str]) -> None:
    """Refuse too many header fields, one too long, too many bytes in all, a long Accept.

    Reads the WSGI environ as Werkzeug's ``request.headers`` would (``HTTP_*`` keys, and
    ``CONTENT_TYPE``/``CONTENT_LENGTH`` when not empty), without building it.

    :raises HeaderTooLarge:
    """
    fields = total = 0
    for key, value in environ.items():
        if key.startswith("HTTP_") and key not in _MISPLACED_BODY_HEADERS:
            size = len(key) - 5 + len(value)
        elif key in _BODY_HEADERS and value:
            size = len(key) + len(value)
        else:
            continue
        fields += 1
        if size > MAX_HEADER_FIELD_BYTES:
            name = key.removeprefix("HTTP_").replace("_", "-").title()
            raise HeaderTooLarge(f"the {name} header is longer than {MAX_HEADER_FIELD_BYTES} bytes")
        total += size
    if fields > MAX_HEADER_FIELDS:
        raise HeaderTooLarge(f"the request has more than {MAX_HEADER_FIELDS} header fields")
    if total > MAX_HEADER_BYTES:
        raise HeaderTooLarge(f"the request headers are longer than {MAX_HEADER_BYTES} bytes")
    if len(environ.get("HTTP_ACCEPT", "")) > MAX_ACCEPT_BYTES:
        raise HeaderTooLarge(f"the Accept header is longer than {MAX_ACCEPT_BYTES} bytes")


def _check_body_length() -> None:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is not None and (request.content_length or 0) > limit:
        raise PayloadTooLarge(f"the request body is longer than {limit} bytes")


def _decoded_path() -> str:
    raw = request.environ.get("PATH_INFO", "").encode("latin-1")
    try:
        path = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the URL path is not valid UTF-8 once percent-decoded") from None
    if _CONTROL_CHARACTER.search(path):
        raise BadRequest("the URL path holds a control character (such as CR, LF or NUL)")
    return path


def _check_parameters() -> None:
    """Parse the query string (strictly: `communique.web.request`) and refuse control
    characters in names and in values other than the free-text ones."""
    for name, value in request.args.items(multi=True):
        if _CONTROL_CHARACTER.search(name) or (
            name not in FREE_TEXT_PARAMETERS and _CONTROL_CHARACTER.search(value)
        ):
            shown = name[:40].encode("unicode_escape").decode("ascii")
            raise BadRequest(
                f"the parameter '{shown}' holds a control character (such as CR, LF or NUL)"
            )


# --- rate limits ------------------------------------------------------------------------------


def is_query_request() -> bool:
    """True for a request that asks the SPARQL endpoint to evaluate a query."""
    if request.endpoint not in QUERY_ENDPOINTS:
        return False
    return request.method == "POST" or (
        request.method in ("GET", "HEAD") and "query" in request.args
    )


def admit_query() -> None:
    guard: Guard = current_app.extensions[EXTENSION_KEY]
    if guard.limits.enabled and is_query_request():
        g.query_lease = guard.limiter.admit(client_address(guard.trusted_proxy_count), guard.limits)


def release_query(_error: BaseException | None) -> None:
    lease = g.pop("query_lease", None)
    if lease is not None:
        guard: Guard = current_app.extensions[EXTENSION_KEY]
        guard.limiter.release(lease, guard.limits)


def client_address(trusted_proxy_count: int) -> str:
    """The peer address; behind `trusted_proxy_count` proxies, the one X-Forwarded-For holds
    that many entries from its end (the address the outermost trusted proxy saw)."""
    peer = request.remote_addr or ""
    if trusted_proxy_count <= 0:
        return peer
    header = request.headers.get("X-Forwarded-For", "")
    forwarded = [part.strip() for part in header.split(",") if part.strip()]
    if not forwarded:
        return peer
    return forwarded[-min(trusted_proxy_count, len(forwarded))]


# --- what leaves ------------------------------------------------------------------------------


def add_security_headers(response: Response) -> Response:
    """`SECURITY_HEADERS`, except where the view sent its own Content-Security-Policy: its
    ``frame-ancestors`` then decides framing, and X-Frame-Options is left out."""
    own_policy = "Content-Security-Policy" in response.headers
    add_missing(response, _OWN_POLICY_HEADERS if own_policy else _ALL_SECURITY_HEADERS)
    return response
