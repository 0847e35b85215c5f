"""Numbers shared by every process forked after they are made, and a lock no dead process holds.

Gunicorn forks its web workers from the master, so memory mapped anonymously in the master
*before* that fork is the same memory in every worker: a counter one worker adds to, all of them
read. `SharedCells` is such a block of signed 64-bit integers.

Several threads of several processes write the same cells, so writes go under `SHARED_LOCK`: a
``threading.Lock`` for the threads of one process and a POSIX record lock (``lockf``) on an
unlinked temporary file for the processes. The kernel drops a record lock when its process dies,
so a worker killed with SIGKILL in the middle of an update never leaves the lock held (at worst
it leaves that one update half done; the cells hold counters and leases, which tolerate it). The
lock is held for a few reads and writes of memory, never across I/O.

There is one lock for all cells, on purpose: record locks belong to processes, not threads, so
with two such locks the kernel's deadlock detector sees a cycle (process A holds one and waits
for the other while process B does the reverse, in different threads) and fails a waiter with
EDEADLK although no thread waits for itself. With a single lock there is no cycle to see.
"""

import fcntl
import mmap
import os
import tempfile
import threading

CELL_BYTES = 8


class SharedLock:
    """A lock for the threads of this process and of every process forked after it was made."""

    def __init__(self) -> None:
        descriptor, path = tempfile.mkstemp(prefix="communique-lock-")
        os.unlink(path)
        self._descriptor = descriptor
        self._threads = threading.Lock()
        os.register_at_fork(after_in_child=self._forget_other_threads)

    def __enter__(self) -> "SharedLock":
        self._threads.acquire()
        try:
            fcntl.lockf(self._descriptor, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            fcntl.lockf(self._descriptor, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _forget_other_threads(self) -> None:
        """After fork, in the child: a parent thread that held the lock does not exist here."""
        self._threads = threading.Lock()


SHARED_LOCK = SharedLock()
"""The one lock of every `SharedCells` (see the module's note on EDEADLK)."""


class SharedCells:
    """`count` signed 64-bit integers in anonymous shared memory, all zero at first.

    Read and write cells by index; hold `lock` around any read-modify-write sequence.
    """

    lock = SHARED_LOCK

    def __init__(self, count: int) -> None:
        self._memory = mmap.mmap(-1, CELL_BYTES * count)
        self._cells = memoryview(self._memory).cast("q")

    def __len__(self) -> int:
        return len(self._cells)

    def __getitem__(self, index: int) -> int:
        return self._cells[index]

    def __setitem__(self, index: int, value: int) -> None:
        self._cells[index] = value

    def values(self, start: int, stop: int) -> list[int]:
        """Cells ``start`` to ``stop - 1``, read without the lock."""
        return self._cells[start:stop].tolist()

    def add(self, index: int, amount: int = 1) -> None:
        """Add `amount` to one cell, under the lock."""
        with self.lock:
            self._cells[index] += amount
