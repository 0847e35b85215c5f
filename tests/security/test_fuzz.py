"""Property-based fuzzing of a real server: SPARQL texts, URL paths, request headers and raw
byte streams.

Whatever arrives, the answer is never a 5xx other than the documented 503 (time limit, busy),
never a hang, and never without the security headers. The run lasts about ``FUZZ_SECONDS``
(default 60; ``make fuzz`` sets 600), shared by the four tests.
"""

import os
import re
import time
from collections import Counter
from collections.abc import Callable

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from tests.conftest import ServerProcess
from tests.security.conftest import AttackOutcome, header_problems
from tests.security.raw_http import raw_request, send_stream

FUZZ_SECONDS = float(os.environ.get("FUZZ_SECONDS", "60"))
SHARES = {"sparql": 0.45, "paths": 0.2, "headers": 0.2, "streams": 0.15}
EXAMPLES_PER_ROUND = 25
SERVER_TIMEOUT = 2
FUZZ_MARGIN_SECONDS = 120
"""pytest-timeout's limit for each fuzz test: its share of FUZZ_SECONDS plus this margin."""
ANSWER_WITHIN = SERVER_TIMEOUT + 5
"""No answer may take longer than the time limit and a margin: no hang."""

KEYWORDS = (
    "SELECT", "ASK", "CONSTRUCT", "DESCRIBE", "WHERE", "FILTER", "OPTIONAL", "UNION", "MINUS",
    "GRAPH", "SERVICE", "SILENT", "VALUES", "BIND", "AS", "GROUP", "BY", "ORDER", "HAVING",
    "LIMIT", "OFFSET", "DISTINCT", "REDUCED", "PREFIX", "BASE", "FROM", "NAMED", "EXISTS", "NOT",
    "IN", "INSERT", "DELETE", "DATA", "LOAD", "CLEAR", "DROP", "WITH", "REGEX", "STR", "COUNT",
    "GROUP_CONCAT", "SEPARATOR", "COALESCE", "IF", "LANG", "CONCAT", "SUBSTR", "REPLACE", "a",
    "true", "false", "UNDEF", "VERSION", "TRIPLE", "SERVICESILENT", "ASKFROM",
)  # fmt: skip
PUNCTUATION = (*"{}()[].;,*|/^!?+=<>&-\"'#@$:", "&&", "||", "^^", "<<", ">>", "{|", "|}")
TERMS = (
    "?s", "?p", "?o", "$x", "?_", "<http://example.org/alice>", "<>", "<file:///etc/passwd>",
    "<http://127.0.0.1:9/x>", "ex:knows", "ex:", ":x", "_:b", "[]", '"x"', "'x'", '"""a\nb"""',
    '"x"@en', '"1"^^<http://www.w3.org/2001/XMLSchema#integer>', "1", "-1.5e10", ".5",
    "\\u0041", "\\U0001F600", "\\u003C", "\\", "#comment\n", "\n", "\t",
)  # fmt: skip
PREFIX_LINE = "PREFIX ex: <http://example.org/> "

sparql_tokens = st.one_of(
    st.sampled_from(KEYWORDS),
    st.sampled_from(PUNCTUATION),
    st.sampled_from(TERMS),
    st.text(max_size=6),
)
token_lists = st.lists(sparql_tokens, max_size=40)
sparql_texts = st.one_of(
    st.lists(sparql_tokens, max_size=60).map(" ".join),
    token_lists.map(lambda tokens: f"{PREFIX_LINE}SELECT * WHERE {{ {' '.join(tokens)} }}"),
    token_lists.map(lambda tokens: f"{PREFIX_LINE}ASK {{ {''.join(tokens)} }}"),
    st.text(max_size=200),
)

PATH_PIECES = (
    "/", "//", "..", ".", "%2e", "%2E%2e", "%2f", "%5c", "\\", "%00", "%0d%0a", "%ff", "%c3%a9",
    "%e2%80%ae", "id", "page", "data", "graph", "ontology", "shapes", "static", "sparql",
    "search", "classes", "dumps", "reconcile", ".ttl", ".jsonld", ".rdf", ".nt", "?", "&", "=",
    "#", ";", "%3Cscript%3E", "'", "%22", "~", "x" * 300, "%25", "%", "+", "@", ":",
)  # fmt: skip
paths = st.lists(
    st.one_of(st.sampled_from(PATH_PIECES), st.text(alphabet="abcXYZ019-_.~!$", max_size=8)),
    min_size=1,
    max_size=12,
).map(lambda pieces: "/" + "".join(pieces))

