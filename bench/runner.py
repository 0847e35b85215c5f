"""One benchmark run: for each size, generate, start the servers side by side, measure, stop.

Every server is pinned to `SERVER_CORE` and the load client to the other cores. Per size:

1. generate the graph (cached by size and seed) and validate it (`communique validate`);
2. start Communiqué (in memory), the Oxigraph server (on disk), the issue's reference (a
   minimal Flask app over in-memory pyoxigraph, `bench.reference`) and rdflib-endpoint (up to
   `Plan.rdflib_max`); check that every engine returns the same number of results per query;
3. latency of the query mix, requests interleaved across servers; throughput at each client
   count; peak memory of each process tree throughout;
4. at `Plan.pages_size`: the cheap requests (pages, RDF documents, ASK) against Communiqué,
   the Python ceiling with the same bytes, and nginx (static file; the shipped caching proxy);
5. at `Plan.store_dir_size`: Communiqué with ``--store-dir``: build, restart, latency, memory.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import servers as launch
from bench.ceiling import write_recordings
from bench.client import (
    Connection,
    Latencies,
    Request,
    Throughput,
    measure_latency,
    measure_throughput,
)
from bench.generator import GENERATOR_VERSION, Manifest, generate, manifest_path
from bench.queries import Query, ask_query, query_mix, query_request
from bench.servers import HOST, Memory, PeakSampler, ServerProcess
from communique.settings import Settings

SERVER_CORE = 0
VALIDATION_SAMPLE_SECONDS = 0.2
PAGE_CANDIDATES = {
    "resource-page": (("/page/{path}", "text/html"), ("/{path}", "text/html")),
    "rdf-document": (
        ("/data/{path}.ttl", "text/turtle"),
        ("/{path}.ttl", "text/turtle"),
        ("/{path}", "text/turtle"),
    ),
    "search": (("/search?q={term}", "text/html"),),
}
"""Where Communiqué's pages may live, first found wins (discovered, so the bench does not break
when a route moves); ``{path}`` is the resource IRI without the base."""
PAGE_RESOURCES = 10
MAX_REDIRECTS = 3


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...]
    rounds: int
    throughput_seconds: float
    clients: tuple[int, ...] = (8, 32)
    rdflib_max: int = 10_000
    new_connections_max: int = 10_000
    """Up to this size, latency is measured a second time with a new connection per request."""
    pages_size: int | None = 10_000
    store_dir_size: int | None = None
    validation_timeout: float = 600.0
    validate_max: int = 100_000
    seed: int = 7


QUICK = Plan(sizes=(1_000, 10_000), rounds=10, throughput_seconds=4.0, store_dir_size=10_000)
FULL = Plan(
    sizes=(1_000, 10_000, 100_000, 1_000_000),
    rounds=25,
    throughput_seconds=8.0,
    rdflib_max=100_000,
    store_dir_size=1_000_000,
    validation_timeout=1800.0,
    validate_max=1_000_000,
)


@dataclass
class Validation:
    seconds: float
    peak: Memory
    """Summed over the validating process and its worker processes."""
    outcome: str


@dataclass
class ServerFacts:
    startup_seconds: float
    load_seconds: float
    idle: Memory
    peak: Memory = field(default_factory=lambda: Memory(0, 0, 0))


@dataclass
class PageResults:
    requests: dict[str, str]
    """Kind -> the path measured (or why it is missing)."""
    throughput: dict[str, dict[str, Throughput]]
    """Kind -> server -> throughput at the page client count."""
    clients: int


@dataclass
class StoreDirResults:
    build_seconds: float
    restart_seconds: float
    latency: dict[str, dict[str, Latencies]]
    peak: Memory
    idle: Memory


@dataclass
class SizeResults:
    size: int
    load_average: tuple[float, float]
    """The machine's 1-minute load average before and after this size ran."""
    triples: int
    sources: int
    generate_seconds: float
    validation: Validation | None
    servers: dict[str, ServerFacts]
    queries: list[Query]
    counts: dict[str, dict[str, int | None]]
    latency: dict[str, dict[str, Latencies]]
    throughput: dict[str, dict[int, Throughput]]
    pages: PageResults | None = None
    store_dir: StoreDirResults | None = None
    breakdown: list[tuple[str, float]] | None = None
    new_connection_latency: dict[str, dict[str, Latencies]] | None = None
    """As `latency`, with a new connection per request (up to `Plan.new_connections_max`)."""


