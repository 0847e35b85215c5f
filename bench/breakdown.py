"""Where the time of one SPARQL request goes, layer by layer, measured in one process.

``python -m bench.breakdown DATA.nq`` builds Communiqué's app (with its query worker pool) in
this process, pinned to one core, and times the same ASK query through each layer, innermost
first; the differences between rows are the cost of each layer. It prints JSON:
``{"rows": [[layer, median seconds], ...]}``. Run in a fresh process: the pool forks.
"""

import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlencode

from flask import Flask
from werkzeug.test import EnvironBuilder

from bench.generator import Manifest, manifest_path
from bench.queries import PROLOGUE, RESULTS_JSON, ask_query

REPEATS = 400
WARMUP = 50


def median_seconds(action: Callable[[], object], repeats: int = REPEATS) -> float:
    for _ in range(WARMUP):
        action()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def wsgi_request(app: Flask, path: str, headers: dict[str, str]) -> Callable[[], bytes]:
    """Call `app` directly with a prepared WSGI environ (no test client: its cookie handling
    re-parses the whole URL on every request, which would be counted against the app)."""
    base, _, query = path.partition("?")
    environ = EnvironBuilder(path=base, query_string=query, headers=headers).get_environ()

    def call() -> bytes:
        request = dict(environ, **{"wsgi.input": io.BytesIO()})
        body = app(request, _start_response)
        try:
            return b"".join(body)
        finally:
            getattr(body, "close", lambda: None)()

    return call


def _start_response(status: str, headers: list, exc_info=None) -> Callable[[bytes], None]:
    return lambda data: None


def breakdown(data: Path) -> list[tuple[str, float]]:
    from communique.querying import check_query
    from communique.web.app import create_app
    from communique.web.state import EXTENSION_KEY
    from communique.workers import QueryJob

    manifest = Manifest.read(manifest_path(data))
    text = PROLOGUE + ask_query(manifest).text
    app = create_app({"data": [str(data)], "rate_limit_concurrency": 0})
    state = app.extensions[EXTENSION_KEY]
    path = "/sparql?" + urlencode({"query": text}, quote_via=quote)
    accept = {"Accept": RESULTS_JSON}
    graphs = state.publication.graphs
    try:
        return [
            ("pyoxigraph: store.query (in process)", median_seconds(
                lambda: bool(state.publication.store.query(text)))),
            ("pre-checks: check_query", median_seconds(
                lambda: check_query(state.settings, text, dataset_graphs=graphs))),
            ("query pool round trip: pool.run", median_seconds(
                lambda: state.pool.run(QueryJob(text)))),
            ("bare Flask app, one route", median_seconds(
                wsgi_request(_bare_app(), "/x", {}))),
            ("Communiqué, unknown path: hooks and error page only", median_seconds(
                wsgi_request(app, "/no-such-page", accept))),
            ("Communiqué, GET /sparql ASK: the whole endpoint", median_seconds(
                wsgi_request(app, path, {**accept, "Cache-Control": "no-cache"}))),
            ("Communiqué, the same ASK repeated: answered from the response cache", median_seconds(
                wsgi_request(app, path, accept))),
        ]  # fmt: skip
    finally:
        state.close()


def _bare_app() -> Flask:
    app = Flask("bare")
    app.add_url_rule("/x", "x", lambda: ("ok", 200, {"Content-Type": "text/plain"}))
    return app


def main() -> int:
    os.sched_setaffinity(0, {int(os.environ.get("BENCH_CORE", "0"))})
    rows = breakdown(Path(sys.argv[1]))
    print(json.dumps({"rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
