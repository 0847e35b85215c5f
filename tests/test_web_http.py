"""What every response gets: request ids, CORS, gzip (real server)."""

import gzip

import pytest
import requests

from tests.conftest import EX

ITEMS_QUERY = f"PREFIX ex: <{EX}> SELECT ?item ?label WHERE {{ ?item ex:label ?label }} LIMIT 100"


def test_every_response_gets_a_request_id(server):
    first = requests.get(server.sparql, params={"query": "ASK {}"}, timeout=10)
    second = requests.get(server.url + "missing", timeout=10)
    ids = {first.headers["X-Request-Id"], second.headers["X-Request-Id"]}
    assert len(ids) == 2
    assert all(len(value) == 32 for value in ids)


@pytest.mark.parametrize(
    ("incoming", "echoed"),
    [
        ("abc-123.x", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("bad id", False),
        ("<script>", False),
    ],
)
def test_a_valid_incoming_request_id_is_echoed(server, incoming, echoed):
    response = requests.get(
        server.sparql, params={"query": "ASK {"}, headers={"X-Request-Id": incoming}, timeout=10
    )
    assert (response.headers["X-Request-Id"] == incoming) is echoed
    assert response.json()["request_id"] == response.headers["X-Request-Id"]


def test_cors_allows_any_origin_without_credentials(server):
    response = requests.get(
        server.sparql,
        params={"query": "ASK {}"},
        headers={"Origin": "https://analyst.example"},
        timeout=10,
    )
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "Communique-Result-Truncated" in response.headers["Access-Control-Expose-Headers"]


def test_cors_preflight(server):
    response = requests.options(
        server.sparql,
        headers={
            "Origin": "https://analyst.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=10,
    )
    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    methods = {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
    assert {"GET", "POST"} <= methods
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()
    assert int(response.headers["Access-Control-Max-Age"]) > 0


def test_large_answers_are_gzipped_for_clients_that_accept_it(server):
    response = requests.get(
        server.sparql,
        params={"query": ITEMS_QUERY},
        headers={"Accept-Encoding": "gzip"},
        timeout=10,
        stream=True,
    )
    raw = response.raw.read(decode_content=False)
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert int(response.headers["Content-Length"]) == len(raw)
    document = gzip.decompress(raw)
    assert document.count(b'{"item":') == 100


@pytest.mark.parametrize("accept_encoding", ["identity", "gzip;q=0", "br"])
def test_no_gzip_unless_accepted(server, accept_encoding):
    response = requests.get(
        server.sparql,
        params={"query": ITEMS_QUERY},
        headers={"Accept-Encoding": accept_encoding},
        timeout=10,
    )
    assert "Content-Encoding" not in response.headers
    assert response.content.count(b'{"item":') == 100


def test_small_answers_are_not_compressed(server):
    response = requests.get(
        server.sparql, params={"query": "ASK {}"}, headers={"Accept-Encoding": "gzip"}, timeout=10
    )
    assert "Content-Encoding" not in response.headers
