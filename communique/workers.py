"""Pre-forked query worker processes: every user query runs in a process that can be killed.

pyoxigraph cannot cancel a running query, and a hostile query can crash the process that runs it,
so the web process never evaluates user SPARQL itself: `QueryPool.run` hands the job to a worker
process and waits for its answer until a wall-clock deadline.

Processes (Linux). `QueryPool.start()` binds a Unix socket in a private directory (mode 0700) and
forks a **supervisor** (single-threaded, in its own process group so terminal signals pass it by),
which forks `size` **workers**. Each worker opens the store once (``open_store()``: an in-memory
store is shared copy-on-write, an on-disk one reopened read-only), limits its address space
(``RLIMIT_AS`` = its size after opening + ``memory_limit``) and, per job, its CPU time
(``RLIMIT_CPU`` = CPU used + timeout + 2 s, a second fence behind the deadline), then serves one
connection at a time. The supervisor reaps dead workers and forks replacements at once (after a
short pause for a worker that died within half a second, so a broken store cannot fork-loop); it
exits, killing its workers, on SIGTERM or when the process that started it dies. Workers die with
the supervisor (``PR_SET_PDEATHSIG``).

One connection per job; every message is a frame: ``struct "!IQ"`` (header length, body length),
a JSON header, then the body bytes. Sockets are non-blocking; each side waits with ``poll()``
only when it must, so a job costs the client one connection, one write and one read.

Where a job goes. Each worker slot has its own socket besides the shared one, and an **idle**
mark in shared memory (set while the worker waits for a job, and already when it has its answer
ready to send). A client sends its job to the lowest-numbered idle slot's own socket (and
clears the mark), so that jobs keep going to the same process while it keeps up, whose caches
are warm from the last ones: the kernel hands a shared socket's connections to its waiting
processes in turn, which made queries up to 5× slower at 10⁶ triples. The mark is a hint
(another client may have got there first): a job that is neither answered nor claimed (step 2)
within `_PICKUP_SECONDS` is withdrawn as at a deadline (the client shuts down, then looks for
its claim; unclaimed, it will never run; claimed, the worker answers it or says it did not run
it) and, when not run, sent to the shared socket, where the first worker to be free takes it.
With no idle slot the job goes to the shared socket at once. A worker takes jobs from its own
socket first.

1. client → worker, as soon as connected: the job (`QueryJob` fields, ``timeout``, and a
   ``ticket``: a number no other job in flight has, from the client's PID and a counter).
2. the worker reads the job, writes the ticket into its slot's **claim** cell in shared memory,
   and only then checks that the client is still there (``poll()`` for ``POLLRDHUP``: a client
   that gives up shuts down its sending side). If it is gone the worker runs nothing, and says
   so (``{"not_run": true}``: a client withdrawing a job reads it, see below).
3. worker → client: ``{"kind", "format", "media_type", "count", "truncated", "duration"}`` and
   the serialised answer as body, or ``{"error": {"class", "attributes"}, "duration"}``; the
   client re-raises the error with the same class and attributes (message, line, column...).
4. the worker waits until the client closes the connection, and only then clears its claim and
   takes the next job, so a client that kills "its" worker on a deadline can never hit another
   client's job.

At the deadline the client first shuts down its sending side, then looks for its ticket among
the claims. Found in slot *i*: the worker in slot *i* took the job; its PID (written by the
worker when it starts, after clearing its claim) is read, checked to be a child of the
supervisor (``/proc``) and the claim read again, then that worker is killed (`QueryTimeout`).
Not found: no worker took the job (the pool is busy), and none will run it: a worker claims
before it checks for the hang-up, and the client shuts down before it looks for the claim, so
either the worker sees the hang-up or the client sees the claim. The ticket replaces a "hello"
message with the worker's PID, which cost every job an extra round trip (two context switches
on one core). Why not ``SO_PEERCRED``: on a Unix stream socket the client's peer credentials
are those of the process that called ``listen()``: the web process that started the pool, not
the worker that accepted. Killing that PID would kill the server.

Query workers run under ``SCHED_BATCH``: a worker woken by a new connection does not preempt the
web thread that is still writing the job to it, so on a busy core a job costs two context
switches, not four; and heavy queries yield to web requests.

Counters live in anonymous shared memory made before forking, so every process (the web
workers forked later by gunicorn too) reads the same numbers, and each cell has one writer at
a time (no locks, which a killed process could leave held): the supervisor counts restarts,
timeouts and crashes as it reaps (a worker killed by SIGKILL counts as a timeout when a client
recorded it had stopped that PID, otherwise as a crash), the worker in slot *i* counts its
queries, the client serving a worker records the PID it stops. The idle marks are the exception:
a worker sets its own, and the client that picks a slot clears it so that concurrent clients
spread out; a stale mark only costs a withdrawn job (see "Where a job goes").
"""

