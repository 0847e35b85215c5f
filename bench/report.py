"""The Markdown report: machine, versions, method, every figure, and each target met or not."""

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

from bench.client import Latencies, Throughput
from bench.machine import machine, versions
from bench.runner import RunResults, SizeResults

COMMUNIQUE = "communique"
OXIGRAPH = "oxigraph"
RDFLIB = "rdflib-endpoint"
REFERENCE = "minimal-pyoxigraph"
CEILING = "python-ceiling"
NGINX_STATIC = "nginx-static"
NGINX_CACHE = "nginx-cache"
STORE_DIR = "communique-store-dir"
CHEAP_KINDS = ("resource-page", "rdf-document", "ask")
MEBIBYTE = 1024 * 1024
BUSY_LOAD = 0.5
BUSY_WARNING = (
    "**the machine was busy with other work: absolute figures are inflated; interleaved "
    "ratios are the more reliable figures**"
)

NEW_CONNECTIONS_NOTE = (
    "The same queries, each on a connection of its own that the server closes after answering "
    "(`Connection: close`), as SPARQLWrapper (urllib) and curl send them; the time includes "
    "opening the connection. Not a target: the targets use the kept-alive figures above."
)


@dataclass(frozen=True)
class Target:
    what: str
    goal: str
    measured: str
    met: bool | None
    """None: not measured in this run."""


def render(results: RunResults, command: str) -> str:
    lines = [
        "# Communiqué benchmark",
        "",
        f"Run {results.started}, {results.seconds / 60:.1f} minutes: `{command}`.",
        "",
        *_key_values("Machine", machine()),
        *_key_values("Versions", versions()),
        *_method(results),
        *_targets_section(targets(results)),
        *_reference_section(results),
        *_client_ceiling(results.client_ceiling),
    ]
    for size in results.sizes:
        lines += _size_section(size)
    return "\n".join(lines) + "\n"


# --- targets ----------------------------------------------------------------------------------


def targets(results: RunResults) -> list[Target]:
    by_size = {size.size: size for size in results.sizes}
    found = query_targets(by_size, COMMUNIQUE)
    found += _page_targets(by_size.get(10_000))
    found += _scale_targets(by_size.get(1_000_000))
    return found


def query_targets(by_size: dict[int, SizeResults], server: str) -> list[Target]:
    """The query-mix latency and throughput targets, for `server`."""
    found: list[Target] = []
    for size, goal in ((10_000, 0.9), (1_000_000, 0.4)):
        ratio = _mix_ratio(by_size.get(size), server)
        found.append(_at_most(f"query-mix latency vs Oxigraph at {size:,}", goal, ratio, "×"))
    for size in by_size.values():
        worst = _worst_ratio(size, server)
        if worst is not None:
            target = _at_most(f"slowest query vs Oxigraph at {size.size:,}", 2.0, worst[1], "×")
            found.append(replace(target, measured=f"{target.measured} ({worst[0]})"))
    ten_thousand = by_size.get(10_000)
    for other, goal in ((OXIGRAPH, 2.0), (RDFLIB, 20.0)):
        found.append(
            _at_least(
                f"mix throughput vs {other}, 8 clients, 10,000",
                goal,
                _throughput_ratio(ten_thousand, server, other),
                "×",
            )
        )
    return found


def _page_targets(size: SizeResults | None) -> list[Target]:
    pages = size.pages if size else None
    found = []
    for kind in CHEAP_KINDS:
        measured = pages.throughput.get(kind, {}) if pages else {}
        ours, ceiling = measured.get(COMMUNIQUE), measured.get(CEILING)
        ratio = (
            ours.per_second / ceiling.per_second
            if ours and ceiling and ceiling.per_second
            else None
        )
        found.append(
            _at_least(f"{kind}: throughput vs the Python ceiling, 8 clients", 0.9, ratio, "×")
        )
        p50 = ours.p50 * 1000 if ours and ours.p50 is not None else None
        found.append(_below(f"{kind}: p50 at 8 clients", 5.0, p50, " ms"))
        cache, static = measured.get(NGINX_CACHE), measured.get(NGINX_STATIC)
        ratio = (
            cache.per_second / static.per_second if cache and static and static.per_second else None
        )
        found.append(
            _at_least(f"{kind}: cached (deploy/nginx) vs nginx static file", 0.5, ratio, "×")
        )
    return found


