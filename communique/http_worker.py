"""The web workers' gunicorn worker class: gthread, with each request read in the event loop.

gunicorn's gthread worker hands a connection to a thread as soon as it is readable, and the
thread reads the request head with blocking reads that have no deadline. A client that sends
half a head and stops (slowloris) then holds a thread for ever: a few dozen such connections
starve every request, and a stopping server waits its whole graceful timeout for them.

This worker reads each request itself, without blocking, in the loop that accepts connections,
and hands it to a thread only once it has all come: the head, then a body of declared length up
to `MAX_BODY_BYTES`, for which it answers ``Expect: 100-continue`` itself as a reverse proxy
does. A chunked or larger body is read by the thread, each read waiting at most
`READ_TIMEOUT_SECONDS` (``SO_RCVTIMEO``); each write of a response waits at most
`WRITE_TIMEOUT_SECONDS` for a client that stopped reading (``SO_SNDTIMEO``, against slow
reads). A head over `MAX_HEAD_BYTES` gets 431. The head must
come within `ARRIVAL_TIMEOUT_SECONDS` of the connection being accepted (or readable again after
a response), and the body within as long again: otherwise the connection is closed, with 408 if
part of the request had come. A stopping worker gives a request still coming gthread's linger
for kept-alive connections (2 s), then closes its connection (with 503 if part of it had come).

A thread that has answered a kept-alive request waits up to `NEXT_REQUEST_SECONDS` for the
connection's next one, and serves it too if it has come whole (a peek, nothing read) and no
other request waits for a thread; otherwise the connection goes back to the event loop. A
client sending one request after another then costs no trip through the loop (a pipe write,
two wake-ups and two ``epoll_ctl``) per request.

Plain HTTP/1.x: Communiqué configures neither TLS nor HTTP/2, whose handshakes gthread does in
its threads.
"""

import contextlib
import errno
import math
import os
import re
import select
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER as STOP_LINGER
from gunicorn.workers.gthread import TConn, ThreadWorker

ARRIVAL_TIMEOUT_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 10
WRITE_TIMEOUT_SECONDS = 30
MAX_HEAD_BYTES = 65536
"""Above the app's own limits (an 8190-byte request line and 32 KiB of header fields)."""
MAX_BODY_BYTES = 4 * 1024 * 1024
"""Above the app's largest accepted body (three query texts and form overhead)."""
NEXT_REQUEST_SECONDS = 0.002
"""How long a thread waits for a kept-alive connection's next request before handing it back."""
HEARTBEAT_SECONDS = 1.0
"""How often the worker tells gunicorn's master it is alive (its timeout is far longer)."""

_END_OF_HEAD = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(
    rb"\r\ncontent-length[ \t]*:[ \t]*0*(\d{1,16})[ \t]*\r\n", re.IGNORECASE
)
"""A declared body length as gunicorn reads it, leading zeros too (a longer number is not read
here: the request goes to a thread as one with a large body does)."""
_CONTINUE = re.compile(rb"\r\nexpect[ \t]*:[ \t]*100-continue[ \t]*(?=\r\n)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding[ \t]*:", re.IGNORECASE)
_READ_SIZE = 65536
_REQUEST_TIMEOUT = b"408 Request Timeout"
_HEAD_TOO_LARGE = b"431 Request Header Fields Too Large"
_STOPPING = b"503 Service Unavailable"


