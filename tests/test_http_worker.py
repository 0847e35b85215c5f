"""The web worker's thread keeps a kept-alive connection for its next request only while that
comes whole and no other request waits for a thread (`communique.http_worker`)."""

import io
import socket
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from gunicorn.workers.gthread import ThreadWorker

from communique.http_worker import HeadFirstWorker, _ThreadDemand, _whole_request

GET = b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: x\r\n\r\n"
POST_HEAD = b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
QUERY = b"ASK {}"
LONG_WAIT = 5.0


@pytest.mark.parametrize(
    ("data", "whole"),
    [
        (GET, True),
        (GET + b"GET /next", True),
        (GET[:-2], False),
        (POST_HEAD + b"Content-Length: 6\r\n\r\n" + QUERY, True),
        (POST_HEAD + b"Content-Length: 6\r\n\r\n" + QUERY[:3], False),
        (POST_HEAD + b"Transfer-Encoding: chunked\r\n\r\n6\r\nASK {}\r\n0\r\n\r\n", False),
        (POST_HEAD + b"Expect: 100-continue\r\nContent-Length: 6\r\n\r\n", False),
        (POST_HEAD + b"Content-Length: 999999999\r\n\r\n", False),
        (POST_HEAD + b"Content-Length: 0000000000000006\r\n\r\n", False),
        (POST_HEAD + b"Content-Length: 0000000000000006\r\n\r\n" + QUERY, True),
    ],
)
def test_a_thread_takes_only_a_request_that_has_all_come(data, whole):
    assert _whole_request(data) is whole


@pytest.fixture
def connection() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(the server's end, the client's end)."""
    server, client = socket.socketpair()
    with server, client:
        yield server, client


def waiting(demand: _ThreadDemand, server: socket.socket, seconds: float) -> dict:
    """`next_request_came` running in a thread; the dict gets its answer and how long it took."""
    outcome: dict = {}

    def wait() -> None:
        started = time.monotonic()
        outcome["came"] = demand.next_request_came(server, seconds)
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=wait)
    thread.start()
    outcome["thread"] = thread
    return outcome


def test_the_next_request_is_seen_whole_and_left_unread(connection):
    server, client = connection
    outcome = waiting(_ThreadDemand(), server, LONG_WAIT)
    time.sleep(0.1)
    client.sendall(GET)
    outcome["thread"].join()
    assert outcome["came"] is True
    assert outcome["seconds"] < 1
    assert server.recv(65536) == GET


def test_half_a_request_hands_the_connection_back(connection):
    server, client = connection
    client.sendall(GET[:20])
    assert _ThreadDemand().next_request_came(server, LONG_WAIT) is False
    assert server.recv(65536) == GET[:20]


def test_no_request_within_the_wait_hands_the_connection_back(connection):
    server, _ = connection
    started = time.monotonic()
    assert _ThreadDemand().next_request_came(server, 0.05) is False
    assert 0.04 < time.monotonic() - started < 1


def test_a_request_handed_to_the_pool_wakes_the_waiting_threads_once(connection):
    server, client = connection
    demand = _ThreadDemand()
    woken = waiting(demand, server, LONG_WAIT)
    time.sleep(0.1)
    demand.handed_over()
    woken["thread"].join()
    demand.taken()
    later = waiting(demand, server, LONG_WAIT)
    time.sleep(0.2)
    assert later["thread"].is_alive()  # it waits: the wake-up was drained
    client.sendall(GET)
    later["thread"].join()
    assert (woken["came"], later["came"]) == (False, True)
    assert woken["seconds"] < 1


def test_no_thread_keeps_its_connection_while_a_request_waits_for_one(connection):
    server, client = connection
    demand = _ThreadDemand()
    demand.handed_over()
    client.sendall(GET)
    assert demand.next_request_came(server, LONG_WAIT) is False
    demand.taken()
    assert demand.next_request_came(server, LONG_WAIT) is True


def serving(monkeypatch, *, alive: bool = True, waiting_requests: int = 0):
    """A worker whose gthread handler reads one GET and keeps the connection alive; the list
    gets each request it handled. The request being handled was handed over first."""
    handled: list[bytes] = []

    def handle_one(worker, conn) -> bool:
        handled.append(conn.sock.recv(len(GET)))
        return True

    monkeypatch.setattr(ThreadWorker, "handle", handle_one)
    worker = HeadFirstWorker.__new__(HeadFirstWorker)
    worker.alive = alive
    worker._demand = _ThreadDemand()
    for _ in range(1 + waiting_requests):
        worker._demand.handed_over()
    return worker, handled


def kept_alive(server: socket.socket, read_ahead: bytes = b"") -> SimpleNamespace:
    return SimpleNamespace(
        sock=server, parser=SimpleNamespace(unreader=SimpleNamespace(buf=io.BytesIO(read_ahead)))
    )


def test_a_thread_serves_the_requests_that_come_whole_one_after_another(monkeypatch, connection):
    server, client = connection
    worker, handled = serving(monkeypatch)
    client.sendall(GET * 3 + GET[:20])
    assert worker.handle(kept_alive(server)) is True
    assert handled == [GET] * 3
    assert server.recv(65536) == GET[:20]  # half a request: back to the event loop, unread


@pytest.mark.parametrize("reason", ["another request waits", "stopping", "read ahead"])
def test_a_thread_hands_the_connection_back_after_one_request(monkeypatch, connection, reason):
    server, client = connection
    worker, handled = serving(
        monkeypatch,
        alive=reason != "stopping",
        waiting_requests=1 if reason == "another request waits" else 0,
    )
    client.sendall(GET * 2)
    conn = kept_alive(server, GET[:5] if reason == "read ahead" else b"")
    assert worker.handle(conn) is True
    assert handled == [GET]