def _scale_targets(size: SizeResults | None) -> list[Target]:
    facts = size.servers.get(COMMUNIQUE) if size else None
    store_dir = size.store_dir if size else None
    load = facts.startup_seconds if facts else None
    per_triple_rss = facts.peak.rss / size.triples if facts else None
    per_triple_pss = facts.peak.pss / size.triples if facts else None
    idle_pss = facts.idle.pss / size.triples if facts else None
    disk_rss = store_dir.peak.rss / MEBIBYTE if store_dir else None
    disk_ratio = _mix_ratio_in(store_dir.latency, STORE_DIR) if store_dir else None
    restart = store_dir.restart_seconds if store_dir else None
    return [
        _at_most("1,000,000: load until serving (in memory)", 60.0, load, " s"),
        _at_most(
            "1,000,000: peak RSS per triple, all processes summed", 800.0, per_triple_rss, " B"
        ),
        _at_most("1,000,000: peak PSS per triple, all processes", 800.0, per_triple_pss, " B"),
        _at_most("1,000,000: idle PSS per triple (loaded, no query)", 800.0, idle_pss, " B"),
        _at_most("1,000,000 --store-dir: peak RSS, all processes", 300.0, disk_rss, " MB"),
        _at_most("1,000,000 --store-dir: mix latency vs Oxigraph", 1.0, disk_ratio, "×"),
        _at_most("1,000,000 --store-dir: restart until serving", 5.0, restart, " s"),
    ]


def _at_most(what: str, goal: float, value: float | None, unit: str) -> Target:
    return _target(what, f"≤ {goal:g}{unit}", value, unit, None if value is None else value <= goal)


def _below(what: str, goal: float, value: float | None, unit: str) -> Target:
    return _target(what, f"< {goal:g}{unit}", value, unit, None if value is None else value < goal)


def _at_least(what: str, goal: float, value: float | None, unit: str) -> Target:
    return _target(what, f"≥ {goal:g}{unit}", value, unit, None if value is None else value >= goal)


def _target(what: str, goal: str, value: float | None, unit: str, met: bool | None) -> Target:
    measured = "not measured" if value is None else f"{_number(value)}{unit}"
    return Target(what, goal, measured, met)


def _mix_ratio(size: SizeResults | None, server: str) -> float | None:
    return _mix_ratio_in(size.latency, server) if size else None


def _mix_ratio_in(latency: dict[str, dict[str, Latencies]], server: str) -> float | None:
    """Geometric mean over queries of (server median / Oxigraph median)."""
    ratios = [r for _, r in _ratios(latency, server)]
    return geometric_mean(ratios) if ratios else None


def _ratios(latency: dict[str, dict[str, Latencies]], server: str) -> list[tuple[str, float]]:
    ours, theirs = latency.get(server, {}), latency.get(OXIGRAPH, {})
    found = []
    for name, entry in ours.items():
        other = theirs.get(name)
        if entry.median and other and other.median:
            found.append((name, entry.median / other.median))
    return found


def _worst_ratio(size: SizeResults, server: str) -> tuple[str, float] | None:
    ratios = _ratios(size.latency, server)
    return max(ratios, key=lambda item: item[1]) if ratios else None


def _throughput_ratio(size: SizeResults | None, server: str, other: str) -> float | None:
    if size is None:
        return None
    ours = size.throughput.get(server, {}).get(8)
    theirs = size.throughput.get(other, {}).get(8)
    if not ours or not theirs or not theirs.per_second:
        return None
    return ours.per_second / theirs.per_second


def geometric_mean(values: Iterable[float]) -> float:
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values))


# --- sections ---------------------------------------------------------------------------------


def _key_values(title: str, values: dict[str, str]) -> list[str]:
    return [
        f"## {title}",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in values.items()),
        "",
    ]