class _ThreadDemand:
    """Requests handed to the thread pool that no thread has taken yet, and a pipe that wakes the
    threads waiting for their own connection's next request when one is handed over."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued = 0
        self._waiting = 0
        self._wake, self._waker = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._woken = False

    def handed_over(self) -> None:
        """The event loop handed a request to the pool (before a thread can take it)."""
        with self._lock:
            self._queued += 1
            if self._waiting and not self._woken:
                os.write(self._waker, b"!")
                self._woken = True

    def taken(self) -> None:
        """A thread took a request."""
        with self._lock:
            self._queued -= 1
            if not self._queued and self._woken:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake, 1)
                self._woken = False

    def next_request_came(self, client: socket.socket, seconds: float) -> bool:
        """Whether a whole request (see `_whole_request`) came on `client` within `seconds`
        while no other request waited for a thread; what came is left unread."""
        with self._lock:
            if self._queued:
                return False
            self._waiting += 1
        poller = select.poll()
        poller.register(client, select.POLLIN)
        poller.register(self._wake, select.POLLIN)
        try:
            ready = {descriptor for descriptor, _ in poller.poll(math.ceil(seconds * 1000))}
        finally:
            with self._lock:
                self._waiting -= 1
        if self._queued or self._wake in ready or client.fileno() not in ready:
            return False
        try:
            data = client.recv(_READ_SIZE, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except OSError:
            return False
        return _whole_request(data)


def _whole_request(data: bytes) -> bool:
    """Whether `data` begins with a whole request that a thread may read without waiting: its
    head, and a body of declared length if any (none chunked, none to answer 100-continue to)."""
    end = data.find(_END_OF_HEAD) + 2
    if end < 2:
        return False
    head = data[:end]
    if _CHUNKED.search(head) or _CONTINUE.search(head):
        return False
    declared = _CONTENT_LENGTH.search(head)
    length = int(declared[1]) if declared else 0
    return length <= MAX_BODY_BYTES and len(data) >= end + 2 + length


@dataclass
class _Arrival:
    """What has come of a connection's next request; `size` is known once the head is in."""

    data: bytearray
    deadline: float
    size: int | None = None
    searched: int = 0
    """How much of `data` is known to hold no end of head (each byte is searched once)."""


