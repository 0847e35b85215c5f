"""Input limits: sizes of the URL, headers, body and query, parameter counts, encodings and
media types get this app's JSON 4xx; beyond gunicorn's own (higher) limits, gunicorn refuses."""

import json

import pytest
import requests

from communique.web.request import MAX_PARAMETERS
from communique.web.security import (
    GUNICORN_LIMITS,
    MAX_ACCEPT_BYTES,
    MAX_HEADER_BYTES,
    MAX_HEADER_FIELD_BYTES,
    MAX_HEADER_FIELDS,
    MAX_TARGET_BYTES,
)
from tests.security.conftest import AttackOutcome
from tests.security.raw_http import RawResponse, parse_response, raw_request, send_stream

QUERY_BODY = {"Content-Type": "application/sparql-query"}
MAX_QUERY_BYTES = 65536
MAX_BODY_BYTES = 3 * MAX_QUERY_BYTES + 65536
"""The app's MAX_CONTENT_LENGTH with the default --max-query-bytes."""


def status_of(response: RawResponse | requests.Response) -> int:
    return response.status_code if isinstance(response, requests.Response) else response.status


def assert_our_error(response: RawResponse | requests.Response, status: int, words: str) -> None:
    """This app's JSON error shape, with `status` and a message holding `words`."""
    assert status_of(response) == status, response.text
    document = json.loads(response.text)
    assert document["status"] == status
    assert words in document["error"]
    assert document["request_id"]