import atexit
import contextlib
import ctypes
import functools
import itertools
import json
import logging
import math
import mmap
import os
import resource
import select
import shutil
import signal
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NoReturn

from communique import errors
from communique.errors import CommuniqueError, QueryTimeout, ServiceUnavailable, WorkerCrashed
from communique.results import SerializedAnswer, serialize_answer
from communique.store import QueryDataset, Store

log = logging.getLogger(__name__)

COUNTER_NAMES = ("restarts", "timeouts", "crashes", "queries")

_FRAME = struct.Struct("!IQ")
_MAX_HEADER_BYTES = 1 << 24
_READ_BYTES = 1 << 16
_HANG_UP = select.POLLRDHUP | select.POLLHUP | select.POLLERR
_JOB_READ_SECONDS = 5.0
_SEND_SECONDS = 60.0
_CLOSE_WAIT_SECONDS = 5.0
_CPU_GRACE_SECONDS = 2.0
_SUPERVISOR_POLL_SECONDS = 0.5
_QUICK_DEATH_SECONDS = 0.5
_RESPAWN_PAUSE_SECONDS = 0.5
_STOP_WAIT_SECONDS = 5.0
_BACKLOG = 1024
_SLOT_BACKLOG = 64
_PICKUP_SECONDS = 0.01
_PR_SET_PDEATHSIG = 1
_SUPERVISOR_SIGNALS = frozenset({signal.SIGCHLD, signal.SIGTERM})
_NOT_RUN = {"not_run": True}


@dataclass(frozen=True)
class QueryJob:
    """One query to evaluate and serialise in a worker."""

    query: str
    dataset: QueryDataset | None = None
    results_format: str = "json"
    graph_format: str = "turtle"
    max_rows: int = 10000
    base_iri: str | None = None
    prefixes: Mapping[str, str] | None = None
    """Prefixes for Turtle, TriG and RDF/XML answers (see `serialize_answer`)."""


