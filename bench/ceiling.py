"""The Python ceiling: a minimal Flask app that returns recorded responses from memory.

Run under gunicorn with the same settings as Communiqué (``bench.ceiling:app``), it is what the
same WSGI server can do at best for a cheap request. ``BENCH_RECORDINGS`` names a folder holding
``recordings.json`` ({path: [content type, file name]}) and the bodies.
"""

import json
import os
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, current_app, request

RECORDINGS_FILE = "recordings.json"
RECORDINGS_KEY = "BENCH_RECORDINGS"

blueprint = Blueprint("ceiling", __name__)


def create_app(folder: Path) -> Flask:
    index = json.loads((folder / RECORDINGS_FILE).read_text(encoding="utf-8"))
    app = Flask(__name__)
    app.config[RECORDINGS_KEY] = {
        path: (content_type, (folder / name).read_bytes())
        for path, (content_type, name) in index.items()
    }
    app.register_blueprint(blueprint)
    return app


@blueprint.route("/", defaults={"path": ""})
@blueprint.route("/<path:path>")
def recorded(path: str) -> Response:
    query = request.query_string.decode("latin-1")
    found = current_app.config[RECORDINGS_KEY].get(request.path + ("?" + query if query else ""))
    if found is None:
        abort(404)
    content_type, body = found
    return Response(body, 200, content_type=content_type)


def write_recordings(folder: Path, recordings: dict[str, tuple[str, bytes]]) -> None:
    """Store {path: (content type, body)} for `create_app`."""
    folder.mkdir(parents=True, exist_ok=True)
    index = {}
    for number, (path, (content_type, body)) in enumerate(sorted(recordings.items())):
        name = f"body-{number}"
        (folder / name).write_bytes(body)
        index[path] = [content_type, name]
    (folder / RECORDINGS_FILE).write_text(json.dumps(index), encoding="utf-8")


app = create_app(Path(os.environ[RECORDINGS_KEY])) if RECORDINGS_KEY in os.environ else None
"""The WSGI app gunicorn loads (``bench.ceiling:app``)."""
