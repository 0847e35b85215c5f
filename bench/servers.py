"""The servers under test, each started as a process tree pinned to one core.

* Communiqué: ``communique serve --data X`` (in memory, or ``--store-dir``).
* Oxigraph server: ``oxigraph load`` into an on-disk store, then ``oxigraph serve-read-only``.
* rdflib-endpoint: the pure-rdflib reference (``rdflib-endpoint serve``).
* The issue's reference: a minimal Flask app over an in-memory pyoxigraph store, under the same
  gunicorn settings as Communiqué (`bench.reference`).
* The Python ceiling: a minimal Flask app returning recorded bytes, under the same gunicorn
  settings as Communiqué (`bench.ceiling`).
* nginx, when installed: static files, and the project's caching proxy (``deploy/nginx``).

`ServerProcess.memory()` sums RSS and PSS over the whole process tree (Communiqué's gunicorn
master, web workers, query supervisor and query workers share pages copy-on-write, so summed
RSS counts those pages once per process; PSS divides them among the processes that share them).
"""

import http.client
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.client import Connection, Request

HOST = "127.0.0.1"
READY_LINE = re.compile(r"Communiqué serving (\d+) triples \(version \S+\) at (http://\S+/)")
START_TIMEOUT_SECONDS = 900
NGINX_START_SECONDS = 30
STOP_TIMEOUT_SECONDS = 20
MEMORY_SAMPLE_SECONDS = 0.5
ROOT_PROBE = Request("probe", "/")
REPOSITORY = Path(__file__).resolve().parent.parent
NGINX_CONFIG = REPOSITORY / "deploy" / "nginx" / "communique.conf"


@dataclass(frozen=True)
class Memory:
    rss: int
    pss: int
    processes: int


@dataclass
class ServerProcess:
    """A running server: where it listens, its SPARQL path, how long it took to be ready."""

    name: str
    process: subprocess.Popen
    port: int
    query_path: str
    startup_seconds: float = 0.0
    load_seconds: float = 0.0
    log_path: Path | None = None
    peak: Memory = field(default_factory=lambda: Memory(0, 0, 0))

    def memory(self) -> Memory:
        return tree_memory(self.process.pid)

    def sample_peak(self) -> Memory:
        now = self.memory()
        self.peak = Memory(
            max(self.peak.rss, now.rss),
            max(self.peak.pss, now.pss),
            max(self.peak.processes, now.processes),
        )
        return now

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path else ""


class PeakSampler:
    """Samples the memory of some servers in a thread while a phase runs (a context manager)."""

    def __init__(self, servers: list[ServerProcess]):
        self._servers = servers
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "PeakSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            for server in self._servers:
                if server.process.poll() is None:
                    server.sample_peak()
            if self._stop.wait(MEMORY_SAMPLE_SECONDS):
                return


# --- process trees and memory -----------------------------------------------------------------


def tree_memory(root: int) -> Memory:
    """RSS and PSS summed over `root` and every process below it."""
    pids = process_tree(root)
    rss = pss = 0
    for pid in pids:
        rss += _status_kilobytes(pid, "VmRSS") * 1024
        pss += _rollup_kilobytes(pid, "Pss") * 1024
    return Memory(rss, pss, len(pids))


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parent = _parent(int(entry))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry))
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        found.append(pid)
        frontier += children.get(pid, [])
    return found


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rpartition(")")[2].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _status_kilobytes(pid: int, key: str) -> int:
    return _kilobytes(f"/proc/{pid}/status", key)


def _rollup_kilobytes(pid: int, key: str) -> int:
    return _kilobytes(f"/proc/{pid}/smaps_rollup", key)


def _kilobytes(path: str, key: str) -> int:
    try:
        with open(path) as lines:
            for line in lines:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# --- starting ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _pinned(core: int):
    def pin() -> None:
        os.sched_setaffinity(0, {core})
        os.setpgid(0, 0)

    return pin


def venv_tool(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _spawn(command: list[str], core: int, log_path: Path, **kwargs) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COMMUNIQUE_")}
    environment.update(kwargs.pop("env", {}))
    with log_path.open("wb") as log:
        return subprocess.Popen(
            command,
            stdout=kwargs.pop("stdout", log),
            stderr=log,
            stdin=subprocess.DEVNULL,
            env=environment,
            preexec_fn=_pinned(core),
            **kwargs,
        )


def wait_until_answering(
    server: ServerProcess,
    probe: Request,
    timeout: float = START_TIMEOUT_SECONDS,
    *,
    any_status: bool = False,
) -> None:
    """Poll `probe` until the server answers it (below 500, or anything with `any_status`)."""
    deadline = time.monotonic() + timeout
    connection = Connection(HOST, server.port, timeout=30)
    try:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} exited:\n{server.log()}")
            try:
                status = connection.fetch(probe).status
                if any_status or status < 500:
                    return
            except (OSError, http.client.HTTPException):
                connection.close()
            time.sleep(0.05)
    finally:
        connection.close()
    raise RuntimeError(f"{server.name} never answered:\n{server.log()}")


