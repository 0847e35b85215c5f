"""What every response gets, whatever blueprint made it: a request id, CORS, gzip.

`install(app)` registers one ``before_request`` and one ``after_request`` hook:

* ``X-Request-Id``: the client's own id when it is a short token, else a fresh uuid4 hex; the
  error handler puts it in error bodies, so a report can be matched with the log.
* CORS for anyone (``Access-Control-Allow-Origin: *``, never credentials), and answers to
  preflight ``OPTIONS`` requests naming the methods the route allows.
* gzip when the client accepts it and the body is over `COMPRESS_MIN_BYTES`.
"""

import gzip
import re
import uuid
from collections.abc import Iterable

from flask import Flask, Response, g, request

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_ENVIRON_KEY = "HTTP_X_REQUEST_ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

COMPRESS_MIN_BYTES = 1024
COMPRESS_LEVEL = 6
CORS_ALLOWED_HEADERS = "Accept, Accept-Encoding, Content-Type, If-None-Match, X-Request-Id"
CORS_EXPOSED_HEADERS = (
    "ETag, Last-Modified, Retry-After, X-Request-Id, "
    "Communique-Result-Limit, Communique-Result-Truncated"
)
CORS_MAX_AGE_SECONDS = 86400
_CORS_FIELDS = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Expose-Headers", CORS_EXPOSED_HEADERS),
)


def install(app: Flask) -> None:
    app.before_request(assign_request_id)
    app.after_request(finish_response)


def assign_request_id() -> None:
    g.request_id = request_id_for(request.environ.get(REQUEST_ID_ENVIRON_KEY, ""))


def request_id_for(incoming: str) -> str:
    """The client's own id (the X-Request-Id it sent) when it is a short token, else a fresh
    uuid4 hex."""
    return incoming if _VALID_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex


def request_id() -> str:
    """The current request's id (assigned on first use when a hook did not run)."""
    if "request_id" not in g:
        assign_request_id()
    return g.request_id


def finish_response(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = request_id()
    _add_cors(response)
    _compress(response)
    return response


def add_missing(response: Response, fields: Iterable[tuple[str, str]]) -> None:
    """Add each header field of `fields` whose name the response does not have yet."""
    headers = response.headers
    present = {name.lower() for name, _ in headers.items()}
    for name, value in fields:
        if name.lower() not in present:
            headers.add(name, value)


def add_vary(response: Response, *names: str) -> None:
    """Add `names` to the response's ``Vary`` (a cheaper ``response.vary.add``)."""
    current = response.headers.get("Vary")
    if not current:
        response.headers["Vary"] = ", ".join(names)
        return
    listed = {part.strip().lower() for part in current.split(",")}
    if "*" in listed:
        return
    missing = [name for name in names if name.lower() not in listed]
    if missing:
        response.headers["Vary"] = ", ".join((current, *missing))


def _add_cors(response: Response) -> None:
    add_missing(response, _CORS_FIELDS)
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        allowed = response.headers.get("Allow", "GET, HEAD, OPTIONS")
        response.headers["Access-Control-Allow-Methods"] = allowed
        response.headers["Access-Control-Allow-Headers"] = CORS_ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = str(CORS_MAX_AGE_SECONDS)


def _compress(response: Response) -> None:
    add_vary(response, "Accept-Encoding")
    if (
        response.direct_passthrough
        or response.is_streamed
        or response.status_code in (204, 206, 304)
        or "Content-Encoding" in response.headers
    ):
        return
    body = response.get_data()
    if len(body) >= COMPRESS_MIN_BYTES and accepts_gzip():
        send_gzipped(response, gzipped(body))


def accepts_gzip() -> bool:
    """True when the request's Accept-Encoding allows gzip."""
    return request.accept_encodings.quality("gzip") > 0


def gzipped(body: bytes) -> bytes:
    """`body` compressed as every response is (the same bytes for the same body)."""
    return gzip.compress(body, compresslevel=COMPRESS_LEVEL, mtime=0)


def send_gzipped(response: Response, compressed: bytes) -> None:
    """Make `compressed` (from `gzipped`) the body of `response`."""
    response.set_data(compressed)
    response.headers["Content-Encoding"] = "gzip"