@dataclass
class RunResults:
    plan: Plan
    sizes: list[SizeResults]
    client_ceiling: dict[str, Throughput]
    started: str
    seconds: float = 0.0


Say = Callable[[str], None]


def run(plan: Plan, workdir: Path, say: Say) -> RunResults:
    """Measure every size of `plan`; this process runs on the client cores meanwhile."""
    workdir.mkdir(parents=True, exist_ok=True)
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, client_cores())
    started = time.perf_counter()
    results = RunResults(plan, [], {}, time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    try:
        results.client_ceiling = measure_client_ceiling(plan, workdir, say)
        for size in plan.sizes:
            results.sizes.append(run_size(plan, size, workdir, say))
    finally:
        os.sched_setaffinity(0, affinity)
    results.seconds = time.perf_counter() - started
    return results


def client_cores() -> set[int]:
    others = set(range(os.cpu_count() or 1)) - {SERVER_CORE}
    return others or {SERVER_CORE}


def measure_client_ceiling(plan: Plan, workdir: Path, say: Say) -> dict[str, Throughput]:
    """The client against servers that do nothing: a trivial Python server, and nginx serving
    a tiny file when it is installed (the faster of the two bounds the client best)."""
    say("client ceiling: the load client against trivial servers")
    ceiling = {}
    trivial = launch.start_trivial(workdir, core=SERVER_CORE)
    servers = [("trivial Python server", trivial)]
    try:
        if launch.nginx_available():
            root = workdir / "tiny"
            root.mkdir(exist_ok=True)
            (root / "index.html").write_bytes(b"ok")
            block = launch.static_server_block(root, launch.free_port())
            servers.append(
                (
                    "nginx, 2-byte file",
                    launch.start_nginx(workdir, block, core=SERVER_CORE, name="tiny"),
                )
            )
        for clients in plan.clients:
            for name, server in servers:
                ceiling[f"{name}, {clients} clients"] = measure_throughput(
                    HOST, server.port, [Request("tiny", "/")], clients=clients,
                    seconds=plan.throughput_seconds, cores=client_cores(),
                )  # fmt: skip
    finally:
        for _, server in servers:
            server.stop()
    return ceiling


# --- one size ---------------------------------------------------------------------------------


def run_size(plan: Plan, size: int, workdir: Path, say: Say) -> SizeResults:
    load_before = os.getloadavg()[0]
    data, manifest, generate_seconds = generated_data(plan, size, workdir, say)
    validation = validate(data, plan, say) if size <= plan.validate_max else None
    queries = query_mix(manifest)
    say(f"{size:,}: starting servers")
    running = start_servers(plan, size, data, workdir)
    try:
        facts = {
            s.name: ServerFacts(s.startup_seconds, s.load_seconds, s.memory()) for s in running
        }
        with PeakSampler(running):
            counts = result_counts(running, queries)
            say(f"{size:,}: latency, {plan.rounds} interleaved rounds of {len(queries)} queries")
            servers = targets(running, queries)
            latency = measure_latency(servers, plan.rounds)
            new_connection_latency = None
            if size <= plan.new_connections_max:
                say(f"{size:,}: latency again, a new connection per request")
                new_connection_latency = measure_latency(servers, plan.rounds, new_connections=True)
            throughput = measure_mix_throughput(plan, running, queries, say)
        for server in running:
            facts[server.name].peak = server.peak
        results = SizeResults(
            size,
            (load_before, 0.0),
            manifest.triples,
            manifest.sources,
            generate_seconds,
            validation,
            facts,
            queries,
            counts,
            latency,
            throughput,
            new_connection_latency=new_connection_latency,
        )
        by_name = {server.name: server for server in running}
        if plan.pages_size == size:
            results.pages = measure_pages(plan, by_name["communique"], manifest, workdir, say)
        if plan.store_dir_size == size:
            by_name.pop("communique").stop()
            results.store_dir = measure_store_dir(
                plan, data, by_name["oxigraph"], queries, workdir, say
            )
    finally:
        for server in running:
            server.stop()
    if plan.pages_size == size:
        say(f"{size:,}: where the time of one request goes (bench.breakdown)")
        results.breakdown = measure_breakdown(data)
    results.load_average = (load_before, os.getloadavg()[0])
    return results


def measure_breakdown(data: Path) -> list[tuple[str, float]]:
    """`bench.breakdown` in a fresh process pinned to the server core (its pool forks)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.breakdown", str(data)],
        capture_output=True,
        text=True,
        cwd=str(launch.REPOSITORY),
        env={**os.environ, "BENCH_CORE": str(SERVER_CORE)},
        check=True,
    )
    return [tuple(row) for row in json.loads(done.stdout.strip().splitlines()[-1])["rows"]]


def generated_data(plan: Plan, size: int, workdir: Path, say: Say) -> tuple[Path, Manifest, float]:
    data = workdir / "data" / f"diplomacy-{size}-seed{plan.seed}-v{GENERATOR_VERSION}.nq"
    data.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if data.exists() and manifest_path(data).exists():
        manifest = Manifest.read(manifest_path(data))
    else:
        say(f"{size:,}: generating")
        manifest = generate(data, size, plan.seed)
    return data, manifest, time.perf_counter() - started


def validate(data: Path, plan: Plan, say: Say) -> Validation:
    """`communique validate` on the file (project shapes and ontology): time, and peak memory of
    its process tree (it shares the focus nodes out over one worker process per core)."""
    say(f"validating {data.name}")
    command = [launch.venv_tool("communique"), "validate", str(data)]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    peak = Memory(0, 0, 0)
    deadline = started + plan.validation_timeout
    while process.poll() is None:
        if time.perf_counter() > deadline:
            process.kill()  # its worker processes die with it
            process.wait()
            return Validation(plan.validation_timeout, peak, "did not finish")
        peak = larger(peak, launch.tree_memory(process.pid))
        time.sleep(VALIDATION_SAMPLE_SECONDS)
    outcome = {0: "conforms", 1: "does not conform"}.get(
        process.returncode, f"failed (exit {process.returncode})"
    )
    return Validation(time.perf_counter() - started, peak, outcome)


def larger(peak: Memory, now: Memory) -> Memory:
    return Memory(
        max(peak.rss, now.rss), max(peak.pss, now.pss), max(peak.processes, now.processes)
    )


def start_servers(plan: Plan, size: int, data: Path, workdir: Path) -> list[ServerProcess]:
    running = []
    try:
        running.append(launch.start_communique(data, workdir, core=SERVER_CORE))
        running.append(launch.start_oxigraph(data, workdir, core=SERVER_CORE))
        defaults = Settings()
        running.append(
            launch.start_reference(
                data,
                workdir,
                core=SERVER_CORE,
                workers=defaults.web_workers(cores=1),  # as Communiqué's, pinned to one core
                threads=defaults.threads,
            )
        )
        if size <= plan.rdflib_max:
            running.append(launch.start_rdflib_endpoint(data, workdir, core=SERVER_CORE))
    except BaseException:
        for server in running:
            server.stop()
        raise
    return running


def targets(running: list[ServerProcess], queries: list[Query]) -> dict:
    return {
        server.name: (HOST, server.port, [query_request(q, server.query_path) for q in queries])
        for server in running
    }


def result_counts(
    running: list[ServerProcess], queries: list[Query]
) -> dict[str, dict[str, int | None]]:
    """Results per query per server (rows, or triples): the engines must agree."""
    counts: dict[str, dict[str, int | None]] = {}
    for server in running:
        connection = Connection(HOST, server.port)
        try:
            for query in queries:
                reply = connection.fetch(query_request(query, server.query_path))
                counts.setdefault(query.name, {})[server.name] = (
                    count_results(reply.body, query.graph_form) if reply.status == 200 else None
                )
        finally:
            connection.close()
    return counts


def count_results(body: bytes, graph_form: bool) -> int:
    if graph_form:
        return sum(1 for line in body.splitlines() if line.strip() and not line.startswith(b"#"))
    document = json.loads(body)
    return len(document["results"]["bindings"]) if "results" in document else 1


def measure_mix_throughput(
    plan: Plan, running: list[ServerProcess], queries: list[Query], say: Say
) -> dict[str, dict[int, Throughput]]:
    throughput: dict[str, dict[int, Throughput]] = {}
    for clients in plan.clients:
        for server in running:
            say(f"  throughput: {server.name}, {clients} clients")
            requests = [query_request(q, server.query_path) for q in queries]
            throughput.setdefault(server.name, {})[clients] = measure_throughput(
                HOST,
                server.port,
                requests,
                clients=clients,
                seconds=plan.throughput_seconds,
                cores=client_cores(),
            )
    return throughput


# --- pages --------------------------------------------------------------------------------------


def measure_pages(
    plan: Plan, communique: ServerProcess, manifest: Manifest, workdir: Path, say: Say
) -> PageResults:
    """Cheap requests: Communiqué vs the Python ceiling, and nginx static vs the caching proxy."""
    say("pages: discovering routes")
    workload = page_workload(communique, manifest)
    found = {kind: requests[0].path for kind, requests in workload.items() if requests}
    missing = {kind: "not served" for kind, requests in workload.items() if not requests}
    recordings = record(communique, workload)
    recordings_dir = workdir / "recordings"
    write_recordings(recordings_dir, recordings)
    clients = plan.clients[0]
    measured: dict[str, dict[str, Throughput]] = {}
    defaults = Settings()
    ceiling = launch.start_ceiling(
        recordings_dir,
        workdir,
        core=SERVER_CORE,
        workers=defaults.web_workers(cores=1),
        threads=defaults.threads,
    )
    others = [ceiling]
    try:
        if launch.nginx_available():
            others += start_nginx_pair(communique, recordings, workdir)
        for kind, requests in workload.items():
            if not requests:
                continue
            for server in [communique, *others]:
                say(f"  pages: {kind} on {server.name}")
                measured.setdefault(kind, {})[server.name] = measure_throughput(
                    HOST,
                    server.port,
                    server_requests(server, requests, recordings),
                    clients=clients,
                    seconds=plan.throughput_seconds,
                    cores=client_cores(),
                )
    finally:
        for server in others:
            server.stop()
    if not launch.nginx_available():
        missing["nginx"] = "nginx not available"
    return PageResults({**found, **missing}, measured, clients)


def page_workload(communique: ServerProcess, manifest: Manifest) -> dict[str, list[Request]]:
    resources = (manifest.people + manifest.states + manifest.hubs)[:PAGE_RESOURCES]
    paths = [resource.removeprefix("https://w3id.org/communique/") for resource in resources]
    connection = Connection(HOST, communique.port)
    ask = query_request(ask_query(manifest), communique.query_path, fresh=False)
    workload = {"ask": [ask]}
    try:
        for kind, candidates in PAGE_CANDIDATES.items():
            workload[kind] = discover(connection, kind, candidates, paths, manifest.search_terms)
    finally:
        connection.close()
    return workload


def discover(connection: Connection, kind: str, candidates, paths, terms) -> list[Request]:
    """The first candidate route that answers 200 (after redirects), for every resource."""
    for template, accept in candidates:
        found = []
        values = terms if "{term}" in template else paths
        for value in values:
            path = template.format(path=value, term=value)
            final = follow(connection, Request(kind, path, (("Accept", accept),)))
            if final is None:
                break
            found.append(final)
        if found:
            return found
    return []


def follow(connection: Connection, request: Request) -> Request | None:
    for _ in range(MAX_REDIRECTS + 1):
        reply = connection.fetch(request)
        if reply.status == 200:
            return request
        location = reply.headers.get("location")
        if reply.status not in (301, 302, 303, 307, 308) or not location:
            return None
        path = (
            "/" + location.split("://", 1)[-1].split("/", 1)[-1] if "://" in location else location
        )
        request = Request(request.name, path, request.headers)
    return None


def record(
    communique: ServerProcess, workload: dict[str, list[Request]]
) -> dict[str, tuple[str, bytes]]:
    connection = Connection(HOST, communique.port)
    recorded = {}
    try:
        for requests in workload.values():
            for request in requests:
                reply = connection.fetch(request)
                recorded[request.path] = (reply.headers.get("content-type", ""), reply.body)
    finally:
        connection.close()
    return recorded


def start_nginx_pair(
    communique: ServerProcess, recordings: dict[str, tuple[str, bytes]], workdir: Path
) -> list[ServerProcess]:
    static_root = workdir / "static"
    static_root.mkdir(exist_ok=True)
    for number, (_, body) in enumerate(recordings.values()):
        (static_root / f"body-{number}").write_bytes(body)
    (static_root / "index.html").write_bytes(b"ok")
    static = launch.start_nginx(
        workdir,
        launch.static_server_block(static_root, launch.free_port()),
        core=SERVER_CORE,
        name="static",
    )
    try:
        cache = launch.start_nginx(
            workdir,
            launch.cache_server_block(workdir, communique.port, launch.free_port()),
            core=SERVER_CORE,
            name="cache",
        )
    except BaseException:
        static.stop()
        raise
    return [static, cache]


def server_requests(
    server: ServerProcess, requests: list[Request], recordings: dict[str, tuple[str, bytes]]
) -> list[Request]:
    """The same requests, or for nginx-static the files holding the same bytes, asked for with
    the same query string and header fields (which a static file server ignores), so that both
    nginx servers read requests of the same size."""
    if server.name != "nginx-static":
        return requests
    index = {path: number for number, path in enumerate(recordings)}
    return [static_request(r, index[r.path]) for r in requests]


def static_request(request: Request, number: int) -> Request:
    _, mark, query = request.path.partition("?")
    return Request(request.name, f"/body-{number}{mark}{query}", request.headers)


# --- --store-dir ------------------------------------------------------------------------------


def measure_store_dir(
    plan: Plan, data: Path, oxigraph: ServerProcess, queries: list[Query], workdir: Path, say: Say
) -> StoreDirResults:
    store_dir = workdir / f"store-{data.stem}"
    shutil.rmtree(store_dir, ignore_errors=True)
    say("--store-dir: first start (builds the on-disk store)")
    first = launch.start_communique(data, workdir, core=SERVER_CORE, store_dir=store_dir)
    build_seconds = first.startup_seconds
    first.stop()
    say("--store-dir: restart (reuses it)")
    server = launch.start_communique(data, workdir, core=SERVER_CORE, store_dir=store_dir)
    server.name = "communique-store-dir"
    try:
        idle = server.memory()
        with PeakSampler([server]):
            latency = measure_latency(targets([server, oxigraph], queries), plan.rounds)
        return StoreDirResults(build_seconds, server.startup_seconds, latency, server.peak, idle)
    finally:
        server.stop()
