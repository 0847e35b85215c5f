"""What an operator watches: an access log line per request, /healthz, /readyz and /metrics.

* Access log (``--access-log``, on by default): one logfmt line on standard error when the
  response body is closed: client, method, path (percent-encoded: no line breaks), status, bytes
  sent, duration, request id, and for a SPARQL query a hash of its text (``query=``: the first
  16 hex digits of its SHA-256), so a slow query can be found again without logging what it
  says. The line has the format of `communique serve`'s other log lines (``[time] [pid] [INFO]
  communique.access: ...``) and is written with one ``write()``, without the logging machinery,
  which cost more than the rest of a cached request.
* ``/healthz``: liveness. 200 whenever the process answers; it checks nothing else.
* ``/readyz``: readiness. Runs ``ASK {}`` through the query workers (at most
  `READINESS_TIMEOUT_SECONDS`): 503 ``unavailable`` when they cannot answer. Otherwise 200, with
  ``status`` ``ready``, or ``degraded`` when what is served is not what the operator last asked
  for: the last good version stands in for data that failed at start (``fallback``) or a reload
  failed (``reload_failure``). Degraded is still 200 on purpose: every replica given the same
  bad data would fail alike, and taking all of them out of a load balancer would turn a failed
  update into an outage; alert on ``communique_dataset_fallback`` and
  ``communique_reloads_total{outcome="failed"}`` instead.
* ``/metrics``: Prometheus text (`communique.metrics`), the same from every web worker.
"""

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote

from flask import Blueprint, Flask, Response, current_app, request

from communique.errors import CommuniqueError
from communique.metrics import CONTENT_TYPE, DatasetInfo, Metrics, process_metrics
from communique.web.security import is_query_request
from communique.web.state import EXTENSION_KEY as STATE_KEY
from communique.web.state import current_state
from communique.workers import QueryJob

EXTENSION_KEY = "communique.observability"
READINESS_TIMEOUT_SECONDS = 2.0
QUERY_HASH_KEY = "communique.query_hash"
"""WSGI environ key: the hash of the SPARQL query a request carries (absent for other requests)."""
PATH_SAFE_CHARACTERS = "/:@!$&'()*+,;=-._~"
ACCESS_LOGGER_NAME = "communique.access"
STANDARD_ERROR = 2

blueprint = Blueprint("observability", __name__)


@dataclass
class ReloadStatus:
    """The last failed reload of the data this app serves (serve's master records it)."""

    failure: str | None = None
    failed_at: datetime | None = None


@dataclass(frozen=True)
class Observability:
    """At ``app.extensions["communique.observability"]``."""

    metrics: Metrics
    reload_status: ReloadStatus


def init_app(app: Flask) -> None:
    """The routes, the query hash hook and the access log / metrics middleware."""
    metrics = process_metrics()
    app.extensions[EXTENSION_KEY] = Observability(metrics, ReloadStatus())
    app.register_blueprint(blueprint)
    app.before_request(note_query)
    settings = app.extensions[STATE_KEY].settings
    access_log = AccessLog(STANDARD_ERROR) if settings.access_log else None
    app.wsgi_app = ObservedApp(app.wsgi_app, metrics, access_log)


def record_reload_failure(app: Flask, message: str) -> None:
    """Note on `app` (the one still served) that loading newer data failed."""
    status: ReloadStatus = app.extensions[EXTENSION_KEY].reload_status
    status.failure = message
    status.failed_at = datetime.now(UTC)


# --- routes -----------------------------------------------------------------------------------


@blueprint.route("/healthz")
def healthz() -> Response:
    return _json_response({"status": "ok"}, 200)


@blueprint.route("/readyz")
def readyz() -> Response:
    state = current_state()
    publication = state.publication
    reload_status: ReloadStatus = current_app.extensions[EXTENSION_KEY].reload_status
    document: dict[str, Any] = {
        "version": publication.version,
        "published_at": publication.published_at.isoformat(),
        "triples": publication.triple_count,
        "fallback": publication.fallback_reason,
        "reload_failure": reload_status.failure,
        "reload_failed_at": reload_status.failed_at.isoformat()
        if reload_status.failed_at
        else None,
    }
    try:
        state.pool.run(QueryJob("ASK {}"), timeout=READINESS_TIMEOUT_SECONDS)
    except CommuniqueError as error:
        return _json_response({"status": "unavailable", "reason": error.message, **document}, 503)
    degraded = publication.fallback_reason or reload_status.failure
    return _json_response({"status": "degraded" if degraded else "ready", **document}, 200)