HEADER_NAMES = (
    "Accept", "Accept-Encoding", "Accept-Language", "Content-Type", "X-Request-Id", "Origin",
    "If-None-Match", "If-Modified-Since", "Range", "X-Forwarded-For", "Cookie", "Referer",
    "Access-Control-Request-Method", "Access-Control-Request-Headers", "Host",
)  # fmt: skip
HEADER_VALUES = (
    "*/*", "text/html", "application/json;q=0.5", "text/turtle;q=abc", "*/*;q=-1", ";;;",
    "application/sparql-results+json, */*;q=0.1", "gzip", "br;q=1.0, gzip;q=0", 'W/"x"', "*",
    "bytes=0-1", "bytes=-5", "Fri, 31 Dec 9999 23:59:59 GMT", "yesterday", "0", "-1",
    "application/x-www-form-urlencoded", "application/sparql-query; charset=utf-16",
    "multipart/form-data", "null", "http://evil.example", "a" * 500,
)  # fmt: skip
headers = st.lists(
    st.tuples(
        st.sampled_from(HEADER_NAMES),
        st.one_of(
            st.sampled_from(HEADER_VALUES),
            st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60),
        ),
    ),
    max_size=8,
)

STREAM_PIECES = (
    b"GET ", b"POST ", b"HEAD ", b"OPTIONS ", b"/sparql", b"/page/id/alice", b"/", b"?query=",
    b"ASK%7B%7D", b" HTTP/1.1", b" HTTP/1.0", b" HTTP/2", b"\r\n", b"\n", b"\r", b"\r\n\r\n",
    b"Host: x", b"Content-Length: 5", b"Content-Length: 0", b"Content-Length: -1",
    b"Content-Length: 99999999999", b"Content-Length: 1e3", b"Transfer-Encoding: chunked",
    b"Expect: 100-continue", b"Connection: close", b"Connection: keep-alive",
    b"Content-Type: application/x-www-form-urlencoded", b"0\r\n\r\n", b"5\r\nhello\r\n",
    b"query=ASK%7B%7D", b": ", b" ", b"\t", b"\x00", b"\xff",
)  # fmt: skip
stream_pieces = st.one_of(st.sampled_from(STREAM_PIECES), st.binary(max_size=8))
framed_requests = st.tuples(
    st.sampled_from((b"GET", b"POST", b"HEAD")),
    st.sampled_from((b"/sparql?query=ASK%7B%7D", b"/sparql", b"/", b"/page/id/alice")),
    st.lists(st.lists(stream_pieces, max_size=4).map(b"".join), max_size=6),
    st.lists(stream_pieces, max_size=6).map(b"".join),
).map(
    lambda parts: (
        parts[0]
        + b" "
        + parts[1]
        + b" HTTP/1.1\r\nHost: x\r\n"
        + b"".join(line + b"\r\n" for line in parts[2])
        + b"\r\n"
        + parts[3]
    )
)
streams = st.tuples(
    st.one_of(
        st.lists(stream_pieces, max_size=40).map(b"".join),
        st.lists(framed_requests, min_size=1, max_size=3).map(b"".join),
    ),
    st.lists(st.integers(1, 64), max_size=4),
)
"""Bytes of one or more requests, good or broken, and where to split them into packets."""
NOT_IMPLEMENTED = 501
STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) ")


@pytest.fixture(scope="module")
def fuzz_server(servers, dataset_files) -> ServerProcess:
    return servers(
        *("--data", *map(str, dataset_files), "--timeout", str(SERVER_TIMEOUT)),
        *("--query-workers", "2", "--rate-limit-concurrency", "0"),
        *("--rate-limit-query-seconds", "0"),
    )


