"""``communique push`` into a real read-write Oxigraph server (Graph Store Protocol at /store,
SPARQL Update at /update, queries at /query), read back and compared graph by graph; and
failures of every kind, each a clear message and a non-zero exit."""

import base64
import doctest
import socket
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests

from communique import push as push_module
from communique.cli import main
from communique.dataset import bundled_quads
from communique.layout import Layout
from communique.publication import publish
from communique.push import PushTarget, batches, blank_node_groups, insert_data, push
from communique.remote_sparql import RemoteSparql
from communique.settings import PROJECT_ROOT, Settings
from communique.store import EmbeddedStore
from tests.conftest import StubReply

GRAPH = "https://w3id.org/communique/graph/"
ELSEWHERE = "http://example.org/theirs"
CLIENT = RemoteSparql(timeout=30)
SMALL_DATASET = """\
<http://example.org/g> {
    <http://example.org/a> <http://example.org/p> [ <http://example.org/q> "b" ] .
}
"""


@pytest.fixture
def small_data(tmp_path) -> str:
    """A tiny dataset (no shapes, so nothing to validate): for the failure cases."""
    path = tmp_path / "small.trig"
    path.write_text(SMALL_DATASET, encoding="utf-8")
    return str(path)


def canonical(triples) -> frozenset[str]:
    """A graph's triples with canonical blank node labels (RDFC-1.0): equal sets mean
    isomorphic graphs."""
    dataset = ox.Dataset(ox.Quad(t.subject, t.predicate, t.object) for t in triples)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return frozenset(str(quad) for quad in dataset)


@pytest.fixture(scope="module")
def published() -> dict[str, frozenset[str]]:
    """The bundled dataset, graph by graph, as `communique serve` publishes it."""
    layout = Layout(Path(PROJECT_ROOT))
    graphs: dict[str, list[ox.Triple]] = {}
    for quad in bundled_quads(layout, layout.data_files() + layout.shape_files()):
        graphs.setdefault(quad.graph_name.value, []).append(quad.triple)
    return {name: canonical(triples) for name, triples in graphs.items()}


@pytest.fixture(scope="module")
def store() -> EmbeddedStore:
    """The bundled dataset, published (validated) as `communique push` publishes it."""
    publication = publish(Settings.from_mapping())
    yield publication.store
    publication.store.close()


@pytest.fixture
def target(oxigraph_servers) -> str:
    """An empty read-write Oxigraph server, holding one graph of its owner's."""
    url = oxigraph_servers(read_only=False)
    update(
        url, f'INSERT DATA {{ GRAPH <{ELSEWHERE}> {{ <{ELSEWHERE}#a> <{ELSEWHERE}#b> "theirs" }} }}'
    )
    return url


def update(url: str, text: str) -> None:
    response = requests.post(
        url + "/update",
        data=text.encode(),
        headers={"Content-Type": "application/sparql-update"},
        timeout=30,
    )
    response.raise_for_status()


def graph_at(url: str, graph: str) -> frozenset[str]:
    response = requests.get(
        url + "/store",
        params={"graph": graph},
        headers={"Accept": "application/n-triples"},
        timeout=30,
    )
    response.raise_for_status()
    return canonical(
        quad.triple for quad in ox.parse(response.content, format=ox.RdfFormat.N_TRIPLES)
    )


def graphs_at(url: str) -> set[str]:
    response = requests.post(
        url + "/query",
        data={"query": "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"},
        headers={"Accept": "application/sparql-results+json"},
        timeout=30,
    )
    return {row["g"]["value"] for row in response.json()["results"]["bindings"]}


def assert_holds(url: str, published: dict[str, frozenset[str]]) -> None:
    assert graphs_at(url) == {*published, ELSEWHERE}
    for name, graph in published.items():
        assert graph_at(url, name) == graph, name
    assert len(graph_at(url, ELSEWHERE)) == 1


def test_push_by_graph_store_protocol(target, published, capsys):
    status = main(["push", "--endpoint", target + "/query", "--graph-store", target + "/store"])
    assert status == 0
    out = capsys.readouterr().out
    assert_holds(target, published)
    total = sum(len(graph) for graph in published.values())
    assert f"{len(published)} graphs, {total} triples pushed by graph store PUT and verified" in out
    assert f"<{GRAPH}background>: {len(published[GRAPH + 'background'])} triples sent" in out


def test_push_by_sparql_update(target, published, store):
    pushed = push(store, PushTarget(target + "/query", update_endpoint=target + "/update"), CLIENT)
    assert all(graph.matches for graph in pushed)
    assert_holds(target, published)


def test_large_graphs_are_staged_and_moved_keeping_blank_nodes(target, published, store):
    way = PushTarget(target + "/query", update_endpoint=target + "/update", batch_triples=200)
    push(store, way, CLIENT)
    assert_holds(target, published)


def test_a_push_replaces_what_the_graphs_held(target, published, store):
    background = GRAPH + "background"
    stale = f'<{ELSEWHERE}#stale> <{ELSEWHERE}#p> "old"'
    for way in (
        PushTarget(target + "/query", graph_store=target + "/store"),
        PushTarget(target + "/query", update_endpoint=target + "/update"),
    ):
        update(target, f"INSERT DATA {{ GRAPH <{background}> {{ {stale} }} }}")
        push(store, way, CLIENT)
        push(store, way, CLIENT)
        assert_holds(target, published)


