"""`communique serve`: the app under gunicorn (gthread workers), created once in the master.

The master publishes the data and starts the query worker pool *before* gunicorn runs, while it
is still single-threaded (the pool forks); gunicorn then forks the web workers, which share the
in-memory store copy-on-write and talk to the same query workers. Gunicorn's control socket is
off: it would start a thread in the master and write a file under ``$HOME``.

Reload (SIGHUP, or ``communique reload --pid-file``). Gunicorn's arbiter handles the signal in
its main loop: it re-reads its settings (`CommuniqueServer.reload`, which then builds the next
app), calls ``on_reload``, forks new web workers from the current app and stops the old ones
gracefully. `CommuniqueServer.reload` builds the next app off to the side: it publishes the data
(validated in a child process; with ``--store-dir`` into a new version directory) and starts a
new query pool, in the master, before the new web workers fork. The old web workers go on
answering from the old app meanwhile. If the new data does not conform, cannot be read, or the
build fails in any way, the failure is logged, counted and shown by ``/readyz``, and the old app
stays current: the new web workers fork from it. The old app's query pool is closed only when
every web worker forked from it has exited (``child_exit``). A kill -9 at any moment leaves
either the old version or the new one current on disk (see `communique.publication`).
"""

import logging
import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from communique.errors import CommuniqueError
from communique.metrics import process_metrics
from communique.publication import Progress, publish
from communique.settings import Settings
from communique.web.app import create_app
from communique.web.observability import record_reload_failure
from communique.web.security import GUNICORN_LIMITS
from communique.web.state import EXTENSION_KEY, AppState

log = logging.getLogger(__name__)

MIN_WORKER_TIMEOUT_SECONDS = 30
GRACE_SECONDS = 2
KEEPALIVE_SECONDS = 5
LOG_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"


@dataclass
class RetiringApp:
    """An app a reload replaced, kept until the web workers forked from it have exited."""

    state: AppState
    workers: set[int] = field(default_factory=set)
    known: bool = False
    """True once the workers serving it are known (at gunicorn's ``on_reload``)."""


class CommuniqueServer(BaseApplication):
    """A gunicorn application serving an app built in the master; SIGHUP builds the next one."""

    def __init__(self, app: Flask, options: Mapping[str, Any], *, config: Mapping[str, Any]):
        self.application = app
        self.options = options
        self.config = config
        self.retiring: list[RetiringApp] = []
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        self.cfg.set("on_reload", self.note_old_workers)
        self.cfg.set("child_exit", self.forget_worker)

    def load(self) -> Flask:
        return self.application

    def reload(self) -> None:
        """SIGHUP, in the master: gunicorn's settings, then the next app (or the same one)."""
        super().reload()
        self.application = self.callable = self.next_application()

    def next_application(self) -> Flask:
        """A new app over the data as it is now; the current one when that fails."""
        current = self.application
        try:
            app = create_app(self.config)
        except CommuniqueError as error:
            return self._keep(current, error.message)
        except Exception as error:
            log.exception("reloading failed unexpectedly")
            return self._keep(current, f"{type(error).__name__}: {error}")
        publication = _state(app).publication
        if publication.fallback_reason is not None:
            _state(app).close()
            return self._keep(current, publication.fallback_reason)
        process_metrics().count_reload("succeeded")
        log.info(
            "reloaded: serving version %s (%d triples) instead of %s",
            publication.version,
            publication.triple_count,
            _state(current).publication.version,
        )
        self.retiring.append(RetiringApp(_state(current)))
        return app

    def _keep(self, current: Flask, reason: str) -> Flask:
        process_metrics().count_reload("failed")
        log.error(
            "reload failed; still serving version %s: %s",
            _state(current).publication.version,
            reason,
        )
        record_reload_failure(current, reason)
        return current

    def note_old_workers(self, arbiter: Any) -> None:
        """gunicorn's ``on_reload``: the workers running now serve the apps being retired."""
        for retiring in self.retiring:
            if not retiring.known:
                retiring.workers = set(arbiter.WORKERS)
                retiring.known = True
        self._close_finished()

    def forget_worker(self, arbiter: Any, worker: Any) -> None:
        """gunicorn's ``child_exit``: a web worker is gone."""
        for retiring in self.retiring:
            retiring.workers.discard(worker.pid)
        self._close_finished()

    def _close_finished(self) -> None:
        for retiring in [r for r in self.retiring if r.known and not r.workers]:
            retiring.state.close()
            self.retiring.remove(retiring)

    def close_all(self) -> None:
        """At exit: stop the query pools of the current app and of every retiring one."""
        for retiring in self.retiring:
            retiring.state.close()
        self.retiring.clear()
        _state(self.application).close()


def _state(app: Flask) -> AppState:
    return app.extensions[EXTENSION_KEY]


def serve(
    config: Mapping[str, Any],
    *,
    host: str,
    port: int,
    announce: Callable[[str], None],
    progress: Progress | None = None,
) -> None:
    """Publish, then serve until SIGTERM or SIGINT; `announce` gets the ready line.

    Port 0 picks a free port; the ready line names the real one. `progress` is called while
    big ``--data`` files load (see `communique.publication.publish`).

    :raises DataError, ShapesViolation: the data cannot be published (nothing is served).
    """
    configure_logging()
    app = create_app(publication=publish(Settings.from_mapping(config), progress=progress))
    state = _state(app)
    master = os.getpid()
    server = CommuniqueServer(app, gunicorn_options(state, host, port, announce), config=config)
    try:
        server.run()
    finally:
        if os.getpid() == master:
            server.close_all()


def configure_logging() -> None:
    """Communiqué's messages (reloads, access log, worker deaths) to standard error."""
    logger = logging.getLogger("communique")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


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
        "workers": settings.web_workers(),
        "threads": settings.threads,
        "worker_class": "communique.http_worker.HeadFirstWorker",
        "preload_app": True,
        "timeout": max(MIN_WORKER_TIMEOUT_SECONDS, math.ceil(settings.timeout * 3)),
        "graceful_timeout": math.ceil(settings.timeout) + GRACE_SECONDS,
        "keepalive": KEEPALIVE_SECONDS,
        **GUNICORN_LIMITS,
        "pidfile": settings.pid_file,
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
