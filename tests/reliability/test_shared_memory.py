"""Shared cells: exact counts from many threads of many processes, and a lock that a process
killed while holding it does not leave held."""

import os
import signal
import threading
import time

from communique.shared_memory import SHARED_LOCK, SharedCells

PROCESSES = 3
THREADS = 4
ADDITIONS = 5000


def add_from_threads(cells: list[SharedCells]) -> list[BaseException]:
    """THREADS threads, alternating between the cell blocks, each adding ADDITIONS times."""
    failures: list[BaseException] = []

    def work(block: SharedCells) -> None:
        try:
            for _ in range(ADDITIONS):
                block.add(0)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=work, args=(cells[i % 2],)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_counts_from_threads_of_several_processes_are_exact():
    """Two blocks, so two lock users per process: with a record lock per block the kernel would
    report false deadlocks (EDEADLK); with the one shared lock it never does."""
    cells = [SharedCells(1), SharedCells(1)]
    children = []
    for _ in range(PROCESSES):
        pid = os.fork()
        if pid == 0:
            os._exit(1 if add_from_threads(cells) else 0)
        children.append(pid)
    failures = add_from_threads(cells)
    statuses = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    assert failures == [] and statuses == [0] * PROCESSES
    expected = (PROCESSES + 1) * THREADS // 2 * ADDITIONS
    assert cells[0][0] == cells[1][0] == expected


def test_a_process_killed_while_holding_the_lock_does_not_leave_it_held():
    pid = os.fork()
    if pid == 0:
        SHARED_LOCK.__enter__()
        os.kill(os.getpid(), signal.SIGKILL)
    os.waitpid(pid, 0)
    started = time.monotonic()
    with SHARED_LOCK:
        pass
    assert time.monotonic() - started < 1