SIZE_CASES = {
    "URL over the limit": (
        lambda url: raw_request(url, "/sparql?query=" + "a" * MAX_TARGET_BYTES),
        414,
        f"longer than {MAX_TARGET_BYTES} bytes",
    ),
    "header field over the limit": (
        lambda url: raw_request(url, "/sparql", headers=[("X-Big", "a" * MAX_HEADER_FIELD_BYTES)]),
        431,
        "X-Big header is longer",
    ),
    "too many header fields": (
        lambda url: raw_request(
            url, "/sparql", headers=[(f"X-Field-{i}", "a") for i in range(MAX_HEADER_FIELDS + 1)]
        ),
        431,
        f"more than {MAX_HEADER_FIELDS} header fields",
    ),
    "headers too long together": (
        lambda url: raw_request(
            url,
            "/sparql",
            headers=[(f"X-Part-{i}", "a" * 8000) for i in range(MAX_HEADER_BYTES // 8000 + 1)],
        ),
        431,
        f"longer than {MAX_HEADER_BYTES} bytes",
    ),
    "Accept header over the limit": (
        lambda url: raw_request(
            url,
            "/sparql",
            headers=[("Accept", "application/x-a;q=0.1, " * (MAX_ACCEPT_BYTES // 10))],
        ),
        431,
        "Accept header is longer",
    ),
    "body over the limit": (
        lambda url: requests.post(
            url + "sparql", data=b"a" * (MAX_BODY_BYTES + 1), headers=QUERY_BODY, timeout=30
        ),
        413,
        "longer than",
    ),
    "chunked body over the limit": (
        lambda url: requests.post(
            url + "sparql",
            data=iter([b"a" * 65536] * (MAX_BODY_BYTES // 65536 + 2)),
            headers=QUERY_BODY,
            timeout=30,
        ),
        413,
        "",
    ),
    "query over the limit": (
        lambda url: requests.post(
            url + "sparql",
            data=("ASK {} #" + "a" * MAX_QUERY_BYTES).encode(),
            headers=QUERY_BODY,
            timeout=30,
        ),
        413,
        f"longer than {MAX_QUERY_BYTES} bytes",
    ),
    "too many parameters": (
        lambda url: requests.get(
            url + "sparql", params=[("p", "1")] * (MAX_PARAMETERS + 1), timeout=10
        ),
        400,
        f"more than {MAX_PARAMETERS} parameters",
    ),
    "too many form parameters": (
        lambda url: requests.post(
            url + "sparql", data=[("query", "ASK {}")] + [("p", "1")] * MAX_PARAMETERS, timeout=10
        ),
        400,
        "parameters",
    ),
}


@pytest.mark.parametrize("case", list(SIZE_CASES))
def test_oversized_input_gets_our_json_error(hostile_server, attack_log, case):
    send, status, words = SIZE_CASES[case]
    response = send(hostile_server.url)
    assert_our_error(response, status, words)
    attack_log.append(AttackOutcome("size", case, status))


@pytest.mark.parametrize(
    ("case", "headers", "target", "status"),
    [
        ("request line", [], "/sparql?query=" + "a" * GUNICORN_LIMITS["limit_request_line"], 414),
        (
            "header field",
            [("X-Big", "a" * (GUNICORN_LIMITS["limit_request_field_size"] + 1))],
            "/sparql",
            431,
        ),
        (
            "header count",
            [(f"X-F{i}", "a") for i in range(GUNICORN_LIMITS["limit_request_fields"] + 1)],
            "/sparql",
            431,
        ),
        ("raw bytes outside ASCII", [], b"/sparql?query=ASK\xff", 400),
    ],
)
def test_beyond_gunicorn_limits_gunicorn_refuses(hostile_server, case, headers, target, status):
    """The residual limits: gunicorn answers with its own small HTML page (so does it for
    bytes outside ASCII in the request line)."""
    response = raw_request(hostile_server.url, target, headers=headers)
    assert response.status == status
    assert "text/html" in response.headers["content-type"]


ENCODING_CASES = {
    "path not UTF-8": (lambda url: raw_request(url, "/page/id/%ff%fe"), 400, "not valid UTF-8"),
    "query string not UTF-8": (
        lambda url: raw_request(url, "/sparql?query=ASK%20%7B%7D%ff"),
        400,
        "not valid UTF-8",
    ),
    "query body not UTF-8": (
        lambda url: requests.post(
            url + "sparql", data=b"ASK { \xff }", headers=QUERY_BODY, timeout=10
        ),
        400,
        "not valid UTF-8",
    ),
    "form body not UTF-8": (
        lambda url: requests.post(
            url + "sparql",
            data=b"query=ASK%20%7B%7D%ff",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=10,
        ),
        400,
        "not valid UTF-8",
    ),
    "NUL in the path": (lambda url: raw_request(url, "/page/id/a%00b"), 400, "control character"),
}


@pytest.mark.parametrize("case", list(ENCODING_CASES))
def test_bad_encodings_get_400(hostile_server, attack_log, case):
    send, status, words = ENCODING_CASES[case]
    response = send(hostile_server.url)
    assert_our_error(response, status, words)
    attack_log.append(AttackOutcome("encoding", case, status))


@pytest.mark.parametrize(
    ("content_type", "words"),
    [
        ("text/plain", "Content-Type"),
        ("multipart/form-data; boundary=x", "Content-Type"),
        ("application/json", "Content-Type"),
        ("application/sparql-query; charset=latin-1", "must be UTF-8"),
        ("", "no Content-Type"),
    ],
)
def test_odd_content_types_get_415(hostile_server, content_type, words):
    response = raw_request(
        hostile_server.url,
        "/sparql",
        method="POST",
        headers=[("Content-Type", content_type)] if content_type else [],
        body=b"query=ASK%20%7B%7D",
    )
    assert_our_error(response, 415, words)


@pytest.mark.parametrize(
    ("case", "chunks"),
    [("empty chunk size", b"\r\n"), ("chunk size not hex", b"zz\r\nab\r\n0\r\n\r\n")],
)
def test_a_malformed_chunked_body_gets_400(hostile_server, attack_log, case, chunks):
    """gunicorn parses a chunked body only when the app reads it; its refusal is a 400."""
    head = b"POST /sparql HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    head += b"Content-Type: application/sparql-query\r\nConnection: close\r\n\r\n"
    response = parse_response(send_stream(hostile_server.url, head + chunks, timeout=10))
    assert_our_error(response, 400, "the request body is malformed")
    attack_log.append(AttackOutcome("encoding", case, 400))