class QueryPool:
    """Worker processes that evaluate queries; `run` is safe from any thread of any process
    forked after `start` (e.g. gunicorn workers of a preloading master)."""

    def __init__(
        self,
        open_store: Callable[[], Store],
        *,
        size: int = 2,
        timeout: float = 10.0,
        memory_limit: int | None = None,
        socket_dir: str | None = None,
    ):
        if size < 1:
            raise ValueError(f"a query pool needs at least one worker, not {size}")
        if timeout <= 0:
            raise ValueError(f"the query timeout must be positive, not {timeout}")
        self.size = size
        self.timeout = timeout
        self.memory_limit = memory_limit
        self._open_store = open_store
        self._socket_dir = socket_dir
        self._directory: str | None = None
        self._socket_path: str | None = None
        self._slot_paths: tuple[str, ...] = ()
        self._owner_pid: int | None = None
        self._supervisor_pid: int | None = None
        self._counters: _SharedCounters | None = None
        self._closed = False

    def start(self) -> None:
        """Fork the supervisor, which forks the workers. A pool starts once.

        Call it from a process running no other thread (e.g. gunicorn's master before it forks,
        or a test before it starts threads): a lock held by another thread at ``fork()`` would
        stay held forever in every worker.

        :raises RuntimeError: the pool was started or closed before, or other threads run.
        """
        if self._owner_pid is not None or self._closed:
            raise RuntimeError("a QueryPool starts once")
        if threading.active_count() > 1:
            raise RuntimeError(
                "QueryPool.start() forks: call it before this process starts any other thread"
            )
        directory = tempfile.mkdtemp(prefix="communique-queries-", dir=self._socket_dir)
        path = os.path.join(directory, "workers.sock")
        slot_paths = tuple(
            os.path.join(directory, f"slot-{slot}.sock") for slot in range(self.size)
        )
        counters = _SharedCounters(self.size)
        try:
            with contextlib.ExitStack() as listeners:
                shared = listeners.enter_context(_listener(path, _BACKLOG))
                own = [listeners.enter_context(_listener(p, _SLOT_BACKLOG)) for p in slot_paths]
                supervisor = _Supervisor(
                    _Listeners(shared, tuple(own)),
                    self._open_store,
                    self.size,
                    self.memory_limit,
                    counters,
                    os.getpid(),
                )
                pid = _fork_with_blocked_signals(supervisor.run_as_process)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        self._directory, self._socket_path, self._counters = directory, path, counters
        self._slot_paths = slot_paths
        self._owner_pid, self._supervisor_pid = os.getpid(), pid
        atexit.register(self.close)

    def run(self, job: QueryJob, timeout: float | None = None) -> SerializedAnswer:
        """Evaluate `job` in a worker and return its serialised answer.

        The deadline (`timeout`, else the pool's) also covers waiting for a free worker.

        :raises QueryTimeout: the deadline passed (the worker was killed), or no worker was free.
        :raises WorkerCrashed: the worker died before answering.
        :raises ServiceUnavailable: the pool is not running.
        :raises CommuniqueError: the job's own error (QuerySyntaxError, NotAcceptable...).
        """
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        message = self._run_on_idle_worker(job, limit, deadline)
        if message is None:
            message = self._run_queued(job, limit, deadline)
        header, body = message
        if "error" in header:
            raise _error_from_wire(header["error"])
        return SerializedAnswer(
            kind=header["kind"],
            format=header["format"],
            media_type=header["media_type"],
            body=body,
            count=header["count"],
            truncated=header["truncated"],
            duration=header["duration"],
        )

    def _run_on_idle_worker(
        self, job: QueryJob, limit: float, deadline: float
    ) -> tuple[dict, bytes] | None:
        """The job sent straight to the lowest-numbered idle worker (whose caches are warm
        from the last jobs); None when no worker was idle or the one chosen did not take the
        job within `_PICKUP_SECONDS` (another client got to it first): nothing was run."""
        slot = None if self._counters is None else self._counters.idle_slot()
        if slot is None or self._closed:
            return None
        self._counters.set_idle(slot, False)  # taken: the next client looks elsewhere
        connection = _connect_once(self._slot_paths[slot])
        if connection is None:
            return None
        ticket = _new_ticket()
        withdrawing = False
        with connection:
            pickup = min(deadline, time.monotonic() + _PICKUP_SECONDS)
            try:
                _send_message(connection, _job_to_wire(job, limit, ticket), deadline=pickup)
                _wait_for(connection, select.POLLIN, pickup)
            except TimeoutError:
                if not self._counters.claims(slot, ticket):
                    withdrawing = True
                    if self._withdrawn(connection, slot, ticket):
                        return None
            except OSError:
                return None  # nothing was claimed: a worker reads the whole job first
            return self._answer_of(connection, ticket, limit, deadline, withdrawing=withdrawing)

    def _withdrawn(self, connection: socket.socket, slot: int, ticket: int) -> bool:
        """Hang up an unclaimed job; True when its worker will not run it (see the module's
        note: a worker claims before it looks for the hang-up)."""
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_WR)
        return not self._counters.claims(slot, ticket)

    def _run_queued(self, job: QueryJob, limit: float, deadline: float) -> tuple[dict, bytes]:
        """The job queued for the first worker to become free."""
        ticket = _new_ticket()
        with self._connect(self._socket_path, deadline, limit) as connection:
            try:
                _send_message(connection, _job_to_wire(job, limit, ticket), deadline=deadline)
            except TimeoutError as error:
                raise self._give_up(connection, ticket, limit) from error
            except (EOFError, ConnectionError) as error:
                raise self._lost() from error
            return self._answer_of(connection, ticket, limit, deadline, withdrawing=False)

    def _answer_of(
        self,
        connection: socket.socket,
        ticket: int,
        limit: float,
        deadline: float,
        *,
        withdrawing: bool,
    ) -> tuple[dict, bytes] | None:
        """The worker's answer; None when a job being withdrawn was not run (its worker
        claimed it, then saw the hang-up)."""
        try:
            message = _receive_message(connection, deadline)
        except TimeoutError as error:
            raise self._give_up(connection, ticket, limit) from error
        except (EOFError, ConnectionError) as error:
            if withdrawing:
                return None
            raise self._lost() from error
        return None if withdrawing and message[0] == _NOT_RUN else message

    def close(self) -> None:
        """Stop the supervisor and its workers and remove the socket; idempotent (also atexit).

        In a process forked after `start` (a web worker) it only stops using the pool, which
        belongs to the process that started it.
        """
        if self._closed:
            return
        self._closed = True
        if self._supervisor_pid is None or os.getpid() != self._owner_pid:
            return
        atexit.unregister(self.close)
        _stop_child(self._supervisor_pid)
        shutil.rmtree(self._directory, ignore_errors=True)

    @property
    def counters(self) -> dict[str, int]:
        """Counts of restarts, timeouts, crashes and queries, the same in every process."""
        if self._counters is None:
            return dict.fromkeys(COUNTER_NAMES, 0)
        return self._counters.snapshot()

    def _connect(self, path: str | None, deadline: float, limit: float) -> socket.socket:
        if path is None or self._closed:
            raise ServiceUnavailable("the query workers are not running")
        while True:
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
            try:
                connection.connect(path)
                return connection
            except (FileNotFoundError, ConnectionRefusedError) as error:
                connection.close()
                raise ServiceUnavailable("the query workers are not running") from error
            except BlockingIOError as error:  # the backlog is full
                connection.close()
                if time.monotonic() >= deadline:
                    raise _busy(limit) from error
                time.sleep(0.01)

    def _give_up(self, connection: socket.socket, ticket: int, limit: float) -> QueryTimeout:
        """At the deadline: hang up, then stop the worker that took the job, if one did."""
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_WR)
        slot = self._counters.slot_claiming(ticket)
        if slot is None:
            return _busy(limit)
        self._stop_worker(slot, ticket)
        return QueryTimeout(
            f"the query ran longer than the time limit of {limit:g} s and was stopped",
            headers={"Retry-After": str(max(1, math.ceil(limit)))},
        )

    def _stop_worker(self, slot: int, ticket: int) -> None:
        pid = self._counters.worker_pid(slot)
        if _parent_pid(pid) != self._supervisor_pid or not self._counters.claims(slot, ticket):
            return
        self._counters.mark_stopped(slot, pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def _lost(self) -> CommuniqueError:
        """The connection closed before an answer: the worker died, or the whole pool did."""
        if _parent_pid(self._supervisor_pid) != self._owner_pid:
            return ServiceUnavailable("the query workers stopped; try again shortly")
        return WorkerCrashed(
            "the process evaluating the query died before answering (it crashed or ran out "
            "of memory); it has been replaced"
        )


def _connect_once(path: str) -> socket.socket | None:
    """A non-blocking connection to `path`, or None when it cannot take one now."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
    try:
        connection.connect(path)
    except OSError:
        connection.close()
        return None
    return connection


def _listener(path: str, backlog: int) -> socket.socket:
    """A non-blocking listening Unix socket at `path` (workers wait for it with poll)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
    try:
        listener.bind(path)
        listener.listen(backlog)
    except BaseException:
        listener.close()
        raise
    return listener


@dataclass(frozen=True)
class _Listeners:
    """Where jobs arrive: the shared queue any worker takes from, and one socket per slot."""

    shared: socket.socket
    own: tuple[socket.socket, ...]


def _fork_with_blocked_signals(child: Callable[[], NoReturn]) -> int:
    """Fork a process running `child` with SIGCHLD and SIGTERM blocked from its first
    instruction (it waits for them with sigtimedwait); the parent's mask is kept."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _SUPERVISOR_SIGNALS)
    try:
        pid = os.fork()
        if pid == 0:
            child()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    return pid


def _busy(limit: float) -> QueryTimeout:
    return QueryTimeout(
        f"no query worker became free within {limit:g} s: the service is busy; retry shortly",
        headers={"Retry-After": "1"},
    )


class _SharedCounters:
    """Counters and claims in anonymous shared memory, each cell with one writer at a time (see
    the module's note). Per slot: queries, the PID a client stopped, the ticket of the job the
    worker has claimed (0: none) and the worker's PID."""

    RESTARTS, TIMEOUTS, CRASHES = 0, 1, 2
    _PER_SLOT = 5

    def __init__(self, size: int):
        self._size = size
        self._memory = mmap.mmap(-1, 8 * (3 + self._PER_SLOT * size))
        self._cells = memoryview(self._memory).cast("q")

    def add(self, index: int) -> None:
        self._cells[index] += 1

    def count_query(self, slot: int) -> None:
        self._cells[3 + slot] += 1

    def mark_stopped(self, slot: int, pid: int) -> None:
        self._cells[3 + self._size + slot] = pid

    def was_stopped(self, slot: int, pid: int) -> bool:
        return self._cells[3 + self._size + slot] == pid

    def start_worker(self, slot: int, pid: int) -> None:
        """A new worker in `slot`: no claim, then its PID (clients read them in that order)."""
        self.claim(slot, 0)
        self.set_idle(slot, False)
        self._cells[3 + 3 * self._size + slot] = pid

    def set_idle(self, slot: int, idle: bool) -> None:
        """Whether the worker in `slot` is waiting for a job (a hint: it may be taken meanwhile)."""
        self._cells[3 + 4 * self._size + slot] = int(idle)

    def idle_slot(self) -> int | None:
        """The lowest slot whose worker is waiting for a job, if any."""
        idle = self._cells[3 + 4 * self._size : 3 + 5 * self._size]
        return next((slot for slot, flag in enumerate(idle) if flag), None)

    def claim(self, slot: int, ticket: int) -> None:
        self._cells[3 + 2 * self._size + slot] = ticket

    def claims(self, slot: int, ticket: int) -> bool:
        return self._cells[3 + 2 * self._size + slot] == ticket

    def slot_claiming(self, ticket: int) -> int | None:
        claims = self._cells[3 + 2 * self._size : 3 + 3 * self._size]
        return next((slot for slot, held in enumerate(claims) if held == ticket), None)

    def queries_of(self, slot: int) -> int:
        return self._cells[3 + slot]

    def worker_pid(self, slot: int) -> int:
        return self._cells[3 + 3 * self._size + slot]

    def snapshot(self) -> dict[str, int]:
        cells = self._cells
        queries = sum(cells[3 : 3 + self._size])
        return dict(zip(COUNTER_NAMES, (cells[0], cells[1], cells[2], queries), strict=True))


# --- the supervisor process -------------------------------------------------------------------


class _Supervisor:
    """Keeps `size` workers alive; runs in its own process (see `run_as_process`)."""

    def __init__(
        self,
        listeners: _Listeners,
        open_store: Callable[[], Store],
        size: int,
        memory_limit: int | None,
        counters: _SharedCounters,
        owner_pid: int,
    ):
        self._listeners = listeners
        self._open_store = open_store
        self._size = size
        self._memory_limit = memory_limit
        self._counters = counters
        self._owner_pid = owner_pid
        self._workers: dict[int, tuple[int, float]] = {}
        self._respawn_at: dict[int, float] = {}

    def run_as_process(self) -> NoReturn:
        """The body of the forked supervisor process; never returns."""
        code = 0
        try:
            os.setpgid(0, 0)
            _reset_inherited_signal_handlers()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self._supervise()
        except BaseException:
            code = 1
            log.exception("the query worker supervisor failed")
        finally:
            os._exit(code)

    def _supervise(self) -> None:
        for slot in range(self._size):
            self._fork_worker(slot)
        while os.getppid() == self._owner_pid:
            received = signal.sigtimedwait(_SUPERVISOR_SIGNALS, self._next_wait())
            if received is not None and received.si_signo == signal.SIGTERM:
                break
            self._reap()
            self._respawn_due()
        self._stop_workers()
        if os.getppid() != self._owner_pid:  # nobody is left to remove the socket
            directory = os.path.dirname(self._listeners.shared.getsockname())
            shutil.rmtree(directory, ignore_errors=True)

    def _next_wait(self) -> float:
        if not self._respawn_at:
            return _SUPERVISOR_POLL_SECONDS
        soonest = min(self._respawn_at.values()) - time.monotonic()
        return min(max(soonest, 0.001), _SUPERVISOR_POLL_SECONDS)

    def _fork_worker(self, slot: int) -> None:
        supervisor_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            _Worker(self._listeners, slot, self._counters).run_as_process(
                self._open_store, self._memory_limit, supervisor_pid=supervisor_pid
            )
        self._workers[pid] = (slot, time.monotonic())

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot, started = self._workers.pop(pid)
            self._counters.set_idle(slot, False)
            self._count_death(slot, pid, os.waitstatus_to_exitcode(status))
            quick = time.monotonic() - started < _QUICK_DEATH_SECONDS
            self._respawn_at[slot] = time.monotonic() + (_RESPAWN_PAUSE_SECONDS if quick else 0)

    def _count_death(self, slot: int, pid: int, exit_code: int) -> None:
        if exit_code == -signal.SIGKILL and self._counters.was_stopped(slot, pid):
            self._counters.add(_SharedCounters.TIMEOUTS)
        elif exit_code != 0:
            self._counters.add(_SharedCounters.CRASHES)
            cause = signal.strsignal(-exit_code) if exit_code < 0 else f"exit status {exit_code}"
            log.warning("query worker %d died (%s); replacing it", pid, cause)

    def _respawn_due(self) -> None:
        now = time.monotonic()
        for slot, when in list(self._respawn_at.items()):
            if when <= now:
                del self._respawn_at[slot]
                self._fork_worker(slot)
                self._counters.add(_SharedCounters.RESTARTS)

    def _stop_workers(self) -> None:
        for pid in self._workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in self._workers:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _reset_inherited_signal_handlers() -> None:
    """Python handlers installed by the starting program (gunicorn's...) must not run here."""
    for number in signal.valid_signals():
        if callable(signal.getsignal(number)):
            signal.signal(number, signal.SIG_DFL)


# --- the worker processes ---------------------------------------------------------------------


class _Worker:
    """Serves jobs, one connection at a time; runs in its own process (see `run_as_process`)."""

    def __init__(self, listeners: _Listeners, slot: int, counters: _SharedCounters):
        self._listeners = (listeners.own[slot], listeners.shared)
        self._slot = slot
        self._counters = counters

    def run_as_process(
        self, open_store: Callable[[], Store], memory_limit: int | None, *, supervisor_pid: int
    ) -> NoReturn:
        """The body of a forked worker process; never returns. It opens the store and serves
        jobs from a thread of its own (see `_in_own_arena`)."""
        code = 1
        try:
            _die_with_parent(supervisor_pid)
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))  # the thread inherits it
            self._counters.start_worker(self._slot, os.getpid())
            _in_own_arena(functools.partial(self._open_and_serve, open_store, memory_limit))
            code = 0
        except BaseException:
            log.exception("query worker %d stopped", os.getpid())
        finally:
            os._exit(code)

    def _open_and_serve(self, open_store: Callable[[], Store], memory_limit: int | None) -> None:
        store = open_store()
        if memory_limit is not None:
            _limit_address_space(memory_limit)
        self._serve(store)

    def _serve(self, store: Store) -> None:
        """Answer jobs until one leaves this process unfit to go on; it then exits."""
        poller = select.poll()
        for listener in self._listeners:
            poller.register(listener, select.POLLIN)
        while True:
            with self._next_connection(poller) as connection:
                connection.setblocking(False)
                if not self._serve_connection(connection, store):
                    return

    def _next_connection(self, poller: select.poll) -> socket.socket:
        """A job sent to this slot, else the next one queued for any worker."""
        while True:
            self._counters.set_idle(self._slot, True)
            poller.poll()
            self._counters.set_idle(self._slot, False)
            for listener in self._listeners:
                with contextlib.suppress(BlockingIOError):
                    connection, _ = listener.accept()
                    return connection

    def _serve_connection(self, connection: socket.socket, store: Store) -> bool:
        try:
            request, _ = _receive_message(connection, time.monotonic() + _JOB_READ_SECONDS)
            job, timeout, ticket = _job_from_wire(request)
        except (OSError, EOFError, TimeoutError, ValueError, KeyError, TypeError):
            return True
        self._counters.claim(self._slot, ticket)
        try:
            if _client_gave_up(connection):
                with contextlib.suppress(OSError, TimeoutError):
                    _send_message(connection, _NOT_RUN, deadline=time.monotonic() + _SEND_SECONDS)
                _wait_for_close(connection, _CLOSE_WAIT_SECONDS)
                return True
            self._counters.count_query(self._slot)
            _limit_cpu(timeout)
            header, body, fit = _answer(store, job)
            # Idle from now, before the client can read the answer: its next job (or another
            # client's) can come straight here, to this process's caches warm from this one.
            self._counters.set_idle(self._slot, fit)
            with contextlib.suppress(OSError, TimeoutError):
                _send_message(connection, header, body, deadline=time.monotonic() + _SEND_SECONDS)
                _wait_for_close(connection, _CLOSE_WAIT_SECONDS)
            return fit
        finally:
            self._counters.claim(self._slot, 0)


