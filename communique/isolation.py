"""Run a costly function on input we did not ship in a child process that can be stopped.

SHACL validation of custom data runs pyshacl: Python regular expressions (``sh:pattern``) that
can backtrack for hours, SHACL-SPARQL that can run long or crash the interpreter (pyoxigraph
segfaults on a query nested a few thousand groups deep). `IsolatedCall` forks a child that runs
the function under

* a wall-clock deadline: the parent stops waiting and kills the child (SIGKILL);
* ``RLIMIT_CPU`` (the deadline plus a grace), a second fence if the parent cannot act;
* ``RLIMIT_AS`` (its size at fork plus `memory_limit`): an allocation beyond it fails;
* no network: an audit hook refuses ``socket.connect``, ``socket.getaddrinfo`` and
  ``urllib.Request`` (validation never needs them; rdflib would fetch remote documents);
* ``PR_SET_PDEATHSIG``: the child dies with the process that started it.

The child sends its result (or a `CommuniqueError`, with its class and attributes) through a
pipe. The parent reads the pipe, not the child's exit status: gunicorn's master reaps every
child it has, ours included. The parent may work meanwhile (`publication` loads the data into
the store while the child validates it).

Limits are inherited: a child started inside another with ``ChildLimits(None, None)`` (how
validation's worker processes run) has no deadline of its own but keeps the address-space and
CPU limits it was forked under, and dies with the process that started it.
"""

import contextlib
import ctypes
import math
import os
import pickle
import resource
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from communique import errors
from communique.errors import CommuniqueError, DataError

CPU_GRACE_SECONDS = 2.0
NETWORK_EVENTS = frozenset({"socket.connect", "socket.getaddrinfo", "urllib.Request"})
MEBIBYTE = 1 << 20

_PR_SET_PDEATHSIG = 1
_READ_BYTES = 1 << 20


@dataclass(frozen=True)
class ChildLimits:
    timeout: float | None
    """Wall-clock seconds the child may run; None: no deadline (and no ``RLIMIT_CPU``)."""
    memory_limit: int | None
    """Bytes the child may add to its address space; None: no limit."""


class IsolatedCall:
    """``function(*args)`` running in a child process, started at once.

    Use it as a context manager; `result()` waits for the answer. Leaving the block kills a
    child still running (the caller failed meanwhile).

    >>> with IsolatedCall(sum, [1, 2, 3], limits=ChildLimits(10, None), description="adding") as c:
    ...     c.result()
    6
    """

    def __init__(
        self, function: Callable[..., Any], *args: Any, limits: ChildLimits, description: str
    ):
        self.limits = limits
        self.description = description
        self._deadline = None if limits.timeout is None else time.monotonic() + limits.timeout
        read_end, write_end = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            _run_child(write_end, parent, function, args, limits, description)
        os.close(write_end)
        self._pid: int | None = pid
        self._pipe = read_end
        self._cause = "it is still running"

    def __enter__(self) -> "IsolatedCall":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop()

    def result(self) -> Any:
        """The function's return value.

        :raises CommuniqueError: the one the function raised (same class and message).
        :raises DataError: the child ran past the deadline, ran out of memory or died.
        :raises RuntimeError: the function failed with an unexpected error (a bug).
        """
        try:
            payload = self._read_payload()
        finally:
            self._stop()
        if not payload:
            raise DataError(f"{self.description} failed: its process died ({self._cause})")
        kind, value = pickle.loads(payload)
        if kind == "result":
            return value
        if kind == "error":
            raise _error_from_fields(value)
        if kind == "memory":
            limit = self.limits.memory_limit
            allowed = f"its limit of {limit // MEBIBYTE} MiB" if limit else "it was allowed"
            raise DataError(
                f"{self.description} needed more memory than {allowed} and was stopped; "
                "nothing was published"
            )
        raise RuntimeError(f"{self.description} failed: {value}")

    def _read_payload(self) -> bytes:
        chunks: list[bytes] = []
        poller = select.poll()
        poller.register(self._pipe, select.POLLIN)
        while True:
            if not poller.poll(self._milliseconds_left()):
                raise DataError(
                    f"{self.description} did not finish within its time limit of "
                    f"{self.limits.timeout:g} s and was stopped (are there costly shapes, such "
                    "as a sh:pattern that backtracks?); nothing was published"
                )
            chunk = os.read(self._pipe, _READ_BYTES)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def _milliseconds_left(self) -> int | None:
        if self._deadline is None:
            return None
        return max(math.ceil((self._deadline - time.monotonic()) * 1000), 0)

    def _stop(self) -> None:
        """Kill the child if it still runs, reap it, close the pipe; idempotent."""
        if self._pid is None:
            return
        self._cause = _kill_and_reap(self._pid)
        self._pid = None
        os.close(self._pipe)


def _kill_and_reap(pid: int) -> str:
    """Why the child ended, as far as its exit status tells."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return "its exit status was collected elsewhere"
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"exit status {code}"


def _error_from_fields(fields: dict[str, Any]) -> CommuniqueError:
    kind = getattr(errors, fields["class"], None)
    if not (isinstance(kind, type) and issubclass(kind, CommuniqueError)):
        kind = CommuniqueError
    error = kind.__new__(kind)
    Exception.__init__(error, fields["attributes"].get("message", ""))
    error.__dict__.update(fields["attributes"])
    return error


# --- the child --------------------------------------------------------------------------------


def _run_child(
    write_end: int,
    parent: int,
    function: Callable[..., Any],
    args: tuple[Any, ...],
    limits: ChildLimits,
    description: str,
) -> NoReturn:
    code = 1
    try:
        _prepare_child(parent, limits, description)
        _write_all(write_end, pickle.dumps(_outcome(function, args)))
        code = 0
    finally:
        os._exit(code)


def _prepare_child(parent: int, limits: ChildLimits, description: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)
    for number in signal.valid_signals():
        if callable(signal.getsignal(number)):
            signal.signal(number, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if limits.timeout is not None:
        cpu_seconds = math.ceil(limits.timeout + CPU_GRACE_SECONDS)
        _lower_limit(resource.RLIMIT_CPU, _cpu_seconds_used() + cpu_seconds)
    if limits.memory_limit is not None:
        _lower_limit(resource.RLIMIT_AS, _address_space() + limits.memory_limit)
    sys.addaudithook(_network_refuser(description))


class NetworkRefused(PermissionError):
    """The isolated function tried to reach the network."""


def _outcome(function: Callable[..., Any], args: tuple[Any, ...]) -> tuple[str, Any]:
    try:
        return "result", function(*args)
    except NetworkRefused as error:
        return "error", {
            "class": DataError.__name__,
            "attributes": {"message": str(error), "headers": {}},
        }
    except CommuniqueError as error:
        known = next(c for c in type(error).__mro__ if getattr(errors, c.__name__, None) is c)
        return "error", {"class": known.__name__, "attributes": vars(error)}
    except MemoryError:
        return "memory", None
    except Exception:
        return "failure", traceback.format_exc()


def _network_refuser(description: str) -> Callable[[str, tuple], None]:
    def refuse(event: str, _args: tuple) -> None:
        if event in NETWORK_EVENTS:
            raise NetworkRefused(f"{description} may not use the network ({event} refused)")

    return refuse


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _cpu_seconds_used() -> int:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return math.ceil(usage.ru_utime + usage.ru_stime)


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _lower_limit(which: int, soft: int) -> None:
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(which, (soft, hard))