def start_communique(
    data: Path, workdir: Path, *, core: int, store_dir: Path | None = None, extra: tuple = ()
) -> ServerProcess:
    """``communique serve --data`` pinned to `core`; startup time = until the ready line."""
    command = [
        venv_tool("communique"),
        "serve",
        "--host",
        HOST,
        "--port",
        "0",
        "--data",
        str(data),
    ]
    if store_dir is not None:
        command += ["--store-dir", str(store_dir)]
    command += [
        *("--rate-limit-concurrency", "0", "--rate-limit-query-seconds", "0"),
        *extra,
    ]
    log_path = workdir / f"communique-{time.monotonic_ns()}.log"
    started = time.perf_counter()
    process = _spawn(command, core, log_path, stdout=subprocess.PIPE, env={"PYTHONUNBUFFERED": "1"})
    server = ServerProcess("communique", process, 0, "/sparql", log_path=log_path)
    try:
        server.port = _read_ready_port(server)
        server.startup_seconds = time.perf_counter() - started
    except BaseException:
        server.stop()
        raise
    return server


def _read_ready_port(server: ServerProcess) -> int:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    pending = b""
    with selectors.DefaultSelector() as selector:
        selector.register(server.process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=0.2):
                if server.process.poll() is not None:
                    break
                continue
            chunk = os.read(server.process.stdout.fileno(), 65536)
            if not chunk:
                break
            pending += chunk
            found = READY_LINE.search(pending.decode("utf-8", "replace"))
            if found:
                return int(found.group(2).rstrip("/").rsplit(":", 1)[1])
    raise RuntimeError(f"communique serve did not become ready:\n{server.log()}")


def start_oxigraph(data: Path, workdir: Path, *, core: int) -> ServerProcess:
    """Load `data` into an on-disk store (timed), then serve it read-only, union default graph."""
    location = workdir / f"oxigraph-{data.stem}"
    shutil.rmtree(location, ignore_errors=True)
    log_path = workdir / f"oxigraph-{time.monotonic_ns()}.log"
    started = time.perf_counter()
    loader = _spawn(
        [venv_tool("oxigraph"), "load", "--location", str(location), "--file", str(data)],
        core,
        log_path,
    )
    if loader.wait() != 0:
        raise RuntimeError(f"oxigraph load failed:\n{log_path.read_text(errors='replace')}")
    load_seconds = time.perf_counter() - started
    port = free_port()
    command = [
        venv_tool("oxigraph"),
        "serve-read-only",
        *("--location", str(location), "--bind", f"{HOST}:{port}"),
        "--union-default-graph",
    ]
    started = time.perf_counter()
    log_path = workdir / f"oxigraph-serve-{time.monotonic_ns()}.log"
    process = _spawn(command, core, log_path)
    server = ServerProcess(
        "oxigraph", process, port, "/query", load_seconds=load_seconds, log_path=log_path
    )
    wait_until_answering(server, Request("probe", "/query?query=ASK%7B%7D"))
    server.startup_seconds = load_seconds + time.perf_counter() - started
    return server


def start_rdflib_endpoint(data: Path, workdir: Path, *, core: int) -> ServerProcess:
    port = free_port()
    command = [
        venv_tool("rdflib-endpoint"),
        "serve",
        str(data),
        "--host",
        HOST,
        "--port",
        str(port),
    ]
    log_path = workdir / f"rdflib-endpoint-{time.monotonic_ns()}.log"
    started = time.perf_counter()
    process = _spawn(command, core, log_path)
    server = ServerProcess("rdflib-endpoint", process, port, "/", log_path=log_path)
    wait_until_answering(server, Request("probe", "/?query=ASK%7B%7D"))
    server.startup_seconds = server.load_seconds = time.perf_counter() - started
    return server


def start_ceiling(
    recordings: Path, workdir: Path, *, core: int, workers: int, threads: int
) -> ServerProcess:
    """The minimal Flask app under gunicorn with Communiqué's worker settings."""
    return _start_gunicorn(
        "python-ceiling",
        "bench.ceiling:app",
        {"BENCH_RECORDINGS": str(recordings)},
        workdir,
        core=core,
        workers=workers,
        threads=threads,
    )


