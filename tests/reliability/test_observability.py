"""Observability: an access log line per request, /healthz, /readyz, and /metrics counters that
every web worker answers in full (shared memory)."""

import hashlib
import os
import re
import signal

import pytest
import requests

from tests.conftest import ServerProcess, start_server
from tests.processes import children_of
from tests.reliability.conftest import parse_prometheus, wait_until

SLOW_QUERY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
ACCESS_LINE = re.compile(r"\[(\d+)\] \[INFO\] communique\.access: (.*)$", re.MULTILINE)


def access_lines(server: ServerProcess) -> dict[str, tuple[int, dict[str, str]]]:
    """Access log lines by request id: (web worker pid, fields)."""
    lines = {}
    for pid, text in ACCESS_LINE.findall(server.log()):
        fields = dict(field.split("=", 1) for field in text.split())
        lines[fields["request_id"]] = (int(pid), fields)
    return lines


@pytest.fixture(scope="module")
def watched_server(servers, dataset_files) -> ServerProcess:
    return servers(
        *("--data", *map(str, dataset_files), "--timeout", "1"),
        *("--workers", "2", "--query-workers", "2"),
    )


def test_each_request_gets_one_access_log_line(watched_server):
    query = "SELECT * WHERE { ?s ?p ?o } LIMIT 3"
    response = requests.get(
        watched_server.sparql,
        params={"query": query},
        headers={"X-Request-Id": "access-log-test-1", "Accept-Encoding": "identity"},
        timeout=10,
    )
    missing = requests.get(
        watched_server.url + "no/such%0Apage", headers={"X-Request-Id": "access-log-test-2"}
    )
    # each line is written once its response has gone (by either web worker): wait for both
    both = {"access-log-test-1", "access-log-test-2"}
    wait_until(lambda: both <= access_lines(watched_server).keys(), 10, "the log lines")
    lines = access_lines(watched_server)
    _, fields = lines["access-log-test-1"]
    assert fields["method"] == "GET"
    assert fields["path"] == "/sparql"
    assert fields["status"] == "200"
    assert int(fields["bytes"]) == len(response.content)
    assert float(fields["duration_ms"]) > 0
    assert fields["client"] == "127.0.0.1"
    assert fields["query"] == hashlib.sha256(query.encode()).hexdigest()[:16]
    _, refused = lines["access-log-test-2"]
    assert refused["status"] == str(missing.status_code) == "400"
    assert refused["path"] == "/no/such%0Apage", "no line break reaches the log"
    assert "query" not in refused


def test_healthz_and_readyz(watched_server):
    health = requests.get(watched_server.url + "healthz", timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = requests.get(watched_server.url + "readyz", timeout=10)
    assert ready.status_code == 200
    document = ready.json()
    assert document["status"] == "ready"
    assert document["fallback"] is None and document["reload_failure"] is None
    assert document["triples"] > 0 and len(document["version"]) == 16
    assert ready.headers["Cache-Control"] == "no-store"


def test_every_web_worker_reports_the_same_counters(watched_server):
    before = parse_prometheus(requests.get(watched_server.url + "metrics", timeout=10).text)
    timeouts_before = before[("communique_query_timeouts_total", ())]
    for _ in range(20):
        requests.get(
            watched_server.sparql,
            params={"query": "ASK {}"},
            headers={"Connection": "close"},
            timeout=10,
        )
    slow = requests.post(
        watched_server.sparql,
        data=SLOW_QUERY,
        headers={"Content-Type": "application/sparql-query"},
        timeout=30,
    )
    assert slow.status_code == 503
    wait_until(
        lambda: (
            parse_prometheus(requests.get(watched_server.url + "metrics", timeout=10).text)[
                ("communique_query_worker_restarts_total", ())
            ]
            >= 1
        ),
        10,
        "the killed query worker to be replaced",
    )
    scrapes = []
    workers = set()
    for index in range(40):
        request_id = f"metrics-scrape-{index}"
        response = requests.get(
            watched_server.url + "metrics",
            headers={"Connection": "close", "X-Request-Id": request_id},
            timeout=10,
        )
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        scrapes.append((request_id, parse_prometheus(response.text)))
        wait_until(lambda i=request_id: i in access_lines(watched_server), 10, "a log line")
        workers.add(access_lines(watched_server)[request_id][0])
        if len(workers) == 2 and index >= 5:
            break
    assert len(workers) == 2, "the scrapes must reach both web workers"
    ok = ("communique_http_requests_total", (("code", "200"),))
    for _, samples in scrapes:
        assert samples[ok] >= before.get((ok[0], ok[1]), 0) + 20
        assert samples[("communique_query_timeouts_total", ())] >= timeouts_before + 1
        assert samples[("communique_query_worker_restarts_total", ())] >= 1
        assert samples[("communique_http_requests_total", (("code", "503"),))] >= 1
        count = samples[("communique_query_duration_seconds_count", ())]
        assert samples[("communique_query_duration_seconds_bucket", (("le", "+Inf"),))] == count
        assert samples[("communique_query_duration_seconds_bucket", (("le", "0.5"),))] < count
    counts = [samples[ok] for _, samples in scrapes]
    assert counts == sorted(counts), "a shared counter never goes back"
    info = [key for key in scrapes[-1][1] if key[0] == "communique_dataset_info"]
    ready = requests.get(watched_server.url + "readyz", timeout=10).json()
    assert info == [("communique_dataset_info", (("version", ready["version"]),))]


def test_readyz_is_503_when_the_query_workers_are_gone(dataset_files, tmp_path):
    server = start_server("--data", str(dataset_files[0]), "--workers", "1", workdir=tmp_path)
    try:
        supervisor = next(pid for pid in children_of(server.process.pid) if children_of(pid))
        os.kill(supervisor, signal.SIGKILL)
        wait_until(
            lambda: requests.get(server.url + "readyz", timeout=10).status_code == 503,
            10,
            "readyz to notice",
        )
        document = requests.get(server.url + "readyz", timeout=10).json()
        assert document["status"] == "unavailable"
        assert "not running" in document["reason"]
        assert requests.get(server.url + "healthz", timeout=10).status_code == 200
    finally:
        server.stop()
