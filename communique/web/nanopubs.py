"""Nanopublications (see `communique.nanopubs`): ``/dumps/nanopubs.trig`` holds every claim's;
``/np/<path>`` dereferences one (TriG or N-Quads; a browser is sent to the claim's page).

Built once per publication version in each process and kept in memory; revalidation with the
version's ETag answers 304 without building anything.
"""

import threading
from collections import defaultdict

import pyoxigraph as ox
from flask import Blueprint, Flask, Response, current_app, redirect, request

from communique.errors import NotFound
from communique.nanopubs import TRIG_PREFIXES, nanopublication_quads
from communique.negotiation import FORMAT_TO_MEDIA_TYPE, choose_format
from communique.web.conditional import cacheable, client_has_current, etag_for, not_modified
from communique.web.page_support import url_builder
from communique.web.state import current_state
from communique.web.store_access import store_for_this_process

EXTENSION_KEY = "communique.nanopubs"

blueprint = Blueprint("nanopubs", __name__)


class NanopublicationCache:
    """The nanopublications of the current publication version: all of them as TriG, and the
    quads of each by its IRI."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: str | None = None
        self.trig = b""
        self.by_iri: dict[str, list[ox.Quad]] = {}

    def current(self, version: str, build) -> "NanopublicationCache":
        with self._lock:
            if self._version != version:
                quads = list(build())
                self.by_iri = defaultdict(list)
                for quad in quads:
                    self.by_iri[quad.graph_name.value.partition("#")[0]].append(quad)
                self.trig = ox.serialize(quads, format=ox.RdfFormat.TRIG, prefixes=TRIG_PREFIXES)
                self._version = version
            return self


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = NanopublicationCache()
    app.register_blueprint(blueprint)


def current_nanopublications() -> NanopublicationCache:
    state = current_state()
    publication = state.publication
    cache: NanopublicationCache = current_app.extensions[EXTENSION_KEY]
    return cache.current(
        publication.version,
        lambda: nanopublication_quads(
            store_for_this_process(publication.store), state.settings.base, publication.published_at
        ),
    )


@blueprint.get("/dumps/nanopubs.trig")
def nanopublications() -> Response:
    etag = etag_for("nanopubs.trig")
    if client_has_current(etag):
        return not_modified(etag)
    body = current_nanopublications().trig
    return cacheable(Response(body, mimetype=FORMAT_TO_MEDIA_TYPE["trig"]), etag)


@blueprint.get("/np/<path:path>")
def nanopublication(path: str) -> Response:
    """One claim's nanopublication; `html` sends a browser to the claim's page instead."""
    base = current_state().settings.base
    quads = current_nanopublications().by_iri.get(base + "np/" + path)
    if not quads:
        raise NotFound(f"there is no nanopublication np/{path}")
    chosen = choose_format(
        request.headers.get("Accept"),
        ("trig", "nquads", "html"),
        default="trig",
        format_param=request.args.getlist("format") or None,
    )
    if chosen == "html":
        return redirect(url_builder().page_url(base + "id/" + path), 303)
    etag = etag_for("np", path, chosen)
    if client_has_current(etag):
        return not_modified(etag)
    rdf_format = ox.RdfFormat.TRIG if chosen == "trig" else ox.RdfFormat.N_QUADS
    body = ox.serialize(quads, format=rdf_format, prefixes=TRIG_PREFIXES)
    response = Response(body, mimetype=FORMAT_TO_MEDIA_TYPE[chosen])
    response.vary.add("Accept")
    return cacheable(response, etag)
