"""Shared fixtures: real `communique serve` processes on loopback ports, and a small dataset.

`start_server(*args)` runs ``communique serve --port 0 ...`` as a subprocess, waits for its ready
line and for the endpoint to answer, and returns a `ServerProcess`; `ServerProcess.stop()` sends
SIGTERM, then SIGKILL. The session-scoped `servers` fixture starts each distinct configuration
once and stops them all at the end.
"""

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

READY_LINE = re.compile(r"Communiqué serving \d+ triples \(version \S+\) at (http://\S+/)")
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15

EX = "http://example.org/"
ITEM_COUNT = 300
RESULT_CAP = 250
"""--max-rows of the shared server: below ITEM_COUNT, so listing every item is truncated."""

SMALL_DATASET = f"""\
@prefix ex: <{EX}> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

ex:alice a ex:Person ; ex:name "Alice" ; ex:knows ex:bob .

ex:g1 {{
    ex:bob a ex:Person ; ex:name "Bob"@en ; ex:age 42 ; ex:knows [ ex:name "Anonymous" ] .
}}

ex:g2 {{
    ex:carol a ex:Person ; ex:name "Carol" ; ex:knows ex:alice ;
        ex:note "two\\nlines, a \\"quote\\", a tab\\t and ümlaut" ;
        ex:height "1.68"^^xsd:decimal .
}}
"""