def test_a_count_that_differs_is_a_failure(target, oxigraph_servers, small_data, capsys):
    empty = oxigraph_servers(read_only=False)
    status = main(
        [
            "push",
            "--endpoint",
            empty + "/query",
            "--graph-store",
            target + "/store",
            "--data",
            small_data,
        ]
    )
    assert status == 1
    error = capsys.readouterr().err
    assert "does not hold what was sent" in error and "0 found" in error


def test_credentials_go_in_a_basic_authorization_header(
    stub_endpoint, small_data, monkeypatch, capsys
):
    monkeypatch.setenv("PUSH_CREDENTIALS", "editor:s3cret")
    endpoint = stub_endpoint(StubReply(401, b"who are you?"))
    status = main(
        [
            "push",
            "--endpoint",
            endpoint,
            "--graph-store",
            endpoint,
            "--auth-env",
            "PUSH_CREDENTIALS",
            "--data",
            small_data,
        ]
    )
    assert status == 1
    method, path, headers, body = stub_endpoint.requests[0]
    assert method == "PUT" and "graph=" in path
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"editor:s3cret").decode()
    assert headers["Content-Type"] == "application/n-triples"
    assert len(list(ox.parse(body, format=ox.RdfFormat.N_TRIPLES))) == 2
    error = capsys.readouterr().err
    assert "answered HTTP 401" in error and "s3cret" not in error


def test_credentials_are_sent_with_updates_too(stub_endpoint, small_data):
    endpoint = stub_endpoint(StubReply(403, b"forbidden"))
    assert main(["push", "--endpoint", endpoint, "--auth", "editor:pw", "--data", small_data]) == 1
    method, _, headers, body = stub_endpoint.requests[0]
    assert method == "POST" and headers["Content-Type"] == "application/sparql-update"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"editor:pw").decode()
    assert body.startswith(b"DROP SILENT GRAPH <")


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        (("--auth-env", "NO_SUCH_VARIABLE_FOR_PUSH"), "is not set"),
        (("--auth", "no-colon"), "USER:PASSWORD"),
    ],
)
def test_bad_credentials_options_are_refused(options, complaint, capsys):
    assert main(["push", "--endpoint", "http://127.0.0.1:9/query", *options]) == 1
    assert complaint in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


FAILURES = {
    "unreachable": ((), "is unreachable"),
    "server error": ((StubReply(500, b"oops"),), "answered HTTP 500"),
    "timeout": ((StubReply(204, delay=1.0),), "did not answer within 0.5 s"),
    "busy": ((StubReply(503, b"busy", {"Retry-After": "0"}),), "still answered HTTP 503"),
}


@pytest.mark.parametrize("failure", FAILURES)
def test_a_failing_target_is_a_clear_error(stub_endpoint, small_data, failure, capsys):
    replies, message = FAILURES[failure]
    endpoint = stub_endpoint(*replies) if replies else f"http://127.0.0.1:{free_port()}/store"
    status = main(
        [
            "push",
            "--endpoint",
            endpoint,
            "--graph-store",
            endpoint,
            "--timeout",
            "0.5",
            "--max-retries",
            "1",
            "--data",
            small_data,
        ]
    )
    assert status == 1
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_a_count_that_is_garbage_is_a_failure(target, stub_endpoint, small_data, capsys):
    garbage = stub_endpoint(StubReply(200, b"<html>hello</html>", {"Content-Type": "text/html"}))
    command = ["push", "--endpoint", garbage, "--graph-store", target + "/store"]
    assert main([*command, "--data", small_data]) == 1
    assert "not SPARQL query results" in capsys.readouterr().err


def test_triples_outside_named_graphs_are_refused(tmp_path, capsys):
    data = tmp_path / "plain.ttl"
    data.write_text("<http://example.org/a> <http://example.org/b> <http://example.org/c> .\n")
    assert main(["push", "--endpoint", "http://127.0.0.1:9/query", "--data", str(data)]) == 2
    assert "outside named graphs" in capsys.readouterr().err


def test_blank_nodes_keep_their_triples_together():
    store = ox.Store()
    store.load(
        b"""<http://x/a> <http://x/p> [ <http://x/q> [ <http://x/r> 1 ] ] .
        <http://x/b> <http://x/p> [ <http://x/q> 2 ] .
        <http://x/c> <http://x/p> 3 .
        """,
        format=ox.RdfFormat.TURTLE,
    )
    triples = [quad.triple for quad in store]
    groups = sorted(len(group) for group in blank_node_groups(triples))
    assert groups == [1, 2, 3]
    for batch in batches(triples, 1):
        nodes = {t for triple in batch for t in triple if isinstance(t, ox.BlankNode)}
        outside = [t for t in triples if t not in batch]
        assert not any(term in nodes for triple in outside for term in triple)


def test_insert_data_escapes_literals():
    triple = ox.Triple(
        ox.NamedNode("http://x/a"), ox.NamedNode("http://x/p"), ox.Literal('say "hi"\nbye')
    )
    text = insert_data("http://x/g", [triple])
    assert '"say \\"hi\\"\\nbye"' in text
    assert text.startswith("INSERT DATA { GRAPH <http://x/g> {")


def test_the_docstring_examples_hold():
    assert doctest.testmod(push_module).failed == 0
