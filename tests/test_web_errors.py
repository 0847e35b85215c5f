"""One error shape for every failure, over HTTP against the real server."""

import pytest
import requests

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def assert_error_shape(response: requests.Response, status: int) -> dict:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["error"], str) and body["error"]
    assert body["request_id"] == response.headers["X-Request-Id"]
    return body


def test_syntax_error_gives_line_and_column(server):
    response = requests.get(
        server.sparql, params={"query": "SELECT *\nWHERE { ?s ?p }"}, timeout=10
    )
    body = assert_error_shape(response, 400)
    assert body["line"] == 2
    assert isinstance(body["column"], int)


@pytest.mark.parametrize(
    ("request_kwargs", "status", "fragment"),
    [
        (dict(method="GET", params=[("query", "ASK {}"), ("query", "ASK {}")]), 400, "once"),
        (
            dict(method="POST", data={"default-graph-uri": "http://example.org/g1"}),
            400,
            "missing 'query'",
        ),
        (
            dict(method="POST", data=b"ASK {}", headers={"Content-Type": "text/plain"}),
            415,
            "application/sparql-query",
        ),
        (dict(method="POST", data=b"query=ASK%20%7B%7D"), 415, "no Content-Type"),
        (
            dict(
                method="POST",
                data="ASK {}".encode("utf-16"),
                headers={"Content-Type": "application/sparql-query; charset=UTF-16"},
            ),
            415,
            "UTF-8",
        ),
        (
            dict(
                method="POST",
                data=b"ASK { \xff }",
                headers={"Content-Type": "application/sparql-query"},
            ),
            400,
            "query is not valid UTF-8",
        ),
        (dict(method="GET", params=b"query=ASK%20%7B%FF%7D"), 400, "not valid UTF-8"),
        (
            dict(
                method="POST",
                data=b"query=ASK%20%7B%FF%7D",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ),
            400,
            "not valid UTF-8",
        ),
        (
            dict(
                method="POST",
                params={"query": "ASK {}"},
                data=b"ASK {}",
                headers={"Content-Type": "application/sparql-query"},
            ),
            400,
            "cannot also",
        ),
        (
            dict(method="POST", data=b"  ", headers={"Content-Type": "application/sparql-query"}),
            400,
            "empty",
        ),
        (dict(method="PUT", params={"query": "ASK {}"}), 405, ""),
        (dict(method="DELETE"), 405, ""),
    ],
)
def test_protocol_errors(server, request_kwargs, status, fragment):
    response = requests.request(url=server.sparql, timeout=10, **request_kwargs)
    body = assert_error_shape(response, status)
    assert fragment in body["error"]


def test_wrong_media_type_names_what_is_accepted(server):
    response = requests.post(
        server.sparql, data=b"ASK {}", headers={"Content-Type": "text/plain"}, timeout=10
    )
    assert "application/sparql-query" in response.headers["Accept-Post"]


def test_method_not_allowed_says_which_are(server):
    response = requests.put(server.sparql, timeout=10)
    allowed = {method.strip() for method in response.headers["Allow"].split(",")}
    assert {"GET", "HEAD", "POST", "OPTIONS"} <= allowed


def test_unknown_path_is_404_in_the_same_shape(server):
    assert_error_shape(requests.get(server.url + "no/such/page", timeout=10), 404)


def test_browsers_get_an_escaped_html_page(server):
    query = "SELECT <script>alert(1)</script>"
    response = requests.get(
        server.sparql, params={"query": query}, headers={"Accept": BROWSER}, timeout=10
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<h1>400" in response.text
    assert "<script>" not in response.text
    assert response.headers["X-Request-Id"] in response.text


def test_errors_are_never_cached(server):
    response = requests.get(server.sparql, params={"query": "ASK {"}, timeout=10)
    assert response.headers["Cache-Control"] == "no-store"