@blueprint.route("/metrics")
def metrics() -> Response:
    state = current_state()
    publication = state.publication
    dataset = DatasetInfo(
        version=publication.version,
        triples=publication.triple_count,
        published_at=publication.published_at,
        fallback=publication.fallback_reason is not None,
    )
    observability: Observability = current_app.extensions[EXTENSION_KEY]
    text = observability.metrics.prometheus_text(state.pool.counters, dataset)
    response = Response(text, 200, content_type=CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


def _isoformat(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _json_response(document: dict[str, Any], status: int) -> Response:
    response = Response(json.dumps(document), status, content_type="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the query hash ---------------------------------------------------------------------------


def note_query() -> None:
    """Put the hash of the request's SPARQL query, if it carries one, in the WSGI environ."""
    if is_query_request():
        text = _query_text()
        if text is not None:
            request.environ[QUERY_HASH_KEY] = query_hash(text)


def query_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _query_text() -> str | None:
    if request.method != "POST":
        return request.args.get("query")
    body = request.get_data(cache=True)
    if request.mimetype == "application/x-www-form-urlencoded":
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return form.get("query", request.args.get("query"))
    return body.decode("utf-8", "replace")


# --- access log and metrics -------------------------------------------------------------------


class ObservedApp:
    """WSGI middleware: when a response body is closed, one access log line and the metrics."""

    def __init__(self, wsgi_app: Callable, metrics: Metrics, access_log: "AccessLog | None"):
        self.wsgi_app = wsgi_app
        self.metrics = metrics
        self.access_log = access_log

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        observation = _Observation(environ, start_response)
        body = self.wsgi_app(environ, observation.start_response)
        return ObservedBody(body, lambda sent: self.record(observation, sent))

    def record(self, observation: "_Observation", sent: int) -> None:
        seconds = time.perf_counter() - observation.started
        environ = observation.environ
        hashed = environ.get(QUERY_HASH_KEY)
        self.metrics.count_request(
            observation.status,
            sent,
            query_seconds=seconds if hashed is not None else None,
        )
        if self.access_log is not None:
            self.access_log.write(_access_line(observation, sent, seconds, hashed))


class _Observation:
    """One request as the middleware sees it: its environ, start time, status and headers."""

    __slots__ = ("environ", "headers", "start_response_of_server", "started", "status")

    def __init__(self, environ: dict, start_response: Callable):
        self.environ = environ
        self.start_response_of_server = start_response
        self.started = time.perf_counter()
        self.status = 500
        self.headers: list[tuple[str, str]] = []

    def start_response(self, status: str, headers: list, *exc_info: Any) -> Callable:
        self.status = int(status.split(" ", 1)[0])
        self.headers = headers
        return self.start_response_of_server(status, headers, *exc_info)


class ObservedBody:
    """A response body that counts the bytes it yields and reports them once, on close."""

    def __init__(self, body: Iterable[bytes], on_close: Callable[[int], None]):
        self._body = body
        self._on_close = on_close
        self._sent = 0
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            self._sent += len(chunk)
            yield chunk

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._on_close(self._sent)


class AccessLog:
    """Access log lines written to a file descriptor (standard error), one ``write()`` each."""

    def __init__(self, descriptor: int):
        self._descriptor = descriptor
        self._second = (-1, "")

    def write(self, fields: str) -> None:
        now = time.time()
        line = (
            f"[{self._timestamp(now)},{int(now * 1000) % 1000:03d}] [{os.getpid()}] [INFO] "
            f"{ACCESS_LOGGER_NAME}: {fields}\n"
        ).encode("utf-8", "backslashreplace")
        while line:
            line = line[os.write(self._descriptor, line) :]

    def _timestamp(self, now: float) -> str:
        """Local time to the second, as the logging module writes it (kept for one second)."""
        second, text = self._second
        if int(now) != second:
            text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
            self._second = (int(now), text)
        return text


def _access_line(observation: _Observation, sent: int, seconds: float, hashed: str | None) -> str:
    environ = observation.environ
    request_id = next(
        (value for name, value in observation.headers if name.lower() == "x-request-id"), "-"
    )
    path = quote(environ.get("PATH_INFO", "").encode("latin-1"), safe=PATH_SAFE_CHARACTERS)
    fields = [
        f"client={environ.get('REMOTE_ADDR', '-')}",
        f"method={quote(environ.get('REQUEST_METHOD', '-'), safe='')}",
        f"path={path or '/'}",
        f"status={observation.status}",
        f"bytes={sent}",
        f"duration_ms={seconds * 1000:.1f}",
        f"request_id={request_id}",
    ]
    if hashed is not None:
        fields.append(f"query={hashed}")
    return " ".join(fields)
