"""`create_app`: settings, publication and query workers in, a Flask app out."""

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from flask import Flask

from communique.isolation import MEBIBYTE
from communique.publication import Publication, publish
from communique.querying import service_policy
from communique.service_description import measure_dataset
from communique.settings import Settings
from communique.store import EmbeddedStore, RemoteStore, Store
from communique.web import (
    dataset,
    http,
    lookup,
    nanopubs,
    observability,
    pages,
    reconcile,
    replay,
    search,
    security,
    sparql,
)
from communique.web.errors import register_error_handler
from communique.web.request import CommuniqueRequest
from communique.web.state import EXTENSION_KEY, AppState
from communique.workers import QueryPool

FORM_OVERHEAD_BYTES = 65536
"""Room for the other parameters of a form POST, beyond the percent-encoded query."""


def create_app(
    config: Mapping[str, Any] | None = None, *, publication: Publication | None = None
) -> Flask:
    """The app serving `publication` (published from `config` when not given).

    Starts the query worker processes, so call it from a process without other threads
    (gunicorn's master before it forks, a test before it starts threads). `AppState.close()`,
    at ``app.extensions["communique"]``, stops them.

    :raises DataError, ShapesViolation: the data cannot be published.
    """
    settings = _settings(config, publication)
    publication = publication or publish(settings)
    sizes = measure_dataset(publication.store)
    pool = QueryPool(
        store_opener(publication.store),
        size=settings.query_workers,
        timeout=settings.timeout,
        memory_limit=settings.memory_limit * MEBIBYTE or None,
    )
    pool.start()
    app = Flask(__name__)
    app.request_class = CommuniqueRequest
    app.config["MAX_CONTENT_LENGTH"] = 3 * settings.max_query_bytes + FORM_OVERHEAD_BYTES
    app.extensions[EXTENSION_KEY] = AppState(
        settings, publication, pool, service_policy(settings), sizes
    )
    http.install(app)
    register_error_handler(app)
    security.init_app(app)
    replay.init_app(app)
    observability.init_app(app)
    app.register_blueprint(sparql.blueprint)
    pages.init_app(app)
    reconcile.init_app(app)
    nanopubs.init_app(app)
    search.init_app(app)
    dataset.init_app(app)
    lookup.init_app(app)
    return app


def _settings(config: Mapping[str, Any] | None, publication: Publication | None) -> Settings:
    if config is None and publication is not None:
        return publication.settings
    return Settings.from_mapping(config)


def store_opener(store: Store) -> Callable[[], Store]:
    """How each query worker process gets its own handle on the store."""
    if isinstance(store, EmbeddedStore):
        return store.reopened_for_this_process
    if isinstance(store, RemoteStore):
        return partial(
            RemoteStore,
            store.endpoint,
            union_default_graph=store.union_default_graph,
            timeout=store.timeout,
        )
    raise TypeError(f"no way to open {type(store).__name__} in a query worker")
