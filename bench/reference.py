"""The issue's reference publisher: a minimal Flask app over an in-memory pyoxigraph store.

It is what the performance targets were first measured with: no validation, no isolation of
queries in worker processes, no limits, no caching, no negotiation beyond the two formats the
benchmark asks for. Run under gunicorn with Communiqué's worker settings and ``--preload``
(``bench.reference:app``), so its workers share one store copy-on-write, as Communiqué's do.
It shows what a Python HTTP layer over the same engine costs on this machine.
``BENCH_DATA`` names the N-Quads file to load.
"""

import os
from pathlib import Path

from flask import Flask, Response, abort, request
from pyoxigraph import QueryResultsFormat, QueryTriples, RdfFormat, Store

DATA_KEY = "BENCH_DATA"
RESULTS_JSON = "application/sparql-results+json"
N_TRIPLES = "application/n-triples"


def create_app(data: Path) -> Flask:
    store = Store()
    store.bulk_load(path=str(data), format=RdfFormat.N_QUADS)
    app = Flask(__name__)

    @app.get("/query")
    def query() -> Response:
        text = request.args.get("query")
        if text is None:
            abort(400)
        result = store.query(text, use_default_graph_as_union=True)
        if isinstance(result, QueryTriples):
            return Response(result.serialize(format=RdfFormat.N_TRIPLES), mimetype=N_TRIPLES)
        body = result.serialize(format=QueryResultsFormat.JSON)
        return Response(body, mimetype=RESULTS_JSON)

    return app


app = create_app(Path(os.environ[DATA_KEY])) if DATA_KEY in os.environ else None
"""The WSGI app gunicorn loads (``bench.reference:app``)."""