def _method(results: RunResults) -> list[str]:
    plan = results.plan
    return [
        "## Method",
        "",
        f"- Sizes {', '.join(f'{s:,}' for s in plan.sizes)} triples, generated by "
        f"`bench.generator` (seed {plan.seed}; N-Quads, one graph per source plus background "
        "and ontology graphs).",
        "- Each server process tree is pinned to core 0 (`sched_setaffinity`, inherited by every "
        "child); the load client runs on the other core(s).",
        "- Communiqué: `communique serve --data FILE` with its defaults (gunicorn gthread, one "
        "web worker per core it may run on, here 1, × 8 threads; 2 query worker processes: the "
        "worker-process isolation is on), "
        "per-client rate limiting off (all load comes from one address). Oxigraph: "
        "`oxigraph load` then `oxigraph serve-read-only --union-default-graph` on its on-disk "
        "store. The issue's reference (`minimal-pyoxigraph`): a minimal Flask app over an "
        "in-memory pyoxigraph store (`bench.reference`), under gunicorn with Communiqué's worker "
        "settings. rdflib-endpoint: "
        f"`rdflib-endpoint serve FILE` (up to {plan.rdflib_max:,} triples).",
        f"- Latency: one keep-alive connection per server, requests interleaved across servers "
        f"(A B C A B C), {plan.rounds} rounds per query after 2 warm-up rounds; median and p95. "
        "Ratio = Communiqué median / Oxigraph median; the mix figure is the geometric mean of "
        "the per-query ratios. Up to "
        f"{plan.new_connections_max:,} triples, latency is measured a second time with a new "
        "connection per request, as SPARQLWrapper and curl make them.",
        "- Query-mix requests (latency and throughput) carry `Cache-Control: no-cache`, so "
        "Communiqué evaluates every one instead of answering the repeated query from its "
        "response cache; the cheap requests do not: like the Python ceiling, they measure a "
        "request repeated, answered from memory.",
        f"- Throughput: {' and '.join(map(str, plan.clients))} concurrent keep-alive clients "
        f"(`http.client`, up to 8 processes), {plan.throughput_seconds:g} s each, cycling "
        "through the workload; completed 200 answers per second.",
        "- Memory: RSS and PSS (`/proc/PID/smaps_rollup`) summed over each server's process tree, "
        "sampled every 0.5 s; peak = the largest sum seen while the server was measured.",
        "- Every engine's result count per query is compared; a mismatch is shown.",
        "",
    ]


def _targets_section(found: list[Target]) -> list[str]:
    mark = {True: "met", False: "**not met**", None: "not measured"}
    return [
        "## Targets",
        "",
        "| target | goal | measured | |",
        "|---|---|---|---|",
        *(f"| {t.what} | {t.goal} | {t.measured} | {mark[t.met]} |" for t in found),
        "",
    ]


def _reference_section(results: RunResults) -> list[str]:
    """The query targets met or not by the issue's reference (`bench.reference`), which has
    none of Communiqué's isolation, checks, limits or negotiation: what they cost."""
    by_size = {size.size: size for size in results.sizes}
    pairs = zip(query_targets(by_size, REFERENCE), query_targets(by_size, COMMUNIQUE), strict=True)
    rows = [
        f"| {theirs.what} | {theirs.goal} | {theirs.measured} | {ours.measured} |"
        for theirs, ours in pairs
    ]
    return [
        "## The reference on the same targets",
        "",
        "The issue's reference, a minimal Flask app over an in-memory pyoxigraph store under the "
        "same gunicorn settings (`bench.reference`: no query isolation, checks, limits, "
        "negotiation or caching), measured in the same runs:",
        "",
        "| target | goal | minimal Flask + pyoxigraph | Communiqué |",
        "|---|---|---|---|",
        *rows,
        "",
    ]


def _client_ceiling(ceiling: dict[str, Throughput]) -> list[str]:
    return [
        "## The load client's ceiling",
        "",
        "| against | requests/s | p50 ms |",
        "|---|---|---|",
        *(f"| {name} | {t.per_second:,.0f} | {_ms(t.p50)} |" for name, t in ceiling.items()),
        "",
    ]