def start_reference(
    data: Path, workdir: Path, *, core: int, workers: int, threads: int
) -> ServerProcess:
    """The issue's reference (`bench.reference`) on `data`, with Communiqué's worker settings;
    startup and load time = until it answers (it loads before gunicorn forks its workers)."""
    started = time.perf_counter()
    server = _start_gunicorn(
        "minimal-pyoxigraph",
        "bench.reference:app",
        {"BENCH_DATA": str(data)},
        workdir,
        core=core,
        workers=workers,
        threads=threads,
        probe=Request("probe", "/query?query=ASK%7B%7D"),
    )
    server.query_path = "/query"
    server.startup_seconds = server.load_seconds = time.perf_counter() - started
    return server


def _start_gunicorn(
    name: str,
    app: str,
    env: dict[str, str],
    workdir: Path,
    *,
    core: int,
    workers: int,
    threads: int,
    probe: Request = ROOT_PROBE,
) -> ServerProcess:
    port = free_port()
    command = [
        venv_tool("gunicorn"),
        *("--bind", f"{HOST}:{port}", "--workers", str(workers), "--threads", str(threads)),
        *("--worker-class", "gthread", "--preload", "--keep-alive", "5", "--log-level", "warning"),
        app,
    ]
    log_path = workdir / f"{name}-{time.monotonic_ns()}.log"
    process = _spawn(command, core, log_path, cwd=str(REPOSITORY), env=env)
    server = ServerProcess(name, process, port, "", log_path=log_path)
    wait_until_answering(server, probe)
    return server


# --- nginx ------------------------------------------------------------------------------------


def nginx_available() -> bool:
    return shutil.which("nginx") is not None


def start_nginx(workdir: Path, server_block: str, *, core: int, name: str) -> ServerProcess:
    """nginx in the foreground with one worker and a private prefix; `server_block` is http{}."""
    prefix = workdir / f"nginx-{name}"
    shutil.rmtree(prefix, ignore_errors=True)
    (prefix / "logs").mkdir(parents=True)
    configuration = prefix / "nginx.conf"
    # Started by root, nginx runs its worker as "nobody", which may not enter the work folder
    # (pytest's is private): every request would fail with 403.
    user = "user root;\n" if os.geteuid() == 0 else ""
    configuration.write_text(
        f"daemon off;\n{user}worker_processes 1;\nerror_log logs/error.log warn;\n"
        "pid logs/nginx.pid;\n"
        "events { worker_connections 1024; }\n"
        "http {\n  access_log off;\n  keepalive_requests 100000;\n"
        f"  client_body_temp_path {prefix}/body;\n  proxy_temp_path {prefix}/proxy;\n"
        f"  fastcgi_temp_path {prefix}/fastcgi;\n  uwsgi_temp_path {prefix}/uwsgi;\n"
        f"  scgi_temp_path {prefix}/scgi;\n{server_block}\n}}\n"
    )
    log_path = prefix / "logs" / "stderr.log"
    process = _spawn(["nginx", "-p", str(prefix), "-c", str(configuration)], core, log_path)
    port = int(re.search(r"listen\s+[\d.]*:?(\d+)", server_block).group(1))
    server = ServerProcess(f"nginx-{name}", process, port, "", log_path=log_path)
    wait_until_answering(server, Request("probe", "/"), NGINX_START_SECONDS, any_status=True)
    return server


def static_server_block(root: Path, port: int) -> str:
    return (
        f"  server {{\n    listen {HOST}:{port};\n    root {root};\n"
        "    default_type application/octet-stream;\n  }"
    )


def cache_server_block(workdir: Path, upstream_port: int, port: int) -> str:
    """The shipped deploy/nginx/communique.conf, with its three deployment values filled in."""
    text = NGINX_CONFIG.read_text()
    text = text.replace("/var/cache/nginx/communique", str(workdir / "nginx-cache-store"))
    text = text.replace("server 127.0.0.1:8080;", f"server {HOST}:{upstream_port};")
    return text.replace("listen 80;", f"listen {HOST}:{port};")


def start_trivial(workdir: Path, *, core: int) -> ServerProcess:
    """`bench.trivial`: the fastest answer a Python server gives, to bound the client."""
    port = free_port()
    log_path = workdir / f"trivial-{time.monotonic_ns()}.log"
    process = _spawn(
        [sys.executable, "-m", "bench.trivial", str(port)], core, log_path, cwd=str(REPOSITORY)
    )
    server = ServerProcess("trivial", process, port, "", log_path=log_path)
    wait_until_answering(server, Request("probe", "/"))
    return server