def _in_own_arena(work: Callable[[], None]) -> None:
    """Run `work` in a new thread and wait for it; raise what it raised.

    glibc gives the thread a malloc arena of its own, so a query's memory comes from fresh pages.
    In the main thread it would come from the main arena, which a forked worker shares
    copy-on-write with the process that loaded the in-memory store: allocating there writes
    among the store's pages (copying them) and scatters the query's memory. At 10⁶ triples a
    query ran up to 1.6× slower in the main thread of one process than in another thread.
    """
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:
            failures.append(error)

    thread = threading.Thread(target=run, name="query-worker")
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


def _answer(store: Store, job: QueryJob) -> tuple[dict, bytes, bool]:
    """(header, body, whether this process is fit for more jobs) for one job."""
    started = time.perf_counter()
    try:
        evaluate = functools.partial(
            store.query, job.query, job.dataset, base_iri=job.base_iri, stream=True
        )
        answer = serialize_answer(
            evaluate(),
            results_format=job.results_format,
            graph_format=job.graph_format,
            max_rows=job.max_rows,
            prefixes=job.prefixes,
            evaluate_again=evaluate,
        )
    except CommuniqueError as error:
        return _error_header(error, started), b"", True
    except MemoryError:
        error = ServiceUnavailable("the query needed more memory than one query may use")
        return _error_header(error, started), b"", False
    except Exception:
        log.exception("query worker %d failed on a query", os.getpid())
        error = CommuniqueError("the query failed because of an internal error")
        return _error_header(error, started), b"", False
    header = {
        "kind": answer.kind,
        "format": answer.format,
        "media_type": answer.media_type,
        "count": answer.count,
        "truncated": answer.truncated,
        "duration": time.perf_counter() - started,
    }
    return header, answer.body, True


