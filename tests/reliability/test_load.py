"""Load: 32 concurrent clients on loopback for 20 s, mixing pages, documents and SPARQL queries
over the bundled data, get zero errors. Each client has its own address (X-Forwarded-For behind
a trusted proxy), as real clients would, so the per-client rate limits apply as they would."""

import random
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from bs4 import BeautifulSoup

from communique.namespaces import sparql_prologue
from tests.conftest import ServerProcess
from tests.reliability.conftest import LoadResult

CLIENTS = 32
SECONDS = 20.0
PAGE_SAMPLE = 40
COMPETENCY_QUERIES = sorted((Path(__file__).parents[1] / "competency").glob("*.rq"))
OK_STATUSES = {200, 304}


@pytest.fixture(scope="module")
def bundled_server(servers) -> ServerProcess:
    return servers("--trusted-proxy-count", "1", "--workers", "2", "--threads", "8")


def site_paths(server: ServerProcess) -> list[str]:
    """Up to PAGE_SAMPLE paths linked from the home page and the pages it links to."""
    found: list[str] = []
    for start in ("/", "/classes"):
        response = requests.get(urljoin(server.url, start), timeout=30)
        assert response.status_code == 200
        for anchor in BeautifulSoup(response.text, "html.parser")("a"):
            target = urlsplit(urljoin(server.url, anchor.get("href") or ""))
            if target.netloc != urlsplit(server.url).netloc or target.path.startswith("/dumps"):
                continue
            path = target.path + (f"?{target.query}" if target.query else "")
            if path not in found:
                found.append(path)
    return found[:PAGE_SAMPLE]


def requests_to_make(server: ServerProcess) -> list[tuple[str, str, dict]]:
    """(kind, URL, request options) to draw from."""
    paths = site_paths(server)
    mix = [("page", server.url.rstrip("/") + path, {}) for path in paths]
    mix += [
        ("query", server.sparql, {"params": {"query": sparql_prologue() + path.read_text()}})
        for path in COMPETENCY_QUERIES
    ]
    mix += [
        ("document", server.url.rstrip("/") + path.replace("/page/", "/data/", 1) + ".ttl", {})
        for path in paths
        if path.startswith("/page/id/")
    ]
    mix += [("description", server.sparql, {"headers": {"Accept": "text/turtle"}})]
    return mix


def test_thirty_two_clients_for_twenty_seconds_without_an_error(bundled_server, load_results):
    mix = requests_to_make(bundled_server)
    kinds = {kind for kind, _, _ in mix}
    assert {"page", "query", "document"} <= kinds, kinds
    for kind, url, options in mix:
        assert requests.get(url, timeout=60, **options).status_code == 200, (kind, url)
    latencies: list[float] = []
    failures: list[str] = []
    by_kind: Counter = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS

    def client(number: int) -> None:
        chooser = random.Random(number)
        address = f"10.0.{number // 256}.{number % 256}"
        with requests.Session() as session:
            session.headers["X-Forwarded-For"] = address
            while time.monotonic() < deadline:
                kind, url, options = chooser.choice(mix)
                started = time.perf_counter()
                try:
                    response = session.get(url, timeout=60, **options)
                    failure = None if response.status_code in OK_STATUSES else response.status_code
                except requests.RequestException as error:
                    failure = repr(error)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    by_kind[kind] += 1
                    if failure is not None:
                        failures.append(f"{kind} {url[:100]}: {failure}")

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))

    quantiles = statistics.quantiles(latencies, n=100)
    load_results.append(
        LoadResult(
            clients=CLIENTS,
            seconds=SECONDS,
            requests=len(latencies),
            errors=len(failures),
            p50=quantiles[49],
            p99=quantiles[98],
            by_kind=dict(by_kind),
        )
    )
    assert failures == [], failures[:10]
    assert len(latencies) > CLIENTS * 10