def fuzz_for(seconds: float, strategy: st.SearchStrategy, check: Callable) -> int:
    """Run `check` on examples of `strategy`, in rounds, until `seconds` have passed."""

    @settings(
        max_examples=EXAMPLES_PER_ROUND,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def one_round(example) -> None:
        check(example)

    deadline = time.monotonic() + seconds
    rounds = 0
    while time.monotonic() < deadline:
        one_round()
        rounds += 1
    return rounds * EXAMPLES_PER_ROUND


def assert_sound(status: int, response_headers: dict[str, str], seconds: float) -> None:
    assert status < 500 or status == 503, status
    assert seconds < ANSWER_WITHIN
    if any(name.lower() == "x-request-id" for name in response_headers):
        # answered by the app, not by gunicorn's request parser
        assert header_problems(CaseInsensitiveDict(response_headers)) == []


@pytest.mark.timeout(FUZZ_SECONDS * SHARES["sparql"] + FUZZ_MARGIN_SECONDS)
def test_fuzz_sparql_texts(fuzz_server, attack_log):
    statuses = Counter()

    def check(text: str) -> None:
        started = time.perf_counter()
        if len(text.encode()) < 1500:
            response = requests.get(
                fuzz_server.sparql, params={"query": text}, timeout=ANSWER_WITHIN + 5
            )
        else:
            response = requests.post(
                fuzz_server.sparql,
                data=text.encode("utf-8", "surrogatepass"),
                headers={"Content-Type": "application/sparql-query"},
                timeout=ANSWER_WITHIN + 5,
            )
        statuses[response.status_code] += 1
        assert_sound(response.status_code, response.headers, time.perf_counter() - started)
        if response.status_code >= 400:
            assert response.json()["error"]

    count = fuzz_for(FUZZ_SECONDS * SHARES["sparql"], sparql_texts, check)
    attack_log.append(AttackOutcome("fuzz", f"{count} SPARQL texts {dict(statuses)}"))
    assert count >= EXAMPLES_PER_ROUND


@pytest.mark.timeout(FUZZ_SECONDS * SHARES["paths"] + FUZZ_MARGIN_SECONDS)
def test_fuzz_paths(fuzz_server, attack_log):
    statuses = Counter()

    def check(path: str) -> None:
        started = time.perf_counter()
        response = raw_request(fuzz_server.url, path.encode("utf-8", "surrogatepass"))
        statuses[response.status] += 1
        assert_sound(response.status, response.headers, time.perf_counter() - started)
        assert "root:x:0:0" not in response.text

    count = fuzz_for(FUZZ_SECONDS * SHARES["paths"], paths, check)
    attack_log.append(AttackOutcome("fuzz", f"{count} paths {dict(statuses)}"))
    assert count >= EXAMPLES_PER_ROUND


@pytest.mark.timeout(FUZZ_SECONDS * SHARES["headers"] + FUZZ_MARGIN_SECONDS)
def test_fuzz_headers(fuzz_server, attack_log):
    statuses = Counter()
    targets = ("/sparql?query=ASK%20%7B%7D", "/sparql", "/", "/page/id/alice", "/missing")

    def check(example: tuple[int, list[tuple[str, str]], bool]) -> None:
        target_index, fields, post = example
        started = time.perf_counter()
        response = raw_request(
            fuzz_server.url,
            targets[target_index],
            method="POST" if post else "GET",
            headers=[(name, value.strip()) for name, value in fields if name != "Host"],
            body=b"query=ASK%20%7B%7D" if post else b"",
        )
        statuses[response.status] += 1
        assert_sound(response.status, response.headers, time.perf_counter() - started)

    examples = st.tuples(st.integers(0, len(targets) - 1), headers, st.booleans())
    count = fuzz_for(FUZZ_SECONDS * SHARES["headers"], examples, check)
    attack_log.append(AttackOutcome("fuzz", f"{count} header sets {dict(statuses)}"))
    assert count >= EXAMPLES_PER_ROUND


@pytest.mark.timeout(FUZZ_SECONDS * SHARES["streams"] + FUZZ_MARGIN_SECONDS)
def test_fuzz_byte_streams(fuzz_server, attack_log):
    """Requests as raw bytes in packets, then the end of the client's stream: every answer is
    sound, and the connection ends at once (an unfinished request is not waited for)."""
    statuses = Counter()

    def check(example: tuple[bytes, list[int]]) -> None:
        data, packets = example
        started = time.perf_counter()
        received = send_stream(fuzz_server.url, data, packets)
        answers = [int(status) for status in STATUS_LINE.findall(received)]
        statuses.update(answers or ["closed"])
        for status in answers:
            if status == NOT_IMPLEMENTED and b"transfer-encoding" in data.lower():
                status = 400  # RFC 9112 §6.1: gunicorn's answer to an unknown transfer coding
            assert_sound(status, {}, time.perf_counter() - started)

    count = fuzz_for(FUZZ_SECONDS * SHARES["streams"], streams, check)
    attack_log.append(AttackOutcome("fuzz", f"{count} byte streams {dict(statuses)}"))
    assert count >= EXAMPLES_PER_ROUND
    assert requests.get(fuzz_server.sparql, params={"query": "ASK {}"}, timeout=10).ok