def items_dataset(count: int = ITEM_COUNT) -> str:
    lines = [f"@prefix ex: <{EX}> .", "ex:g3 {"]
    lines += [
        f'    ex:item{i} a ex:Item ; ex:rank {i} ; ex:label "Item number {i}" .'
        for i in range(count)
    ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def communique_command() -> list[str]:
    script = Path(sys.executable).parent / "communique"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from communique.cli import main; sys.exit(main())"]


@dataclass
class ServerProcess:
    """A running `communique serve`; `url` ends with a slash."""

    url: str
    process: subprocess.Popen
    log_path: Path
    output: list[str] = field(default_factory=list)

    @property
    def sparql(self) -> str:
        return self.url + "sparql"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def terminate(self) -> None:
        """Ask for a graceful stop (SIGTERM) without waiting."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> int:
        """SIGTERM, then SIGKILL if it has not stopped within STOP_TIMEOUT_SECONDS."""
        self.terminate()
        try:
            self.process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        return self.process.returncode


def start_server(*args: str, workdir: Path | None = None) -> ServerProcess:
    """Start ``communique serve --host 127.0.0.1 --port 0 *args`` and wait until it answers.

    No thread is started here: tests may create apps in-process, whose query pool refuses to
    fork while other threads run.
    """
    workdir = workdir or Path(os.environ.get("TMPDIR", "/tmp"))
    log_path = workdir / f"communique-serve-{os.getpid()}-{time.monotonic_ns()}.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COMMUNIQUE_")}
    environment.update(PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*communique_command(), "serve", "--host", "127.0.0.1", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=log,
            env=environment,
        )
    server = ServerProcess("", process, log_path)
    try:
        server.url = _wait_for_ready_line(server)
        _wait_until_answering(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_for_ready_line(server: ServerProcess) -> str:
    """Read the server's stdout until the ready line; it prints nothing after it."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    pending = b""
    with selectors.DefaultSelector() as selector:
        selector.register(server.process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=0.2):
                continue
            chunk = os.read(server.process.stdout.fileno(), 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                text = line.decode("utf-8", "replace")
                server.output.append(text)
                match = READY_LINE.search(text)
                if match:
                    return match.group(1)
    raise RuntimeError(
        f"communique serve did not become ready (exit {server.process.poll()}):\n"
        + "\n".join(server.output)
        + "\n"
        + server.log()
    )


def _wait_until_answering(server: ServerProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            if requests.get(server.sparql, timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise RuntimeError("communique serve never answered:\n" + server.log())


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., ServerProcess]]:
    """``servers(*args)``: a server started with `args`, shared by every test asking the same."""
    started: dict[tuple[str, ...], ServerProcess] = {}
    logs = tmp_path_factory.mktemp("server-logs")

    def server_for(*args: str) -> ServerProcess:
        if args not in started:
            started[args] = start_server(*args, workdir=logs)
        return started[args]

    yield server_for
    for server in started.values():
        server.terminate()
    for server in started.values():
        server.stop()


@pytest.fixture(scope="session")
def dataset_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ...]:
    """The small test dataset: a default graph and ex:g1, ex:g2 (TriG), ex:g3 with items."""
    folder = tmp_path_factory.mktemp("dataset")
    small = folder / "small.trig"
    small.write_text(SMALL_DATASET, encoding="utf-8")
    items = folder / "items.trig"
    items.write_text(items_dataset(), encoding="utf-8")
    return small, items


@pytest.fixture(scope="session")
def server(servers, dataset_files) -> ServerProcess:
    """The shared server over the small dataset (union default graph, result cap RESULT_CAP)."""
    return servers(
        *("--data", *map(str, dataset_files)),
        *("--max-rows", str(RESULT_CAP), "--workers", "2", "--threads", "8"),
    )


# --- W3C summary ------------------------------------------------------------------------------

W3C_OUTCOMES: dict[str, Counter] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count the outcome of every W3C test (tests that record a ``w3c_suite`` property)."""
    properties = dict(report.user_properties)
    if "w3c_suite" not in properties or report.when != "call":
        return
    outcome = properties.get("w3c_outcome", "passed") if report.passed else report.outcome
    W3C_OUTCOMES.setdefault(properties["w3c_suite"], Counter())[outcome] += 1


def pytest_terminal_summary(terminalreporter) -> None:
    for suite, outcomes in sorted(W3C_OUTCOMES.items()):
        counts = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
        terminalreporter.write_line(f"W3C {suite}: {counts}")


# --- W3C query suites -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def w3c_query_server(servers, tmp_path_factory: pytest.TempPathFactory) -> ServerProcess:
    """One server over every data file of the W3C SPARQL 1.1 query suites, each in a named graph
    called by its published IRI (see ``tests/w3c_manifest.py``); the default graph is empty."""
    from tests.w3c_manifest import QUERY_SUITES, dataset_nquads, read_manifest

    entries = [entry for suite in QUERY_SUITES for entry in read_manifest(suite)]
    path = tmp_path_factory.mktemp("w3c-query-suites") / "data.nq"
    path.write_bytes(dataset_nquads(entries))
    return servers(
        *("--data", str(path), "--default-graph", "data"),
        *("--rate-limit-concurrency", "0", "--rate-limit-query-seconds", "0"),
    )


# --- other knowledge bases: Oxigraph servers and misbehaving endpoints ---------------------------

OXIGRAPH = Path(sys.executable).parent / "oxigraph"


@pytest.fixture(scope="session")
def oxigraph_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., str]]:
    """``oxigraph_servers(data_file=None, read_only=True)``: the ``http://127.0.0.1:<port>`` of a
    new ``oxigraph serve-read-only`` loaded with `data_file` (or an empty read-write ``oxigraph
    serve``: /query, /update, /store); all are stopped at the end of the session."""
    import socket

    processes: list[subprocess.Popen] = []

    def start(data_file: Path | None = None, *, read_only: bool = True) -> str:
        location = tmp_path_factory.mktemp("oxigraph") / "db"
        if data_file is not None:
            subprocess.run(
                [OXIGRAPH, "load", "--location", location, "--file", data_file],
                check=True,
                capture_output=True,
            )
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        command = "serve-read-only" if read_only else "serve"
        process = subprocess.Popen(
            [OXIGRAPH, command, "--location", location, "--bind", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"oxigraph {command} exited with {process.returncode}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return f"http://127.0.0.1:{port}"
            time.sleep(0.02)
        raise RuntimeError(f"oxigraph {command} did not listen on port {port}")

    yield start
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(STOP_TIMEOUT_SECONDS)


@dataclass
class StubReply:
    """One answer of a stub endpoint."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering."""


@pytest.fixture
def stub_endpoint() -> Iterator[Callable[..., str]]:
    """``stub_endpoint(*replies)``: the URL of a loopback HTTP server answering each request with
    the next `StubReply` (the last one repeats). ``stub_endpoint.requests`` records (method,
    path, headers, body) of every request. Stopped, its threads joined, after the test."""
    import http.server
    import threading

    started: list[http.server.ThreadingHTTPServer] = []
    requests_seen: list[tuple[str, str, dict[str, str], bytes]] = []

    def start(*replies: StubReply) -> str:
        queue = list(replies) or [StubReply()]

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                requests_seen.append((self.command, self.path, dict(self.headers), body))
                reply = queue.pop(0) if len(queue) > 1 else queue[0]
                time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass

            do_GET = do_POST = do_PUT = answer

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = False  # server_close() then waits for every handler thread
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/sparql"

    start.requests = requests_seen
    yield start
    for server in started:
        server.shutdown()
        server.server_close()


@pytest.fixture
def drop_on_another_thread(monkeypatch) -> Callable[[list], list[BaseException]]:
    """``drop_on_another_thread(kept)``: empty the list `kept` and collect garbage on another
    thread; returns what destructors raised meanwhile (pyoxigraph raises when one of its
    iterators is dropped on a thread other than the one that made it)."""
    import gc
    import threading

    def drop(kept: list) -> list[BaseException]:
        raised: list[BaseException] = []
        monkeypatch.setattr(sys, "unraisablehook", lambda report: raised.append(report.exc_value))
        dropper = threading.Thread(target=lambda: (kept.clear(), gc.collect()))
        dropper.start()
        dropper.join()
        return raised

    return drop
