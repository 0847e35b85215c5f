"""Slow clients (slowloris, slow POST) hold no web thread: a request reaches a thread only once it
has all come, a late one gets 408, and a stopping server does not wait for them."""

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit

import pytest
import requests

from communique.http_worker import ARRIVAL_TIMEOUT_SECONDS, MAX_HEAD_BYTES
from tests.conftest import ServerProcess, start_server
from tests.security.conftest import AttackOutcome
from tests.security.raw_http import parse_response, read_all

SLOW_CONNECTIONS = 40
"""More than the server's web threads (2 workers × 8)."""
ASK = b"/sparql?query=ASK%7B%7D"
HEAD = b"GET " + ASK + b" HTTP/1.1\r\nHost: x\r\nAccept: application/sparql-results+json\r\n"
FORM = b"query=ASK%7B%7D"
FORM_HEAD = (
    b"POST /sparql HTTP/1.1\r\nHost: x\r\nAccept: application/sparql-results+json\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n"
)
PROMPT_SECONDS = 3
"""A request sent while the slow clients wait is answered within this (it hung before)."""


@pytest.fixture(scope="module")
def slow_target(dataset_files, tmp_path_factory) -> Iterator[ServerProcess]:
    server = start_server(
        *("--data", *map(str, dataset_files)),
        *("--workers", "2", "--threads", "8"),
        workdir=tmp_path_factory.mktemp("slow-clients"),
    )
    yield server
    server.stop()


def _address(server: ServerProcess) -> tuple[str, int]:
    parts = urlsplit(server.url)
    return parts.hostname, parts.port


@contextmanager
def _clients_sending(server: ServerProcess, data: bytes, count: int) -> Iterator[list]:
    """`count` connections that have sent `data` and then nothing more."""
    with ExitStack() as stack:
        connections = []
        for _ in range(count):
            connection = stack.enter_context(socket.create_connection(_address(server)))
            connection.sendall(data)
            connections.append(connection)
        time.sleep(0.3)
        yield connections


def _timed_ask(server: ServerProcess) -> tuple[int, float]:
    started = time.monotonic()
    response = requests.get(server.sparql, params={"query": "ASK {}"}, timeout=30)
    return response.status_code, time.monotonic() - started


SLOW_ATTACKS = {
    "slowloris: half a head": HEAD,
    "slowloris: connected, nothing sent": b"",
    "slow POST: part of a declared body": FORM_HEAD + b"Content-Length: 1000\r\n\r\nquery=",
    "slowloris: a whole request, then half of the next": HEAD + b"\r\n" + HEAD,
    "slow POST: a declared length with leading zeros": (
        FORM_HEAD + b"Content-Length: 0000000000001000\r\n\r\nquery="
    ),
}


@pytest.mark.parametrize("attack", list(SLOW_ATTACKS))
def test_slow_clients_do_not_hold_up_other_requests(slow_target, attack_log, attack):
    with _clients_sending(slow_target, SLOW_ATTACKS[attack], SLOW_CONNECTIONS):
        status, seconds = _timed_ask(slow_target)
    assert status == 200
    assert seconds < PROMPT_SECONDS, f"{attack}: a request waited {seconds:.1f} s"
    attack_log.append(AttackOutcome("slow clients", attack, status))


def test_a_request_that_stops_coming_gets_408(slow_target, attack_log):
    """Both the late head and the late body are answered when the arrival time has passed."""
    part_of_body = FORM_HEAD + b"Content-Length: 99\r\n\r\nq"
    with (
        _clients_sending(slow_target, HEAD, 1) as (late_head,),
        _clients_sending(slow_target, part_of_body, 1) as (late_body,),
    ):
        started = time.monotonic()
        answers = [parse_response(read_all(c, 30)) for c in (late_head, late_body)]
        waited = time.monotonic() - started
    for answer, part in zip(answers, ("head", "body"), strict=True):
        assert answer.status == 408
        assert f"the request {part} did not come within" in answer.text
        assert answer.headers["connection"] == "close"
        attack_log.append(AttackOutcome("slow clients", f"late {part}", answer.status))
    assert waited < ARRIVAL_TIMEOUT_SECONDS + 2


