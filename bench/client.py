"""The load client: keep-alive HTTP/1.1 connections (http.client), for latency and throughput.

Latency: one connection per server, requests interleaved across servers (A B C A B C ...), so
every server sees the same minutes of machine noise. Throughput: `clients` connections spread
over up to `MAX_PROCESSES` forked processes (threads within each), pinned to the cores the
servers do not use, each cycling through the workload until a shared deadline.
"""

import http.client
import multiprocessing
import os
import socket
import statistics
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

MAX_PROCESSES = 8
START_DELAY_SECONDS = 0.3
CONNECT_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Request:
    """One HTTP GET the workload makes; `name` identifies it in the report."""

    name: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]
    seconds: float


class Connection:
    """One keep-alive connection; reconnects when the server closed it."""

    def __init__(self, host: str, port: int, timeout: float = CONNECT_TIMEOUT_SECONDS):
        self.host, self.port, self.timeout = host, port, timeout
        self._connection: http.client.HTTPConnection | None = None

    def fetch(self, request: Request) -> Reply:
        for attempt in (1, 2):
            connection = self._connection or self._open()
            started = time.perf_counter()
            try:
                connection.request("GET", request.path, headers=dict(request.headers))
                response = connection.getresponse()
                body = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
                continue
            seconds = time.perf_counter() - started
            if response.will_close:
                self.close()
            headers = {name.lower(): value for name, value in response.getheaders()}
            return Reply(response.status, body, headers, seconds)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _open(self) -> http.client.HTTPConnection:
        self._connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._connection