def _die_with_parent(parent_pid: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:
        os._exit(0)


def _limit_address_space(memory_limit: int) -> None:
    with open("/proc/self/statm") as statm:
        size = int(statm.read().split()[0]) * resource.getpagesize()
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = size + memory_limit
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _limit_cpu(timeout: float) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + timeout + _CPU_GRACE_SECONDS)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


# --- the wire ---------------------------------------------------------------------------------


def _send_message(
    connection: socket.socket, header: dict, body: bytes = b"", *, deadline: float
) -> None:
    """Write one frame on a non-blocking socket, in one system call when it fits.

    :raises TimeoutError: at the deadline. :raises OSError: the peer is gone.
    """
    encoded = json.dumps(header, default=str).encode()
    pending = [memoryview(_FRAME.pack(len(encoded), len(body)) + encoded)]
    if body:
        pending.append(memoryview(body))
    while pending:
        try:
            sent = connection.sendmsg(pending)
        except BlockingIOError:
            _wait_for(connection, select.POLLOUT, deadline)
            continue
        while sent:
            taken = min(sent, len(pending[0]))
            pending[0] = pending[0][taken:]
            sent -= taken
            if not pending[0]:
                pending.pop(0)


def _receive_message(connection: socket.socket, deadline: float) -> tuple[dict, bytes]:
    """Read one frame from a non-blocking socket; what already arrived is read even after the
    deadline.

    :raises TimeoutError: at the deadline. :raises EOFError: the peer closed first.
    """
    received = _receive_at_least(connection, bytearray(), _FRAME.size, deadline)
    header_length, body_length = _FRAME.unpack_from(received)
    if header_length > _MAX_HEADER_BYTES:
        raise EOFError(f"a message header of {header_length} bytes is not from a Communiqué peer")
    end = _FRAME.size + header_length
    received = _receive_at_least(connection, received, end + body_length, deadline)
    return json.loads(received[_FRAME.size : end]), bytes(received[end : end + body_length])


