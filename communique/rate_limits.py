"""Per-client limits on SPARQL queries: how many may run at once, and how much query time a
client may spend per minute (as Wikidata's query service limits its clients).

State lives in one fixed-size table in shared memory (`communique.shared_memory`), made in
gunicorn's master before it forks, so every web worker process counts the same client the same
way. A client (its address) is hashed to a 64-bit key; the key picks a home slot and, if that
slot belongs to another active client, one of the next `PROBE_SLOTS` slots. A slot nobody uses
(no query running, budget fully recovered) is taken over by the next client that needs one; when
every probed slot is active, the client shares its home slot (limits then apply to the two
together, which errs on the side of refusing).

A slot holds:

* the **query-time budget** as a leaky bucket: each finished query adds its wall-clock time to a
  level, which drains at ``query_seconds / window`` per second; a query is admitted while the
  level is below ``query_seconds``. That is "T seconds of query time per minute", without a
  window edge where a client could spend 2T.
* up to `LEASES_PER_CLIENT` **leases**, one per running query: (process id, start time). A
  process killed in the middle of a query cannot give its lease back, so a lease also ends
  when its process no longer exists or when it is older than ``lease_seconds`` (longer than any
  request may run): a lost lease never locks a client out for good.
"""

import hashlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from communique.errors import TooManyRequests
from communique.shared_memory import SharedCells

DEFAULT_SLOTS = 4096
PROBE_SLOTS = 8
LEASES_PER_CLIENT = 32
"""The most queries one client may be allowed to run at once (a larger setting is capped)."""
NANOSECONDS = 1_000_000_000
MICROSECONDS = 1_000_000

_KEY, _LEVEL, _UPDATED = 0, 1, 2
_LEASES = 3
_SLOT_CELLS = _LEASES + 2 * LEASES_PER_CLIENT


@dataclass(frozen=True)
class RateLimits:
    concurrency: int
    """Queries one client may run at once; 0: no limit."""
    query_seconds: float
    """Query time one client may spend per `window_seconds`; 0: no budget."""
    window_seconds: float = 60.0
    lease_seconds: float = 300.0
    """After this long a lease counts as lost (its query cannot still be running)."""

    @property
    def enabled(self) -> bool:
        return self.concurrency > 0 or self.query_seconds > 0


@dataclass(frozen=True)
class Lease:
    """A query admitted for one client; give it back with `RateLimiter.release`."""

    slot: int
    cell: int | None
    """Index of the lease cell pair, None when concurrency is not limited."""
    pid: int
    started: int
    """`RateLimiter` clock reading (nanoseconds) when the query was admitted."""