class RawConnection:
    """A minimal keep-alive HTTP/1.1 client on a raw socket, for load: the request bytes are
    built once and the response is read by Content-Length or chunked framing, several times
    cheaper per request than `http.client` (which parses headers with `email`)."""

    def __init__(self, host: str, port: int, timeout: float = CONNECT_TIMEOUT_SECONDS):
        self.host, self.port, self.timeout = host, port, timeout
        self._socket: socket.socket | None = None
        self._buffer = b""

    @staticmethod
    def encode(request: Request, host: str) -> bytes:
        lines = [f"GET {request.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in request.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def fetch(self, encoded: bytes) -> tuple[int, int]:
        """(status, body length) of one request; reconnects once if the server had closed."""
        for attempt in (1, 2):
            if self._socket is None:
                self._socket = socket.create_connection((self.host, self.port), self.timeout)
                self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._buffer = b""
            try:
                self._socket.sendall(encoded)
                return self._read_response()
            except (ConnectionError, EOFError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _read_response(self) -> tuple[int, int]:
        head = self._read_until(b"\r\n\r\n")
        status_line, _, header_block = head.partition(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        headers = header_block.lower()
        closing = b"connection: close" in headers
        if b"transfer-encoding: chunked" in headers:
            length = self._read_chunked()
        else:
            found = headers.find(b"content-length:")
            length = 0
            if found >= 0:
                end = headers.find(b"\r\n", found)
                length = int(headers[found + 15 : end if end >= 0 else None])
            self._read_exactly(length)
        if closing:
            self.close()
        return status, length

    def _read_chunked(self) -> int:
        total = 0
        while True:
            size = int(self._read_until(b"\r\n").split(b";")[0], 16)
            self._read_exactly(size + 2)
            total += size
            if size == 0:
                return total

    def _read_until(self, marker: bytes) -> bytes:
        while True:
            found = self._buffer.find(marker)
            if found >= 0:
                head = self._buffer[:found]
                self._buffer = self._buffer[found + len(marker) :]
                return head
            self._receive()

    def _read_exactly(self, size: int) -> None:
        while len(self._buffer) < size:
            self._receive()
        self._buffer = self._buffer[size:]

    def _receive(self) -> None:
        chunk = self._socket.recv(262144)
        if not chunk:
            raise EOFError("the server closed the connection")
        self._buffer += chunk


# --- latency ----------------------------------------------------------------------------------


@dataclass
class Latencies:
    """Seconds per request of one (server, request name); failures counted apart."""

    seconds: list[float] = field(default_factory=list)
    failures: int = 0
    statuses: set[int] = field(default_factory=set)
    result_bytes: int = 0

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None

    @property
    def p95(self) -> float | None:
        return percentile(self.seconds, 95) if self.seconds else None


def measure_latency(
    targets: dict[str, tuple[str, int, Sequence[Request]]],
    rounds: int,
    warmup: int = 2,
    *,
    new_connections: bool = False,
) -> dict[str, dict[str, Latencies]]:
    """{server: {request name: Latencies}}; every request of every server, interleaved.

    `targets` maps a server name to (host, port, its version of each request, same order).
    With `new_connections`, every request opens its own connection and asks the server to close
    it (``Connection: close``), as SPARQLWrapper (urllib) and curl do; the time includes the
    connection's opening.
    """
    connections = {name: RawConnection(host, port) for name, (host, port, _) in targets.items()}
    closing = (("Connection", "close"),) if new_connections else ()
    encoded = {
        name: [
            RawConnection.encode(Request(r.name, r.path, r.headers + closing), f"{host}:{port}")
            for r in requests
        ]
        for name, (host, port, requests) in targets.items()
    }
    results = {name: {} for name in targets}
    names = [request.name for request in next(iter(targets.values()))[2]]
    try:
        for index, request_name in enumerate(names):
            for round_number in range(warmup + rounds):
                for server, connection in connections.items():
                    started = time.perf_counter()
                    try:
                        status, length = connection.fetch(encoded[server][index])
                    except OSError:
                        status, length = 0, 0
                    if new_connections or status == 0:
                        connection.close()
                    seconds = time.perf_counter() - started
                    if round_number >= warmup:
                        entry = results[server].setdefault(request_name, Latencies())
                        _record(entry, status, length, seconds)
    finally:
        for connection in connections.values():
            connection.close()
    return results


def _record(entry: Latencies, status: int, length: int, seconds: float) -> None:
    entry.statuses.add(status)
    if status == 200:
        entry.seconds.append(seconds)
        entry.result_bytes = length
    else:
        entry.failures += 1


def percentile(values: Sequence[float], rank: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * rank / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- throughput -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Throughput:
    clients: int
    seconds: float
    completed: int
    failures: int
    p50: float | None
    p95: float | None

    @property
    def per_second(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0


def measure_throughput(
    host: str,
    port: int,
    requests: Sequence[Request],
    *,
    clients: int,
    seconds: float,
    cores: Iterable[int] | None = None,
) -> Throughput:
    """Completed requests per second with `clients` concurrent keep-alive connections."""
    processes = min(clients, MAX_PROCESSES)
    shares = [
        clients // processes + (1 if i < clients % processes else 0) for i in range(processes)
    ]
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    start_at = time.time() + START_DELAY_SECONDS + 0.02 * processes
    end_at = start_at + seconds
    workers = [
        context.Process(
            target=_client_process,
            args=(queue, host, port, list(requests), share, i, start_at, end_at, cores),
        )
        for i, share in enumerate(shares)
    ]
    for worker in workers:
        worker.start()
    latencies: list[float] = []
    completed = failures = 0
    for _ in workers:
        done, failed, sample = queue.get()
        completed += done
        failures += failed
        latencies += sample
    for worker in workers:
        worker.join()
    return Throughput(
        clients,
        seconds,
        completed,
        failures,
        statistics.median(latencies) if latencies else None,
        percentile(latencies, 95) if latencies else None,
    )


def _client_process(
    queue, host, port, requests, threads, process_index, start_at, end_at, cores
) -> None:
    if cores is not None:
        os.sched_setaffinity(0, set(cores))
    tallies = [[0, 0, []] for _ in range(threads)]
    workers = [
        threading.Thread(
            target=_client_thread,
            args=(host, port, requests, (process_index * 7 + n) % len(requests), start_at, end_at),
            kwargs={"tally": tallies[n]},
        )
        for n in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    sample = [s for tally in tallies for s in tally[2]]
    queue.put(
        (
            sum(t[0] for t in tallies),
            sum(t[1] for t in tallies),
            sample[:: max(1, len(sample) // 5000)],
        )
    )


def _client_thread(host, port, requests, offset, start_at, end_at, *, tally) -> None:
    connection = RawConnection(host, port)
    encoded = [RawConnection.encode(request, f"{host}:{port}") for request in requests]
    count = len(encoded)
    time.sleep(max(0.0, start_at - time.time()))
    index = offset
    clock = time.perf_counter
    end = clock() + (end_at - time.time())
    try:
        while True:
            started = clock()
            if started >= end:
                return
            try:
                status, _ = connection.fetch(encoded[index % count])
            except OSError:
                connection.close()
                status = 0
            index += 1
            if status != 200:
                tally[1] += 1
                continue
            tally[0] += 1
            tally[2].append(clock() - started)
    finally:
        connection.close()