def _receive_at_least(
    connection: socket.socket, received: bytearray, size: int, deadline: float
) -> bytearray:
    """`received` with more bytes read into it until it holds at least `size`."""
    if len(received) >= size:
        return received
    buffer = bytearray(max(size, _READ_BYTES))
    buffer[: len(received)] = received
    view = memoryview(buffer)
    filled = len(received)
    while filled < size:
        try:
            count = connection.recv_into(view[filled:])
        except BlockingIOError:
            _wait_for(connection, select.POLLIN, deadline)
            continue
        if count == 0:
            raise EOFError("the peer closed the connection")
        filled += count
    del view
    del buffer[filled:]
    return buffer


def _wait_for(connection: socket.socket, events: int, deadline: float) -> None:
    """Block until the socket is ready for `events` (or hung up).

    :raises TimeoutError: the deadline passed first.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("deadline reached")
    poller = select.poll()
    poller.register(connection, events)
    if not poller.poll(math.ceil(remaining * 1000)):
        raise TimeoutError("deadline reached")


def _client_gave_up(connection: socket.socket) -> bool:
    """True when the client has shut down its sending side (or closed): it gave up."""
    poller = select.poll()
    poller.register(connection, select.POLLRDHUP)
    return any(events & _HANG_UP for _, events in poller.poll(0))


def _wait_for_close(connection: socket.socket, seconds: float) -> None:
    """Wait until the peer has closed the connection (``POLLHUP``), at most `seconds`."""
    poller = select.poll()
    poller.register(connection, 0)
    poller.poll(math.ceil(seconds * 1000))


_TICKETS = itertools.count(1)


def _new_ticket() -> int:
    """A non-zero number that no other job in flight has: this PID and a counter."""
    return (os.getpid() << 32) | (next(_TICKETS) & 0xFFFFFFFF)


def _job_to_wire(job: QueryJob, timeout: float, ticket: int) -> dict:
    dataset = job.dataset
    return {
        "query": job.query,
        "dataset": None if dataset is None else [dataset.default_graphs, dataset.named_graphs],
        "results_format": job.results_format,
        "graph_format": job.graph_format,
        "max_rows": job.max_rows,
        "base_iri": job.base_iri,
        "prefixes": None if job.prefixes is None else dict(job.prefixes),
        "timeout": timeout,
        "ticket": ticket,
    }


def _job_from_wire(fields: dict) -> tuple[QueryJob, float, int]:
    fields = dict(fields)
    timeout = fields.pop("timeout")
    ticket = fields.pop("ticket")
    dataset = fields.pop("dataset")
    if dataset is not None:
        dataset = QueryDataset(*(tuple(graphs) for graphs in dataset))
    return QueryJob(**fields, dataset=dataset), timeout, ticket


def _error_header(error: CommuniqueError, started: float) -> dict:
    known = next(c for c in type(error).__mro__ if getattr(errors, c.__name__, None) is c)
    return {
        "error": {"class": known.__name__, "attributes": vars(error)},
        "duration": time.perf_counter() - started,
    }


def _error_from_wire(fields: dict) -> CommuniqueError:
    """The error a worker reported, rebuilt with its class and attributes."""
    kind = getattr(errors, fields["class"], None)
    if not (isinstance(kind, type) and issubclass(kind, CommuniqueError)):
        kind = CommuniqueError
    attributes = fields["attributes"]
    error = kind.__new__(kind)
    Exception.__init__(error, attributes.get("message", ""))
    error.__dict__.update(attributes)
    return error


# --- processes --------------------------------------------------------------------------------


def _parent_pid(pid: int) -> int | None:
    """The parent of live process `pid`; None when there is none (or only its zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else int(fields[1])


def _stop_child(pid: int) -> None:
    """SIGTERM child `pid`, wait until it is gone, SIGKILL it if it lingers."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + _STOP_WAIT_SECONDS
    while time.monotonic() < deadline:
        if _reaped(pid):
            return
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    while not _reaped(pid):
        time.sleep(0.005)


def _reaped(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True  # someone else (gunicorn's master) reaped it
    return done == pid
