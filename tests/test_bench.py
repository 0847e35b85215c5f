"""The benchmark's smoke test: the generator's graphs, and one tiny side-by-side round at 10³.

The round runs the real servers (Communiqué, the Oxigraph server, the issue's reference, the
Python ceiling, nginx when installed) on loopback for a fraction of a second each; it checks that
the harness measures and reports, not how fast anything is.
"""

import os
from pathlib import Path

import pyoxigraph as ox
import pytest

from bench import shared_store
from bench.client import Request
from bench.generator import BACKGROUND_GRAPH, Manifest, generate, manifest_path
from bench.queries import PROLOGUE, query_mix
from bench.report import render
from bench.runner import Plan, run, static_request
from bench.servers import nginx_available
from communique.settings import PROJECT_ROOT
from communique.validation import validate_files

SIZE = 1_000
TINY = Plan(
    sizes=(SIZE,),
    rounds=2,
    throughput_seconds=0.3,
    clients=(2,),
    rdflib_max=0,
    pages_size=SIZE,
    store_dir_size=SIZE,
    validate_max=0,
)


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    path = tmp_path_factory.mktemp("bench") / "graph.nq"
    return path, generate(path, SIZE, seed=3)


def test_the_generator_is_deterministic(graph, tmp_path: Path) -> None:
    path, _ = graph
    again = tmp_path / "again.nq"
    generate(again, SIZE, seed=3)
    other = tmp_path / "other.nq"
    generate(other, SIZE, seed=4)
    assert again.read_bytes() == path.read_bytes()
    assert other.read_bytes() != path.read_bytes()


def test_the_generator_writes_one_graph_per_source_and_a_background(graph) -> None:
    path, manifest = graph
    quads = list(ox.parse(path=path, format=ox.RdfFormat.N_QUADS))
    graphs = {quad.graph_name.value for quad in quads}
    assert len(quads) == manifest.triples >= SIZE
    assert set(manifest.graphs) <= graphs
    assert BACKGROUND_GRAPH in graphs
    assert len(manifest.graphs) == manifest.sources >= 2
    assert manifest_path(path).exists()


def test_generated_graphs_conform_to_the_project_shapes(graph) -> None:
    path, _ = graph
    report = validate_files(
        [path],
        sorted((PROJECT_ROOT / "shapes").glob("*.ttl")),
        ontology=sorted((PROJECT_ROOT / "ontology").glob("*.ttl")),
    )
    assert report.conforms, report.to_text()


def test_hubs_have_a_much_higher_degree_than_other_states(tmp_path: Path) -> None:
    path = tmp_path / "bigger.nq"
    manifest = generate(path, 10 * SIZE, seed=3)
    store = ox.Store()
    store.bulk_load(path=path, format=ox.RdfFormat.N_QUADS)

    def backlinks(iri: str) -> int:
        query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p <{iri}> }} }}"
        return int(next(iter(store.query(query)))["n"].value)

    hubs = [backlinks(iri) for iri in manifest.hubs]
    others = [backlinks(iri) for iri in manifest.states]
    assert sum(hubs) / len(hubs) > 3 * sum(others) / len(others)


def test_every_query_of_the_mix_answers_on_the_generated_graph(graph) -> None:
    path, manifest = graph
    store = ox.Store()
    store.bulk_load(path=path, format=ox.RdfFormat.N_QUADS)
    empty = []
    for query in query_mix(manifest):
        answer = store.query(PROLOGUE + query.text, use_default_graph_as_union=True)
        if not list(answer):
            empty.append(query.name)
    assert len(query_mix(manifest)) == 15
    assert empty in ([], ["events-in-range"])  # few events fall in one year at this size


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory: pytest.TempPathFactory) -> str:
    affinity = os.sched_getaffinity(0)
    results = run(TINY, tmp_path_factory.mktemp("bench-run"), lambda line: None)
    assert os.sched_getaffinity(0) == affinity
    return render(results, "tiny")


def test_a_tiny_round_measures_every_query_on_both_engines(tiny_report: str) -> None:
    latency = tiny_report.split("### Query latency")[1].split("###")[0]
    rows = [line for line in latency.splitlines() if line.startswith("|")][2:]
    assert len(rows) == 15 + 1  # the queries and the geometric mean
    assert "failed" not in latency
    assert "**differ**" not in latency
    assert "minimal-pyoxigraph / oxigraph" in latency  # the reference ran beside them


def test_a_tiny_round_measures_the_mix_again_with_a_new_connection_per_request(
    tiny_report: str,
) -> None:
    section = tiny_report.split("### Query latency, a new connection per request")[1]
    section = section.split("###")[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]
    assert len(rows) == 15 + 1
    assert "failed" not in section and "| – |" not in rows[-1]


def test_a_tiny_round_measures_the_reference_on_the_query_targets(tiny_report: str) -> None:
    section = tiny_report.split("## The reference on the same targets")[1].split("\n## ")[0]
    slowest = [line for line in section.splitlines() if line.startswith("| slowest query")]
    assert len(slowest) == 1 and "at 1,000" in slowest[0]
    for figure in slowest[0].strip("| ").split(" | ")[2:4]:  # the reference's, Communiqué's
        ratio, query = figure.split()
        assert ratio.endswith("×") and query.startswith("(") and query.endswith(")")


def test_a_tiny_round_reports_memory_throughput_and_the_machine(tiny_report: str) -> None:
    assert "| CPU |" in tiny_report and "| pyoxigraph |" in tiny_report
    assert "| communique | " in tiny_report.split("### Query-mix throughput")[1]
    assert "peak PSS MiB" in tiny_report
    assert "trivial Python server, 2 clients" in tiny_report


def test_a_tiny_round_compares_cheap_requests_with_the_ceiling(tiny_report: str) -> None:
    pages = tiny_report.split("### Cheap requests")[1].split("###")[0]
    assert "| ask | " in pages
    if nginx_available():
        assert "nginx-cache" in pages and "nginx-static" in pages
        assert "failed" not in pages  # both nginx servers answered every request
    else:
        assert "nginx not available" in pages


def test_nginx_static_is_asked_with_the_same_query_string_and_header_fields() -> None:
    ask = Request("ask", "/sparql?query=ASK%20%7B%7D", (("Accept", "application/json"),))
    assert static_request(ask, 3) == Request("ask", "/body-3?query=ASK%20%7B%7D", ask.headers)
    assert static_request(Request("page", "/page/id/x"), 0) == Request("page", "/body-0")


def test_a_tiny_round_restarts_from_the_store_dir(tiny_report: str) -> None:
    section = tiny_report.split("### --store-dir")[1]
    assert "restart with the same --store-dir" in section
    assert "| describe | " in section


def test_the_shared_store_probe_measures_what_a_forked_reader_copies(tmp_path: Path) -> None:
    path = tmp_path / "graph.nq"
    generate(path, 20_000, seed=3)
    figures = shared_store.measure(path)
    assert set(figures) == {
        "parent_after_load", "child_before", "child_after_lookup", "child_after_scan"
    }  # fmt: skip
    # the scan copies pages of the store into the child; the 10-row lookup hardly any
    grown_by_scan = figures["child_after_scan"] - figures["child_after_lookup"]
    grown_by_lookup = figures["child_after_lookup"] - figures["child_before"]
    assert grown_by_scan > 1.0 > grown_by_lookup