class RateLimiter:
    """The shared table; `admit` before a query, `release` after it, from any process."""

    def __init__(
        self, slots: int = DEFAULT_SLOTS, *, clock: Callable[[], int] = time.monotonic_ns
    ) -> None:
        self._slots = slots
        self._clock = clock
        self._cells = SharedCells(slots * _SLOT_CELLS)

    def admit(self, client: str, limits: RateLimits) -> Lease:
        """Admit one query from `client`, or refuse it.

        :raises TooManyRequests: the client has `limits.concurrency` queries running, or has
            spent its query time; ``Retry-After`` says when to try again.
        """
        key = client_key(client)
        now = self._clock()
        with self._cells.lock:
            base = self._slot_for(key, now, limits) * _SLOT_CELLS
            self._check_budget(base, now, limits)
            cell = self._take_lease(base, now, limits) if limits.concurrency > 0 else None
        return Lease(base // _SLOT_CELLS, cell, os.getpid(), now)

    def release(self, lease: Lease, limits: RateLimits) -> float:
        """End the query `lease` admitted; charge its time to the client. Returns the seconds."""
        now = self._clock()
        spent = max(now - lease.started, 0)
        base = lease.slot * _SLOT_CELLS
        cells = self._cells
        with cells.lock:
            if lease.cell is not None:
                pid_cell = base + _LEASES + 2 * lease.cell
                if cells[pid_cell] == lease.pid and cells[pid_cell + 1] == lease.started:
                    cells[pid_cell] = 0
                    cells[pid_cell + 1] = 0
            level = self._drained_level(base, now, limits)
            cells[base + _LEVEL] = level + spent // 1000
            cells[base + _UPDATED] = now
        return spent / NANOSECONDS

    # --- slots ------------------------------------------------------------------------------

    def _slot_for(self, key: int, now: int, limits: RateLimits) -> int:
        home = key % self._slots
        vacant = None
        for step in range(PROBE_SLOTS):
            slot = (home + step) % self._slots
            owner = self._cells[slot * _SLOT_CELLS + _KEY]
            if owner == key:
                return slot
            if vacant is None and (owner == 0 or self._idle(slot * _SLOT_CELLS, now, limits)):
                vacant = slot
        if vacant is None:
            return home
        self._claim(vacant * _SLOT_CELLS, key, now)
        return vacant

    def _idle(self, base: int, now: int, limits: RateLimits) -> bool:
        return self._drained_level(base, now, limits) == 0 and not self._live_leases(
            base, now, limits
        )

    def _claim(self, base: int, key: int, now: int) -> None:
        for index in range(base, base + _SLOT_CELLS):
            self._cells[index] = 0
        self._cells[base + _KEY] = key
        self._cells[base + _UPDATED] = now

    # --- the query-time budget ------------------------------------------------------------

    def _drained_level(self, base: int, now: int, limits: RateLimits) -> int:
        """The level (microseconds of query time) after draining since the last update."""
        level = self._cells[base + _LEVEL]
        if level <= 0 or limits.query_seconds <= 0:
            return max(level, 0)
        elapsed = max(now - self._cells[base + _UPDATED], 0)
        drained = elapsed * limits.query_seconds / limits.window_seconds / 1000
        return max(level - int(drained), 0)

    def _check_budget(self, base: int, now: int, limits: RateLimits) -> None:
        if limits.query_seconds <= 0:
            return
        level = self._drained_level(base, now, limits)
        budget = limits.query_seconds * MICROSECONDS
        if level < budget:
            return
        drain_per_second = budget / limits.window_seconds
        wait = max(1, math.ceil((level - budget + 1) / drain_per_second))
        raise TooManyRequests(
            f"this client has used its query time budget ({limits.query_seconds:g} s of query "
            f"time per {limits.window_seconds:g} s); retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )

    # --- leases ---------------------------------------------------------------------------

    def _live_leases(self, base: int, now: int, limits: RateLimits) -> list[int]:
        expiry = int(limits.lease_seconds * NANOSECONDS)
        live = []
        for cell in range(LEASES_PER_CLIENT):
            pid_cell = base + _LEASES + 2 * cell
            if self._cells[pid_cell] and now - self._cells[pid_cell + 1] < expiry:
                live.append(cell)
        return live

    def _take_lease(self, base: int, now: int, limits: RateLimits) -> int:
        allowed = min(limits.concurrency, LEASES_PER_CLIENT)
        live = self._live_leases(base, now, limits)
        if len(live) >= allowed:
            live = [cell for cell in live if _alive(self._cells[base + _LEASES + 2 * cell])]
        if len(live) >= allowed:
            raise TooManyRequests(
                f"this client has {len(live)} queries running, the most allowed at once; "
                "retry when one has finished",
                headers={"Retry-After": "1"},
            )
        cell = next(c for c in range(LEASES_PER_CLIENT) if c not in live)
        self._cells[base + _LEASES + 2 * cell] = os.getpid()
        self._cells[base + _LEASES + 2 * cell + 1] = now
        return cell


def client_key(client: str) -> int:
    """A non-zero signed 64-bit key for a client address."""
    digest = hashlib.blake2b(client.encode("utf-8", "replace"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True) or 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