def _size_section(size: SizeResults) -> list[str]:
    lines = [
        f"## {size.size:,} triples",
        "",
        f"{size.triples:,} triples in {size.sources:,} source graphs "
        f"(generated in {size.generate_seconds:.1f} s). Machine load average (1 min) "
        f"{size.load_average[0]:.2f} before, {size.load_average[1]:.2f} after"
        + (f" — {BUSY_WARNING}" if max(size.load_average) > BUSY_LOAD else "."),
    ]
    if size.validation:
        v = size.validation
        lines.append(
            f"Validation (`communique validate`, project shapes and ontology): {v.outcome}, "
            f"{v.seconds:.1f} s; peak over its {v.peak.processes} processes: RSS "
            f"{v.peak.rss / MEBIBYTE:,.0f} MiB, PSS {v.peak.pss / MEBIBYTE:,.0f} MiB."
        )
    else:
        lines.append("Validation not run at this size (`--validate-max`).")
    lines += ["", *_servers_table(size), *_latency_sections(size), *_throughput_table(size)]
    if size.breakdown:
        lines += _breakdown_section(size.breakdown)
    if size.pages:
        lines += _pages_section(size)
    if size.store_dir:
        lines += _store_dir_section(size)
    return lines


def _servers_table(size: SizeResults) -> list[str]:
    rows = [
        "| server | ready after s | of which load s | idle RSS MiB | idle PSS MiB | peak RSS MiB "
        "| peak PSS MiB | processes | peak RSS B/triple | peak PSS B/triple |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, f in size.servers.items():
        rows.append(
            f"| {name} | {f.startup_seconds:.1f} | {f.load_seconds:.1f} | {_mib(f.idle.rss)} "
            f"| {_mib(f.idle.pss)} | {_mib(f.peak.rss)} | {_mib(f.peak.pss)} | {f.peak.processes} "
            f"| {f.peak.rss / size.triples:,.0f} | {f.peak.pss / size.triples:,.0f} |"
        )
    return [*rows, ""]


def _latency_table(
    size: SizeResults, latency: dict[str, dict[str, Latencies]], heading: str
) -> list[str]:
    servers = list(latency)
    header = "| query | results | " + " | ".join(f"{s} median / p95 ms" for s in servers)
    header += " | " + " | ".join(f"{s} / oxigraph" for s in servers if s != OXIGRAPH) + " |"
    rows = [header, "|" + "---|" * (2 + 2 * len(servers) - 1)]
    for query in size.queries:
        counts = size.counts.get(query.name, {})
        distinct = {c for c in counts.values()}
        results = str(next(iter(distinct))) if len(distinct) == 1 else _mismatch(counts)
        cells = [_median_p95(latency[s].get(query.name)) for s in servers]
        ratios = [_ratio(latency, s, query.name) for s in servers if s != OXIGRAPH]
        rows.append(f"| {query.name} | {results} | " + " | ".join(cells + ratios) + " |")
    means = [
        _number(_mix_ratio_in(latency, s)) if _mix_ratio_in(latency, s) else "–"
        for s in servers
        if s != OXIGRAPH
    ]
    rows.append("| **geometric mean** | | " + " | ".join([""] * len(servers) + means) + " |")
    return [heading, "", *rows, ""]


def _latency_sections(size: SizeResults) -> list[str]:
    lines = [*_latency_table(size, size.latency, "### Query latency"), *_query_legend(size), ""]
    if size.new_connection_latency:
        lines += [
            *_latency_table(
                size, size.new_connection_latency, "### Query latency, a new connection per request"
            ),
            NEW_CONNECTIONS_NOTE,
            "",
        ]
    return lines


def _query_legend(size: SizeResults) -> list[str]:
    return ["Queries: " + "; ".join(f"`{q.name}` {q.what}" for q in size.queries) + "."]


def _throughput_table(size: SizeResults) -> list[str]:
    clients = sorted({c for per in size.throughput.values() for c in per})
    header = "| server | " + " | ".join(f"{c} clients req/s (p50 / p95 ms)" for c in clients) + " |"
    rows = [header, "|---|" + "---|" * len(clients)]
    for name, per in size.throughput.items():
        cells = [_throughput_cell(per.get(c)) for c in clients]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return ["### Query-mix throughput", "", *rows, ""]


def _pages_section(size: SizeResults) -> list[str]:
    pages = size.pages
    routes = [f"`{kind}`: {path}" for kind, path in pages.requests.items()]
    servers = sorted({s for per in pages.throughput.values() for s in per}, key=_server_order)
    header = "| request | " + " | ".join(f"{s} req/s (p50 / p95 ms)" for s in servers)
    header += " | communique / ceiling | cache / static |"
    rows = [header, "|---|" + "---|" * (len(servers) + 2)]
    for kind, per in pages.throughput.items():
        cells = [_throughput_cell(per.get(s)) for s in servers]
        rows.append(
            f"| {kind} | "
            + " | ".join(cells)
            + f" | {_share(per.get(COMMUNIQUE), per.get(CEILING))} "
            f"| {_share(per.get(NGINX_CACHE), per.get(NGINX_STATIC))} |"
        )
    return [
        f"### Cheap requests ({pages.clients} clients)",
        "",
        "Routes: " + "; ".join(routes) + ".",
        "",
        *rows,
        "",
    ]


def _breakdown_section(rows: list[tuple[str, float]]) -> list[str]:
    return [
        "### Where the time of one request goes",
        "",
        "One ASK, in one process pinned to the server core, through each layer (`bench.breakdown`: "
        "the WSGI app called directly, so no HTTP server or socket). Differences between rows "
        "are the cost of each layer.",
        "",
        "| layer | median ms |",
        "|---|---|",
        *(f"| {layer} | {seconds * 1000:.3f} |" for layer, seconds in rows),
        "",
    ]


def _store_dir_section(size: SizeResults) -> list[str]:
    s = size.store_dir
    ratio = _mix_ratio_in(s.latency, STORE_DIR)
    queries = [
        f"| {name} | {_median_p95(entry)} | {_median_p95(s.latency.get(OXIGRAPH, {}).get(name))} "
        f"| {_ratio(s.latency, STORE_DIR, name)} |"
        for name, entry in s.latency.get(STORE_DIR, {}).items()
    ]
    return [
        "### --store-dir",
        "",
        f"First start (load, optimise, serve): {s.build_seconds:.1f} s; restart with the same "
        f"--store-dir: {s.restart_seconds:.1f} s. RSS idle {_mib(s.idle.rss)} MiB, peak "
        f"{_mib(s.peak.rss)} MiB (PSS {_mib(s.peak.pss)} MiB), {s.peak.processes} processes. "
        f"Mix latency vs Oxigraph: {_number(ratio) if ratio else '–'}×.",
        "",
        "| query | communique --store-dir median / p95 ms | oxigraph median / p95 ms | ratio |",
        "|---|---|---|---|",
        *queries,
        "",
    ]


# --- cells ------------------------------------------------------------------------------------


def _server_order(name: str) -> int:
    order = (COMMUNIQUE, CEILING, NGINX_CACHE, NGINX_STATIC)
    return order.index(name) if name in order else len(order)


def _median_p95(entry: Latencies | None) -> str:
    if entry is None or entry.median is None:
        statuses = ",".join(map(str, sorted(entry.statuses))) if entry else ""
        return f"failed {statuses}".strip()
    return f"{entry.median * 1000:.2f} / {entry.p95 * 1000:.2f}"


def _ratio(latency: dict[str, dict[str, Latencies]], server: str, query: str) -> str:
    ours = latency.get(server, {}).get(query)
    theirs = latency.get(OXIGRAPH, {}).get(query)
    if not ours or not theirs or not ours.median or not theirs.median:
        return "–"
    return f"{ours.median / theirs.median:.2f}"


def _throughput_cell(t: Throughput | None) -> str:
    if t is None:
        return "–"
    failed = f", {t.failures} failed" if t.failures else ""
    return f"{t.per_second:,.0f} ({_ms(t.p50)} / {_ms(t.p95)}){failed}"


def _share(ours: Throughput | None, theirs: Throughput | None) -> str:
    if not ours or not theirs or not theirs.per_second:
        return "–"
    return f"{ours.per_second / theirs.per_second:.2f}"


def _mismatch(counts: dict[str, int | None]) -> str:
    return "**differ**: " + ", ".join(f"{s} {c}" for s, c in counts.items())


def _ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:.2f}"


def _mib(size: int) -> str:
    return f"{size / MEBIBYTE:,.0f}"


def _number(value: float) -> str:
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
