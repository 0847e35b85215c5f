"""Repeated requests answered from memory (`communique.web.replay`), on a real server.

One web worker, so that a repeated request reaches the worker that kept the response; the
query workers' counter in /metrics tells whether a query was evaluated again.
"""

import doctest
import re

import pytest
import requests

from communique import lru
from communique.web import replay
from communique.web.security import MAX_HEADER_FIELD_BYTES
from tests.conftest import ServerProcess, StubReply

COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
JSON = {"Accept": "application/sparql-results+json"}


@pytest.fixture(scope="module")
def one_worker(servers, dataset_files) -> ServerProcess:
    return servers("--data", *map(str, dataset_files), "--workers", "1")


@pytest.fixture(scope="module")
def no_cache(servers, dataset_files) -> ServerProcess:
    return servers("--data", *map(str, dataset_files), "--workers", "1", "--response-cache", "0")


def evaluations(server: ServerProcess) -> int:
    metrics = requests.get(server.url + "metrics", timeout=10).text
    return int(re.search(r"^communique_queries_evaluated_total (\d+)$", metrics, re.M).group(1))


def ask(server: ServerProcess, query: str, **headers: str) -> requests.Response:
    response = requests.get(
        server.sparql, params={"query": query}, headers={**JSON, **headers}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response


def test_a_repeated_query_is_answered_without_evaluating_it_again(one_worker):
    query = COUNT + " # repeated"
    before = evaluations(one_worker)
    first, second = ask(one_worker, query), ask(one_worker, query)
    assert evaluations(one_worker) == before + 1
    assert second.content == first.content
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["X-Request-Id"] != first.headers["X-Request-Id"]


def test_no_cache_asks_for_a_fresh_answer(one_worker):
    query = COUNT + " # fresh"
    ask(one_worker, query)
    before = evaluations(one_worker)
    for directive in ({"Cache-Control": "no-cache"}, {"Cache-Control": "max-age=0"}):
        ask(one_worker, query, **directive)
    ask(one_worker, query, **{"Pragma": "no-cache"})
    assert evaluations(one_worker) == before + 3


def test_each_negotiated_variant_is_kept_apart(one_worker):
    query = COUNT + " # variants"
    as_json = ask(one_worker, query)
    as_csv = ask(one_worker, query, Accept="text/csv")
    again_json, again_csv = ask(one_worker, query), ask(one_worker, query, Accept="text/csv")
    assert as_csv.headers["Content-Type"].startswith("text/csv")
    assert again_csv.headers["Content-Type"] == as_csv.headers["Content-Type"]
    assert again_csv.content == as_csv.content and again_json.content == as_json.content
    plain = requests.get(
        one_worker.sparql,
        params={"query": query},
        headers={**JSON, "Accept-Encoding": "identity"},
        timeout=10,
    )
    assert "Content-Encoding" not in plain.headers
    assert plain.json() == as_json.json()


def test_an_encoded_separator_is_not_answered_from_the_decoded_path(one_worker):
    page = requests.get(one_worker.url + "classes", timeout=10)
    assert page.status_code == 200
    assert requests.get(one_worker.url + "classes%2F", timeout=10).status_code == 404


def test_a_conditional_request_still_gets_304(one_worker):
    query = COUNT + " # conditional"
    etag = ask(one_worker, query).headers["ETag"]
    ask(one_worker, query)
    response = requests.get(
        one_worker.sparql,
        params={"query": query},
        headers={**JSON, "If-None-Match": etag},
        timeout=10,
    )
    assert response.status_code == 304


def test_head_of_a_kept_page_has_no_body(one_worker):
    url = one_worker.url + "classes"
    requests.get(url, timeout=10)
    head = requests.head(url, timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["Content-Length"]) > 0


def test_a_replayed_answer_still_checks_the_headers_and_is_logged(one_worker):
    """A kept answer is not a way round the header limits, and the access log and metrics see
    it, with the client's own request id."""
    query = COUNT + " # checked"
    ask(one_worker, query)
    refused = requests.get(
        one_worker.sparql,
        params={"query": query},
        headers={**JSON, "X-Padding": "a" * (MAX_HEADER_FIELD_BYTES + 1)},
        timeout=10,
    )
    assert refused.status_code == 431
    replayed = ask(one_worker, query, **{"X-Request-Id": "replay-trace-1"})
    assert replayed.headers["X-Request-Id"] == "replay-trace-1"
    log_line = next(
        line for line in one_worker.log().splitlines() if "request_id=replay-trace-1" in line
    )
    assert "status=200" in log_line and "query=" in log_line


def test_a_get_with_a_body_is_not_replayed(one_worker):
    query = COUNT + " # with a body"
    ask(one_worker, query)
    before = evaluations(one_worker)
    response = requests.get(
        one_worker.sparql, params={"query": query}, headers=JSON, data=b"x", timeout=10
    )
    assert response.status_code == 200
    assert evaluations(one_worker) == before + 1


def test_errors_are_never_kept(one_worker):
    before = evaluations(one_worker)
    for _ in range(2):
        response = requests.get(
            one_worker.sparql, params={"query": "SELECT * WHERE {"}, headers=JSON, timeout=10
        )
        assert response.status_code == 400
    assert requests.get(one_worker.url + "id/nothing-here", timeout=10).status_code == 404
    assert evaluations(one_worker) == before


def test_a_cache_of_zero_keeps_nothing(no_cache):
    query = COUNT + " # zero"
    before = evaluations(no_cache)
    ask(no_cache, query)
    ask(no_cache, query)
    assert evaluations(no_cache) == before + 2


def test_answers_from_other_endpoints_are_never_kept(servers, dataset_files, stub_endpoint):
    binding = b'{"x": {"type": "literal", "value": "remote"}}'
    results = b'{"head": {"vars": ["x"]}, "results": {"bindings": [' + binding + b"]}}"
    remote = stub_endpoint(
        StubReply(200, results, {"Content-Type": "application/sparql-results+json"})
    )
    server = servers(
        "--data", *map(str, dataset_files), "--workers", "1",
        "--allow-service", remote, "--allow-private-service",
    )  # fmt: skip
    query = f"SELECT ?x WHERE {{ SERVICE <{remote}> {{ ?s ?p ?x }} }}"
    for _ in range(2):
        assert ask(server, query).json()["results"]["bindings"][0]["x"]["value"] == "remote"
    assert len(stub_endpoint.requests) == 2


@pytest.mark.parametrize("module", [lru, replay])
def test_docstring_examples(module):
    assert doctest.testmod(module).attempted > 0 and doctest.testmod(module).failed == 0