class HeadFirstWorker(ThreadWorker):
    """gthread, except that its threads only get connections whose request has come."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._arriving: dict[TConn, _Arrival] = {}
        self._stop_deadline: float | None = None
        """When stopping: the time by which a request still coming must have come."""
        self._next_heartbeat = 0.0
        self._demand: _ThreadDemand | None = None

    def init_process(self) -> None:
        self._demand = _ThreadDemand()  # here, in the forked worker: a pipe of its own
        super().init_process()

    def notify(self) -> None:
        """gunicorn's heartbeat (a file's time changed), at most every `HEARTBEAT_SECONDS`:
        gthread sends it on every turn of its loop, at least twice a request."""
        now = time.monotonic()
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + HEARTBEAT_SECONDS
            super().notify()

    def handle_exit(self, sig: int, frame: Any) -> None:
        if self._stop_deadline is None:
            self._stop_deadline = time.monotonic() + STOP_LINGER
        super().handle_exit(sig, frame)

    def accept(self, listener: Any) -> None:
        try:
            client, address = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        for option, seconds in (
            (socket.SO_RCVTIMEO, READ_TIMEOUT_SECONDS),
            (socket.SO_SNDTIMEO, WRITE_TIMEOUT_SECONDS),
        ):
            client.setsockopt(socket.SOL_SOCKET, option, struct.pack("ll", seconds, 0))
        self._await_request(TConn(self.cfg, client, address, listener.getsockname()), b"")

    def on_client_socket_readable(self, conn: TConn, client: socket.socket) -> None:
        """A kept-alive connection became readable: its next request is read here too."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._await_request(conn, b"")

    def enqueue_req(self, conn: TConn) -> None:
        """gthread's own hand-over, of a kept-alive connection whose next request was partly
        read with the last one: the rest of it is read here too."""
        conn.sock.setblocking(False)
        self._await_request(conn, conn.parser.unreader.take_buffered())

    def _await_request(self, conn: TConn, data: bytes) -> None:
        arrival = _Arrival(bytearray(data), time.monotonic() + ARRIVAL_TIMEOUT_SECONDS)
        if self._has_come(conn, arrival):
            self._hand_to_thread(conn, bytes(arrival.data))
            return
        self._arriving[conn] = arrival
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read, conn))

    def _read(self, conn: TConn, client: socket.socket) -> None:
        arrival = self._arriving[conn]
        try:
            data = client.recv(_READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(conn)
            return
        arrival.data += data
        if self._has_come(conn, arrival):
            self.poller.unregister(conn.sock)
            del self._arriving[conn]
            self._hand_to_thread(conn, bytes(arrival.data))
        elif arrival.size is None and len(arrival.data) > MAX_HEAD_BYTES:
            self._close(conn, _HEAD_TOO_LARGE, f"the request head is over {MAX_HEAD_BYTES} bytes")

    def _has_come(self, conn: TConn, arrival: _Arrival) -> bool:
        """Whether the whole request is in `arrival` (or as much as is read here). When its head
        has just come, the size to wait for is set and the deadline starts again for the body."""
        if arrival.size is None:
            end = arrival.data.find(_END_OF_HEAD, arrival.searched) + 2
            if end < 2:
                arrival.searched = max(0, len(arrival.data) - len(_END_OF_HEAD) + 1)
                return False
            head = bytes(arrival.data[:end])
            declared = _CONTENT_LENGTH.search(head)
            if declared is None or _CHUNKED.search(head) or int(declared[1]) > MAX_BODY_BYTES:
                return True
            if _CONTINUE.search(head) and head.split(b"\r\n", 1)[0].endswith(b"HTTP/1.1"):
                arrival.data[:end] = self._answer_continue(conn, head)
                end = arrival.data.find(_END_OF_HEAD) + 2
            arrival.size = end + 2 + int(declared[1])
            arrival.deadline = time.monotonic() + ARRIVAL_TIMEOUT_SECONDS
        return len(arrival.data) >= arrival.size

    @staticmethod
    def _answer_continue(conn: TConn, head: bytes) -> bytes:
        """Answer ``Expect: 100-continue`` here, as a reverse proxy does, and return the head
        without it: the body is read here, and the thread must not answer it again."""
        with contextlib.suppress(OSError):
            conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        return _CONTINUE.sub(b"", head)

    def _hand_to_thread(self, conn: TConn, data: bytes) -> None:
        conn.init()
        conn.parser.unreader.unread(data)
        conn.data_ready = True
        self._demand.handed_over()
        super().enqueue_req(conn)

    def handle(self, conn: TConn) -> Any:
        """gthread's handler; then the connection's next requests, each while it comes whole
        within `NEXT_REQUEST_SECONDS` and no other request waits for a thread."""
        self._demand.taken()
        keep_alive = super().handle(conn)
        while (
            keep_alive is True
            and self.alive
            and not conn.parser.unreader.buf.getvalue()
            and self._demand.next_request_came(conn.sock, NEXT_REQUEST_SECONDS)
        ):
            keep_alive = super().handle(conn)
        return keep_alive

    def murder_pending(self) -> None:
        """Also close the connections whose request is late. Once stopping, every request
        still coming gets `STOP_KEEPALIVE_LINGER` more seconds at most."""
        super().murder_pending()
        now = time.monotonic()
        for conn, arrival in list(self._arriving.items()):
            if now < min(arrival.deadline, self._stop_deadline or arrival.deadline):
                continue
            if not arrival.data:
                self._close(conn)
            elif self._stop_deadline is None:
                part = "head" if arrival.size is None else "body"
                late = f"the request {part} did not come within {ARRIVAL_TIMEOUT_SECONDS:g} s"
                self._close(conn, _REQUEST_TIMEOUT, late)
            else:
                self._close(conn, _STOPPING, "the server is stopping; send the request again")

    def _close(self, conn: TConn, status: bytes = b"", message: str = "") -> None:
        """Close `conn`, first answering `status` with `message` if given (best effort: the
        socket is non-blocking and the client may be gone)."""
        self.poller.unregister(conn.sock)
        del self._arriving[conn]
        self.nr_conns -= 1
        if status:
            body = f"{message}\n".encode()
            with contextlib.suppress(OSError):
                conn.sock.send(
                    b"HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body)
                )
        conn.close()
