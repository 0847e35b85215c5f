"""The query worker pool: real forked processes, real signals, real pyoxigraph."""

import json
import os
import signal
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyoxigraph as ox
import pytest

from communique.errors import (
    NotAcceptable,
    QuerySyntaxError,
    QueryTimeout,
    ServiceUnavailable,
    WorkerCrashed,
)
from communique.store import EmbeddedStore, QueryDataset
from communique.workers import QueryJob, QueryPool, _job_to_wire, _receive_message, _send_message

TRIPLES = 3000
SLOW_QUERY = "SELECT (COUNT(*) AS ?c) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
GRAPH = "http://example.org/graph"


def example_store(path: str | None = None) -> ox.Store:
    store = ox.Store(path)
    store.extend(
        ox.Quad(
            ox.NamedNode(f"http://example.org/item{i}"),
            ox.NamedNode("http://example.org/rank"),
            ox.Literal(str(i), datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")),
            ox.NamedNode(GRAPH) if i % 2 else ox.DefaultGraph(),
        )
        for i in range(TRIPLES)
    )
    return store


def started_pool(open_store: Callable, **options) -> QueryPool:
    pool = QueryPool(open_store, **options)
    pool.start()
    return pool


@pytest.fixture(scope="module")
def pool() -> Iterator[QueryPool]:
    """Two workers over an in-memory store of TRIPLES triples (odd ranks in GRAPH)."""
    shared = started_pool(EmbeddedStore(example_store()).reopened_for_this_process, size=2)
    yield shared
    shared.close()


def tracked_pool(size: int, **options) -> tuple[QueryPool, int]:
    """A started pool over a fresh example store, and its supervisor's PID (workers up)."""
    before = children(os.getpid())
    started = started_pool(
        EmbeddedStore(example_store()).reopened_for_this_process, size=size, **options
    )
    (supervisor,) = children(os.getpid()) - before
    assert wait_until(lambda: len(children(supervisor)) == size)
    return started, supervisor


@pytest.fixture
def single_worker() -> Iterator[tuple[QueryPool, int]]:
    """A pool of one worker, and its supervisor's PID."""
    one, supervisor = tracked_pool(1)
    yield one, supervisor
    one.close()


def count_of(answer) -> int:
    return int(json.loads(answer.body)["results"]["bindings"][0]["c"]["value"])


def count_job(query: str = "SELECT (COUNT(*) AS ?c) WHERE { ?s ?p ?o }", **fields) -> QueryJob:
    return QueryJob(query, **fields)


# --- processes, read from /proc ----------------------------------------------------------------


def process_status(pid: int) -> tuple[str, int, int] | None:
    """(state, parent PID, user CPU ticks), or None when there is no such process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return fields[0], int(fields[1]), int(fields[11])


def is_running(pid: int) -> bool:
    status = process_status(pid)
    return status is not None and status[0] != "Z"


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            status = process_status(int(entry.name))
            if status is not None and status[1] == pid and status[0] != "Z":
                found.add(int(entry.name))
    return found


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


# --- answers and errors ------------------------------------------------------------------------


def test_a_job_answers(pool):
    answer = pool.run(count_job())
    assert (answer.kind, answer.format, answer.count, answer.truncated) == (
        "solutions",
        "json",
        1,
        False,
    )
    assert answer.media_type == "application/sparql-results+json"
    assert count_of(answer) == TRIPLES
    assert answer.duration > 0


def test_job_fields_reach_the_worker(pool):
    job = count_job(
        "SELECT ?s WHERE { ?s ?p ?o } ORDER BY ?o",
        dataset=QueryDataset(named_graphs=(GRAPH,)),
        results_format="csv",
    )
    assert pool.run(job).body == b"s\r\n"
    capped = pool.run(count_job("SELECT ?s { ?s ?p ?o }", results_format="tsv", max_rows=7))
    assert (capped.count, capped.truncated, capped.media_type) == (
        7,
        True,
        "text/tab-separated-values; charset=utf-8",
    )
    graph = pool.run(
        count_job(
            "CONSTRUCT { <rel> ?p ?o } WHERE { ?s ?p ?o } LIMIT 1",
            graph_format="turtle",
            base_iri="http://base.example/",
            prefixes={"base": "http://base.example/"},
        )
    )
    assert graph.body.startswith(b"@prefix base: <http://base.example/> .\nbase:rel ")


def test_syntax_error_comes_back_with_line_and_column(pool):
    with pytest.raises(QuerySyntaxError) as raised:
        pool.run(count_job("SELECT * WHERE {\n  ?s ?p }"))
    assert (raised.value.line, raised.value.column, raised.value.status) == (2, 10, 400)
    assert raised.value.message.startswith("error at 2:10")


def test_job_errors_keep_their_class_and_attributes(pool):
    with pytest.raises(NotAcceptable) as raised:
        pool.run(count_job('SELECT ("\\u0007" AS ?x) {}', results_format="xml"))
    assert "application/sparql-results+json" in raised.value.offered
    assert raised.value.status == 406


# --- deadlines, crashes, recovery --------------------------------------------------------------


def test_timeout_kills_the_query_while_others_still_answer(pool):
    before = pool.counters
    with ThreadPoolExecutor(1) as background:
        started = time.monotonic()
        slow = background.submit(pool.run, count_job(SLOW_QUERY), 1.0)
        time.sleep(0.1)
        cheap_started = time.monotonic()
        assert count_of(pool.run(count_job())) == TRIPLES
        assert time.monotonic() - cheap_started < 1.0
        with pytest.raises(QueryTimeout, match="time limit of 1 s") as raised:
            slow.result()
        assert time.monotonic() - started < 2.0
    assert raised.value.headers == {"Retry-After": "1"}
    assert raised.value.status == 503
    assert wait_until(lambda: pool.counters["restarts"] == before["restarts"] + 1)
    assert pool.counters["timeouts"] == before["timeouts"] + 1
    assert pool.counters["crashes"] == before["crashes"]
    assert count_of(pool.run(count_job())) == TRIPLES


def test_a_worker_killed_mid_query_is_reported_and_replaced(single_worker):
    pool, supervisor = single_worker
    (worker,) = children(supervisor)
    with ThreadPoolExecutor(1) as background:
        slow = background.submit(pool.run, count_job(SLOW_QUERY), 10.0)
        ticks = process_status(worker)[2]
        assert wait_until(lambda: process_status(worker)[2] > ticks + 5)
        os.kill(worker, signal.SIGSEGV)
        with pytest.raises(WorkerCrashed, match="died before answering"):
            slow.result()
    assert wait_until(lambda: pool.counters["restarts"] == 1)
    assert pool.counters["crashes"] == 1
    assert count_of(pool.run(count_job())) == TRIPLES
    (replacement,) = children(supervisor)
    assert replacement != worker


def test_a_query_that_overflows_the_parser_does_not_take_the_service_down(pool):
    deep = "SELECT * WHERE " + "{" * 5000 + "}" * 5000
    with pytest.raises((WorkerCrashed, QuerySyntaxError)):
        pool.run(count_job(deep))
    assert count_of(pool.run(count_job())) == TRIPLES


def test_memory_limit_stops_a_greedy_query():
    greedy, _ = tracked_pool(1, memory_limit=64 << 20)
    try:
        query = "SELECT (STRLEN(GROUP_CONCAT(STR(?s))) AS ?c) { ?a ?b ?x . ?s ?p ?o }"
        with pytest.raises(WorkerCrashed):
            greedy.run(count_job(query), timeout=20)
        assert wait_until(lambda: greedy.counters["crashes"] == 1)
        assert count_of(greedy.run(count_job())) == TRIPLES
    finally:
        greedy.close()


def test_all_workers_busy_is_a_timeout_not_a_hang(single_worker):
    pool, _ = single_worker
    with ThreadPoolExecutor(1) as background:
        slow = background.submit(pool.run, count_job(SLOW_QUERY), 1.0)
        time.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(QueryTimeout, match="service is busy"):
            pool.run(count_job(), 0.3)
        assert time.monotonic() - started < 0.8
        with pytest.raises(QueryTimeout, match="time limit"):
            slow.result()
    assert count_of(pool.run(count_job())) == TRIPLES
    assert pool.counters["queries"] == 2  # the job given up while queued never ran


def raw_client(pool: QueryPool) -> socket.socket:
    """A connection to the pool's workers, as `QueryPool.run` makes it (non-blocking)."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
    connection.connect(pool._socket_path)
    return connection


def test_a_job_whose_client_hung_up_is_not_run(single_worker):
    pool, _ = single_worker
    before = pool.counters["queries"]
    with raw_client(pool) as gone:
        job = _job_to_wire(count_job(SLOW_QUERY), 5.0, ticket=777)
        _send_message(gone, job, deadline=time.monotonic() + 5)
        gone.shutdown(socket.SHUT_WR)
        started = time.monotonic()
        header, _ = _receive_message(gone, time.monotonic() + 5)
        assert header == {"not_run": True}, "a client withdrawing a job learns it was not run"
        assert time.monotonic() - started < 1.0
    assert count_of(pool.run(count_job())) == TRIPLES
    assert pool.counters["queries"] == before + 1, "only the second job ran"


def test_a_worker_takes_no_other_job_until_its_client_has_closed(single_worker):
    pool, _ = single_worker
    with raw_client(pool) as first:
        job = _job_to_wire(count_job(), 5.0, ticket=778)
        _send_message(first, job, deadline=time.monotonic() + 5)
        header, body = _receive_message(first, time.monotonic() + 5)
        assert header["count"] == 1
        assert json.loads(body)["results"]["bindings"][0]["c"]["value"] == str(TRIPLES)
        with pytest.raises(QueryTimeout, match="service is busy"):
            pool.run(count_job(), 0.3)
    assert count_of(pool.run(count_job())) == TRIPLES


def test_consecutive_jobs_go_to_the_same_idle_worker():
    """A job goes to the lowest-numbered idle worker, whose caches are warm from the last ones
    (round-robin between idle workers made queries up to 5x slower at 10^6 triples)."""
    warm, _ = tracked_pool(2)
    try:
        for _ in range(20):
            assert count_of(warm.run(count_job())) == TRIPLES
        assert (warm._counters.queries_of(0), warm._counters.queries_of(1)) == (20, 0)
    finally:
        warm.close()


def test_concurrent_jobs_spread_over_the_workers():
    """The client that picks an idle worker clears its mark, so concurrent clients do not all
    crowd onto the lowest slot (without it: 300 of 400 cheap jobs there, and the mix's
    throughput on 2 cores fell from 2,600 to 1,700 jobs/s)."""
    spread, _ = tracked_pool(2)
    try:
        ask = count_job("ASK { ?s ?p ?o }")
        with ThreadPoolExecutor(8) as threads:
            answers = list(threads.map(lambda _: spread.run(ask).body, range(400)))
        assert all(b'"boolean":true' in answer for answer in answers)
        per_slot = [spread._counters.queries_of(slot) for slot in (0, 1)]
        assert sum(per_slot) == 400 and min(per_slot) >= 130, per_slot
    finally:
        spread.close()


def test_a_job_sent_to_a_worker_that_was_taken_meanwhile_goes_to_a_free_one():
    """The idle mark is a hint: a job that its worker does not take at once is withdrawn
    (never run there) and queued for the first free worker."""
    racing, _ = tracked_pool(2)
    try:
        with ThreadPoolExecutor(1) as background:
            slow = background.submit(racing.run, count_job(SLOW_QUERY), 2.0)
            assert wait_until(lambda: racing._counters.queries_of(0) == 1)
            racing._counters.set_idle(0, True)  # as if another client had not yet got there
            started = time.monotonic()
            assert count_of(racing.run(count_job())) == TRIPLES
            assert time.monotonic() - started < 0.5
            assert racing._counters.queries_of(1) == 1
            with pytest.raises(QueryTimeout):
                slow.result()
        assert count_of(racing.run(count_job())) == TRIPLES
        assert racing.counters["queries"] == 3, "the withdrawn job never ran in the first worker"
    finally:
        racing.close()


def test_concurrent_queries_are_all_answered_correctly(pool):
    def ask(thread: int) -> list[bool]:
        results = []
        for i in range(10):
            limit = thread * 10 + i
            query = f"SELECT (COUNT(*) AS ?c) WHERE {{ ?s ?p ?o FILTER(?o < {limit}) }}"
            results.append(count_of(pool.run(count_job(query))) == limit)
        return results

    with ThreadPoolExecutor(16) as threads:
        outcomes = [ok for batch in threads.map(ask, range(16)) for ok in batch]
    assert outcomes == [True] * 160


def test_round_trip_overhead_is_small(pool):
    durations = []
    for _ in range(200):
        started = time.perf_counter()
        pool.run(count_job("ASK {}"))
        durations.append(time.perf_counter() - started)
    assert statistics.median(durations) < 0.005


# --- processes ---------------------------------------------------------------------------------


def test_forked_child_can_run_queries_and_cannot_stop_the_pool(pool):
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            answer = pool.run(count_job())
            pool.close()
            os.write(writer, json.dumps([count_of(answer), pool.counters["queries"]]).encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        count, queries = json.loads(pipe.read())
    os.waitpid(child, 0)
    assert count == TRIPLES
    assert queries == pool.counters["queries"] > 0
    assert count_of(pool.run(count_job())) == TRIPLES


def test_on_disk_store_is_reopened_in_each_worker(tmp_path):
    writer = example_store(str(tmp_path / "db"))
    writer.flush()
    store = EmbeddedStore(writer, path=str(tmp_path / "db"))
    disk_pool = started_pool(store.reopened_for_this_process, size=2)
    try:
        assert count_of(disk_pool.run(count_job())) == TRIPLES
        union = "SELECT (COUNT(*) AS ?c) WHERE { GRAPH ?g { ?s ?p ?o } }"
        assert count_of(disk_pool.run(count_job(union))) == TRIPLES // 2
    finally:
        disk_pool.close()


def test_socket_is_private_and_close_leaves_no_process_and_no_socket(tmp_path):
    pool, supervisor = tracked_pool(3, socket_dir=str(tmp_path))
    workers = children(supervisor)
    (private,) = tmp_path.iterdir()
    assert private.stat().st_mode & 0o777 == 0o700
    assert count_of(pool.run(count_job())) == TRIPLES
    pool.close()
    pool.close()
    assert not any(is_running(pid) for pid in (supervisor, *workers))
    assert process_status(supervisor) is None
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ServiceUnavailable):
        pool.run(count_job())


def test_the_pool_stops_when_the_process_that_started_it_dies(tmp_path):
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            _, supervisor = tracked_pool(2, socket_dir=str(tmp_path))
            os.write(writer, json.dumps([supervisor, *children(supervisor)]).encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        pids = json.loads(pipe.read())
    os.waitpid(child, 0)
    assert len(pids) == 3
    assert wait_until(lambda: not any(is_running(pid) for pid in pids), seconds=3)
    assert wait_until(lambda: list(tmp_path.iterdir()) == [])


@pytest.mark.slow
def test_cpu_limit_stops_a_worker_whose_client_never_kills_it(tmp_path):
    """The second fence: RLIMIT_CPU (CPU used + timeout + 2 s) ends a query nobody stopped."""
    pool, supervisor = tracked_pool(1, socket_dir=str(tmp_path))
    try:
        (worker,) = children(supervisor)
        with socket.socket(socket.AF_UNIX) as raw_client:
            raw_client.connect(str(next(tmp_path.iterdir()) / "workers.sock"))
            raw_client.setblocking(False)
            job = _job_to_wire(count_job(SLOW_QUERY), 0.1, ticket=12345)
            _send_message(raw_client, job, deadline=time.monotonic() + 5)
            started = time.monotonic()
            with pytest.raises(EOFError):
                _receive_message(raw_client, time.monotonic() + 10)
            assert time.monotonic() - started > 1.5, "it ran past its own 0.1 s deadline"
        assert wait_until(lambda: not is_running(worker))
        assert wait_until(lambda: pool.counters["crashes"] == 1)
        assert pool.counters["timeouts"] == 0
    finally:
        pool.close()


def test_a_pool_starts_once():
    pool = started_pool(EmbeddedStore(example_store()).reopened_for_this_process, size=1)
    try:
        with pytest.raises(RuntimeError, match="starts once"):
            pool.start()
    finally:
        pool.close()
    with pytest.raises(RuntimeError, match="starts once"):
        pool.start()


def test_start_refuses_to_fork_while_other_threads_run():
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        pool = QueryPool(EmbeddedStore(example_store()).reopened_for_this_process)
        with pytest.raises(RuntimeError, match="other thread"):
            pool.start()
    finally:
        release.set()
        thread.join()


def test_run_before_start_is_unavailable():
    with pytest.raises(ServiceUnavailable, match="not running"):
        QueryPool(lambda: None).run(count_job())
