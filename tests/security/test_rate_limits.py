"""Per-client rate limits: concurrency and query-time budgets, shared across processes, robust
to processes killed mid-query; and on a real gunicorn server with several web workers."""

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from communique.errors import TooManyRequests
from communique.rate_limits import LEASES_PER_CLIENT, RateLimiter, RateLimits
from tests.conftest import ServerProcess
from tests.security.conftest import AttackOutcome

SECOND = 1_000_000_000
SLOW_QUERY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000 * SECOND

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * SECOND)


def test_a_client_may_run_only_so_many_queries_at_once():
    limiter = RateLimiter(slots=64)
    limits = RateLimits(concurrency=2, query_seconds=0)
    first = limiter.admit("192.0.2.1", limits)
    limiter.admit("192.0.2.1", limits)
    with pytest.raises(TooManyRequests) as refused:
        limiter.admit("192.0.2.1", limits)
    assert refused.value.headers == {"Retry-After": "1"}
    assert "2 queries running" in refused.value.message
    limiter.admit("192.0.2.2", limits)
    limiter.release(first, limits)
    limiter.admit("192.0.2.1", limits)


def test_query_time_is_a_budget_that_recovers_over_the_window():
    clock = FakeClock()
    limiter = RateLimiter(slots=64, clock=clock)
    limits = RateLimits(concurrency=0, query_seconds=10, window_seconds=60)
    lease = limiter.admit("198.51.100.7", limits)
    clock.advance(12)
    assert limiter.release(lease, limits) == pytest.approx(12)
    with pytest.raises(TooManyRequests) as refused:
        limiter.admit("198.51.100.7", limits)
    wait = int(refused.value.headers["Retry-After"])
    assert 12 <= wait <= 13
    assert "10 s of query time per 60 s" in refused.value.message
    limiter.admit("198.51.100.8", limits)
    clock.advance(wait)
    limiter.admit("198.51.100.7", limits)


def test_a_lease_lost_by_an_expired_query_frees_its_place():
    clock = FakeClock()
    limiter = RateLimiter(slots=64, clock=clock)
    limits = RateLimits(concurrency=1, query_seconds=0, lease_seconds=30)
    limiter.admit("203.0.113.5", limits)
    with pytest.raises(TooManyRequests):
        limiter.admit("203.0.113.5", limits)
    clock.advance(31)
    limiter.admit("203.0.113.5", limits)


def test_a_lease_held_by_a_killed_process_frees_its_place():
    limiter = RateLimiter(slots=64)
    limits = RateLimits(concurrency=1, query_seconds=0)
    pid = os.fork()
    if pid == 0:
        limiter.admit("203.0.113.9", limits)
        os.kill(os.getpid(), signal.SIGKILL)
    os.waitpid(pid, 0)
    limiter.admit("203.0.113.9", limits)


def test_leases_are_shared_by_every_process_forked_after_the_table():
    limiter = RateLimiter(slots=64)
    limits = RateLimits(concurrency=1, query_seconds=0)
    ready_read, ready_write = os.pipe()
    done_read, done_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        limiter.admit("192.0.2.50", limits)
        os.write(ready_write, b"x")
        os.read(done_read, 1)
        os._exit(0)
    try:
        os.read(ready_read, 1)
        with pytest.raises(TooManyRequests):
            limiter.admit("192.0.2.50", limits)
    finally:
        os.write(done_write, b"x")
        os.waitpid(pid, 0)


def test_more_clients_than_slots_are_all_served():
    limiter = RateLimiter(slots=8)
    limits = RateLimits(concurrency=LEASES_PER_CLIENT, query_seconds=0)
    leases = [limiter.admit(f"10.0.{i // 256}.{i % 256}", limits) for i in range(200)]
    for lease in leases:
        limiter.release(lease, limits)
    assert limiter.admit("10.9.9.9", limits).slot in range(8)


def test_zero_turns_both_limits_off():
    assert not RateLimits(concurrency=0, query_seconds=0).enabled


# --- a real server ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited_server(servers, dataset_files) -> ServerProcess:
    return servers(
        *("--data", *map(str, dataset_files), "--timeout", "2", "--query-workers", "4"),
        *("--workers", "2", "--threads", "8"),
        *("--rate-limit-concurrency", "2", "--rate-limit-query-seconds", "3"),
    )


def slow_query(url: str, headers: dict | None = None) -> requests.Response:
    with requests.Session() as session:
        return session.post(
            url,
            data=SLOW_QUERY,
            headers={"Content-Type": "application/sparql-query", **(headers or {})},
            timeout=30,
        )


def test_the_limits_hold_across_web_workers_and_answer_429(limited_server, attack_log):
    with ThreadPoolExecutor(6) as pool:
        pending = [pool.submit(slow_query, limited_server.sparql) for _ in range(6)]
        time.sleep(0.5)
        meanwhile = requests.get(limited_server.url + "healthz", timeout=10)
        answers = [future.result() for future in pending]
    statuses = sorted(response.status_code for response in answers)
    assert statuses == [429, 429, 429, 429, 503, 503]
    refused = next(response for response in answers if response.status_code == 429)
    assert refused.headers["Retry-After"] == "1"
    assert "queries running" in refused.json()["error"]
    assert meanwhile.status_code == 200
    attack_log.append(AttackOutcome("rate limit", "6 concurrent queries, limit 2", 429))

    spent = requests.get(limited_server.sparql, params={"query": "ASK {}"}, timeout=10)
    assert spent.status_code == 429
    assert "budget" in spent.json()["error"]
    assert int(spent.headers["Retry-After"]) > 1
    spoofed = slow_query(limited_server.sparql, {"X-Forwarded-For": "198.51.100.99"})
    assert spoofed.status_code == 429, "X-Forwarded-For counts only behind a trusted proxy"
    page = requests.get(limited_server.sparql, timeout=10)
    assert page.status_code == 200, "the service description is not a query"
    attack_log.append(AttackOutcome("rate limit", "query time budget spent", 429))


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(servers, dataset_files):
    server = servers(
        *("--data", *map(str, dataset_files), "--timeout", "1"),
        *("--trusted-proxy-count", "1", "--rate-limit-query-seconds", "0.5"),
    )
    first = {"X-Forwarded-For": "203.0.113.1"}
    second = {"X-Forwarded-For": "10.1.1.1, 203.0.113.2"}
    assert slow_query(server.sparql, first).status_code == 503
    assert slow_query(server.sparql, first).status_code == 429
    assert slow_query(server.sparql, second).status_code == 503
    forged_second = {"X-Forwarded-For": "203.0.113.2, 203.0.113.1"}
    assert slow_query(server.sparql, forged_second).status_code == 429
