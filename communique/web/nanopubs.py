"""``/dumps/nanopubs.trig``: every claim as a nanopublication (see `communique.nanopubs`).

Built once per publication version in each process and kept in memory; revalidation with the
version's ETag answers 304 without building anything.
"""

import threading

from flask import Blueprint, Flask, Response, current_app

from communique.nanopubs import MEDIA_TYPE, nanopublications_trig
from communique.web.conditional import cacheable, client_has_current, etag_for, not_modified
from communique.web.state import current_state
from communique.web.store_access import store_for_this_process

EXTENSION_KEY = "communique.nanopubs"

blueprint = Blueprint("nanopubs", __name__)


class NanopublicationCache:
    """The TriG export of the current publication version."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: str | None = None
        self._body = b""

    def body_for(self, version: str, build) -> bytes:
        with self._lock:
            if self._version != version:
                self._body = build()
                self._version = version
            return self._body


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = NanopublicationCache()
    app.register_blueprint(blueprint)


@blueprint.get("/dumps/nanopubs.trig")
def nanopublications() -> Response:
    etag = etag_for("nanopubs.trig")
    if client_has_current(etag):
        return not_modified(etag)
    state = current_state()
    publication = state.publication
    cache: NanopublicationCache = current_app.extensions[EXTENSION_KEY]
    body = cache.body_for(
        publication.version,
        lambda: nanopublications_trig(
            store_for_this_process(publication.store), state.settings.base, publication.published_at
        ),
    )
    return cacheable(Response(body, mimetype=MEDIA_TYPE), etag)