def test_a_head_over_the_limit_gets_431(slow_target, attack_log):
    with _clients_sending(slow_target, HEAD + b"X-Long: " + b"a" * MAX_HEAD_BYTES, 1) as (c,):
        answer = parse_response(read_all(c, 10))
    assert answer.status == 431
    assert f"over {MAX_HEAD_BYTES} bytes" in answer.text
    attack_log.append(AttackOutcome("slow clients", "endless head", answer.status))


def test_requests_split_across_packets_pipelined_and_chunked_are_answered(slow_target):
    host, port = _address(slow_target)
    body = FORM_HEAD + b"Content-Length: %d\r\n\r\n" % len(FORM)
    chunked = FORM_HEAD + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    pieces = [
        HEAD[:20],
        HEAD[20:] + b"\r\n" + HEAD,
        b"\r\n" + body + FORM[:4],
        FORM[4:] + chunked + b"%x\r\n%s\r\n0\r\n\r\n" % (len(FORM), FORM),
    ]
    with socket.create_connection((host, port)) as connection:
        for piece in pieces:
            connection.sendall(piece)
            time.sleep(0.2)
        received = read_all(connection, 10)
    assert received.count(b"HTTP/1.1 200 OK") == 4
    assert received.count(b'"boolean":true') == 4


def test_requests_one_after_another_on_a_kept_alive_connection_are_answered(slow_target):
    """A thread keeps a connection for its next request when it comes soon (GET and POST)."""
    host, port = _address(slow_target)
    post = FORM_HEAD + b"Content-Length: %d\r\n\r\n" % len(FORM) + FORM
    with socket.create_connection((host, port), timeout=10) as connection:
        for number in range(40):
            connection.sendall(HEAD + b"\r\n" if number % 2 else post)
            answer = b""
            while not answer.endswith(b'"boolean":true}'):
                answer += connection.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
            assert answer.count(b"HTTP/1.1") == 1


def test_expect_100_continue_is_answered_before_the_body_is_sent(slow_target):
    head = FORM_HEAD + b"Expect: 100-continue\r\nConnection: close\r\n"
    head += b"Content-Length: %d\r\n\r\n" % len(FORM)
    with socket.create_connection(_address(slow_target), timeout=5) as connection:
        connection.sendall(head)
        assert connection.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        connection.sendall(FORM)
        answer = read_all(connection, 10)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"100 Continue" not in answer
    assert answer.endswith(b'"boolean":true}')


def test_a_request_coming_as_the_server_stops_is_still_answered(dataset_files, tmp_path):
    """A graceful stop (or a reload, which stops the old workers) does not drop a request whose
    head is still coming, if it comes within the linger."""
    server = start_server("--data", str(dataset_files[0]), workdir=tmp_path)
    try:
        with _clients_sending(server, HEAD[:30], 1) as (connection,):
            server.terminate()
            time.sleep(0.5)
            connection.sendall(HEAD[30:] + b"Connection: close\r\n\r\n")
            answer = parse_response(read_all(connection, 10))
    finally:
        server.stop()
    assert answer.status == 200
    assert answer.body.endswith(b'"boolean":true}')


def test_a_stopping_server_does_not_wait_for_slow_clients(dataset_files, tmp_path):
    server = start_server("--data", str(dataset_files[0]), workdir=tmp_path)
    try:
        with (
            _clients_sending(server, HEAD, SLOW_CONNECTIONS // 2),
            _clients_sending(server, b"", SLOW_CONNECTIONS // 2),
        ):
            assert _timed_ask(server)[0] == 200
            started = time.monotonic()
            assert server.stop() == 0
            stopped_after = time.monotonic() - started
    finally:
        server.stop()
    assert stopped_after < 5, f"the server took {stopped_after:.1f} s to stop:\n{server.log()}"
