"""`communique serve`: the app under gunicorn (gthread workers), created once in the master.

The master publishes the data and starts the query worker pool *before* gunicorn runs, while it
is still single-threaded (the pool forks); gunicorn then forks the web workers, which share the
in-memory store copy-on-write and talk to the same query workers. Gunicorn's control socket is
off: it would start a thread in the master and write a file under ``$HOME``.
"""

import logging
import math
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from communique.settings import Settings
from communique.web.app import create_app
from communique.web.state import EXTENSION_KEY, AppState

MIN_WORKER_TIMEOUT_SECONDS = 30
GRACE_SECONDS = 2
KEEPALIVE_SECONDS = 5
MAX_REQUEST_LINE_BYTES = 8190
"""gunicorn's largest allowed request line: GET queries up to about 8 KB; longer ones POST."""


class CommuniqueServer(BaseApplication):
    """A gunicorn application serving an app that already exists."""

    def __init__(self, app: Flask, options: Mapping[str, Any]):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def serve(
    config: Mapping[str, Any], *, host: str, port: int, announce: Callable[[str], None]
) -> None:
    """Publish, then serve until SIGTERM or SIGINT; `announce` gets the ready line.

    Port 0 picks a free port; the ready line names the real one.

    :raises DataError, ShapesViolation: the data cannot be published (nothing is served).
    """
    app = create_app(config)
    state: AppState = app.extensions[EXTENSION_KEY]
    master = os.getpid()
    try:
        CommuniqueServer(app, gunicorn_options(state, host, port, announce)).run()
    finally:
        if os.getpid() == master:
            state.close()


def gunicorn_options(
    state: AppState, host: str, port: int, announce: Callable[[str], None]
) -> dict[str, Any]:
    settings: Settings = state.settings
    publication = state.publication

    def when_ready(server: Any) -> None:
        url = f"{server.LISTENERS[0]}/"
        announce(
            f"Communiqué serving {publication.triple_count} triples "
            f"(version {publication.version}) at {url}"
        )

    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": settings.workers,
        "threads": settings.threads,
        "worker_class": "gthread",
        "preload_app": True,
        "timeout": max(MIN_WORKER_TIMEOUT_SECONDS, math.ceil(settings.timeout * 3)),
        "graceful_timeout": math.ceil(settings.timeout) + GRACE_SECONDS,
        "keepalive": KEEPALIVE_SECONDS,
        "limit_request_line": MAX_REQUEST_LINE_BYTES,
        "control_socket_disable": True,
        "proc_name": "communique",
        "errorlog": "-",
        "loglevel": "warning",
        "when_ready": when_ready,
        "worker_exit": end_web_worker,
    }


def end_web_worker(server: Any, worker: Any) -> None:
    """End a web worker at once, with its exit status, skipping interpreter finalization.

    A web worker inherits the master's store handle. Finalization would close it, and closing
    an on-disk (RocksDB) handle in a forked child waits forever for background threads that
    exist only in the master: the worker would hang until gunicorn killed it.
    """
    in_flight = sys.exc_info()[1]
    status = in_flight.code if isinstance(in_flight, SystemExit) else 0
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status if isinstance(status, int) else 1)
