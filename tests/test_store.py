"""The Store interface: embedded (memory, disk) and remote (a real `oxigraph serve-read-only`)."""

import http.server
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest

from communique.errors import (
    BadRequest,
    DataError,
    ForbiddenOperation,
    QuerySyntaxError,
    ServiceUnavailable,
    UpstreamError,
)
from communique.store import (
    EmbeddedStore,
    QueryDataset,
    QueryOutline,
    RemoteStore,
    Store,
    query_syntax_error,
)

OXIGRAPH = Path(sys.executable).parent / "oxigraph"
"""The Oxigraph server CLI installed next to this Python (the `oxigraph` dev dependency)."""
G1 = "http://example.org/g1"
G2 = "http://example.org/g2"
NAMED_ONLY = f"""\
@prefix ex: <http://example.org/> .
<{G1}> {{ ex:b ex:p "g1" . ex:b ex:q ex:c . }}
<{G2}> {{ ex:c ex:p "g2" . ex:c ex:p "shared" . }}
"""
WITH_DEFAULT = NAMED_ONLY + '<http://example.org/a> <http://example.org/p> "default" .\n'
VALUES_QUERY = "SELECT ?o WHERE { ?s <http://example.org/p> ?o }"
GRAPH_QUERY = "SELECT ?o WHERE { GRAPH ?g { ?s <http://example.org/p> ?o } }"


def values(store: Store, query: str, dataset: QueryDataset | None = None) -> list[str]:
    return sorted(solution["o"].value for solution in store.query(query, dataset))


def memory_store(trig: str, *, union: bool = True) -> EmbeddedStore:
    store = ox.Store()
    store.load(trig.encode(), ox.RdfFormat.TRIG)
    return EmbeddedStore(store, union_default_graph=union)


@pytest.fixture(params=["memory", "disk"])
def embedded(request, tmp_path) -> Callable[..., EmbeddedStore]:
    """`embedded(union=...)`: the WITH_DEFAULT data in memory, or on disk opened read-only."""
    if request.param == "memory":
        return lambda union=True: memory_store(WITH_DEFAULT, union=union)
    writer = ox.Store(str(tmp_path / "db"))
    writer.load(WITH_DEFAULT.encode(), ox.RdfFormat.TRIG)
    writer.flush()
    del writer
    return lambda union=True: EmbeddedStore.open_read_only(
        str(tmp_path / "db"), union_default_graph=union
    )


# --- default graph semantics and the protocol dataset ------------------------------------------


def test_union_default_graph_sees_every_graph(embedded):
    assert values(embedded(union=True), VALUES_QUERY) == ["default", "g1", "g2", "shared"]


def test_data_default_graph_sees_only_triples_outside_named_graphs(embedded):
    assert values(embedded(union=False), VALUES_QUERY) == ["default"]


@pytest.mark.parametrize("union", [True, False])
def test_from_in_the_query_replaces_the_default_graph(embedded, union):
    query = f"SELECT ?o FROM <{G1}> WHERE {{ ?s <http://example.org/p> ?o }}"
    assert values(embedded(union=union), query) == ["g1"]


@pytest.mark.parametrize("union", [True, False])
def test_from_named_alone_leaves_an_empty_default_graph(embedded, union):
    query = f"SELECT ?o FROM NAMED <{G1}> WHERE {{ ?s <http://example.org/p> ?o }}"
    assert values(embedded(union=union), query) == []


@pytest.mark.parametrize("union", [True, False])
def test_dataset_default_graphs_are_merged_into_the_default_graph(embedded, union):
    dataset = QueryDataset(default_graphs=(G1, G2))
    assert values(embedded(union=union), VALUES_QUERY, dataset) == ["g1", "g2", "shared"]


def test_dataset_with_only_default_graphs_has_no_named_graphs(embedded):
    assert values(embedded(), GRAPH_QUERY, QueryDataset(default_graphs=(G1,))) == []


def test_dataset_with_only_named_graphs_has_an_empty_default_graph(embedded):
    dataset = QueryDataset(named_graphs=(G2,))
    store = embedded()
    assert values(store, VALUES_QUERY, dataset) == []
    assert values(store, GRAPH_QUERY, dataset) == ["g2", "shared"]


def test_protocol_dataset_overrides_from_in_the_query(embedded):
    query = f"SELECT ?o FROM <{G1}> WHERE {{ ?s <http://example.org/p> ?o }}"
    assert values(embedded(), query, QueryDataset(default_graphs=(G2,))) == ["g2", "shared"]


def test_empty_dataset_means_the_store_default(embedded):
    store = embedded(union=True)
    assert values(store, VALUES_QUERY, QueryDataset()) == values(store, VALUES_QUERY)


def test_invalid_graph_iri_is_a_bad_request(embedded):
    with pytest.raises(BadRequest, match="not a valid graph IRI"):
        embedded().query(VALUES_QUERY, QueryDataset(default_graphs=("not an iri",)))


# --- answers, errors, handles ------------------------------------------------------------------


def test_ask_and_construct_answers(embedded):
    store = embedded()
    assert bool(store.query('ASK { ?s ?p "g1" }')) is True
    construct = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{G1}> {{ ?s ?p ?o }} }}"
    triples = set(store.query(construct))
    assert {(t.predicate.value, t.object.value) for t in triples} == {
        ("http://example.org/p", "g1"),
        ("http://example.org/q", "http://example.org/c"),
    }


def test_base_iri_resolves_relative_iris(embedded):
    answer = embedded().query("SELECT ?x WHERE { VALUES ?x { <rel> } }", base_iri="http://b.org/")
    assert [solution["x"].value for solution in answer] == ["http://b.org/rel"]


def test_syntax_error_names_line_and_column(embedded):
    with pytest.raises(QuerySyntaxError) as raised:
        embedded().query("SELECT * WHERE {\n  ?s ?p }")
    assert (raised.value.line, raised.value.column) == (2, 10)
    assert "error at 2:10" in raised.value.message
    assert raised.value.status == 400


@pytest.mark.parametrize(
    "update", ['INSERT DATA { <http://a> <http://b> "c" }', "PREFIX : <http://x/> DROP ALL"]
)
def test_update_is_refused(embedded, update):
    with pytest.raises(ForbiddenOperation, match="Update"):
        embedded().query(update)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
        "SELECT * WHERE { service silent ?endpoint { ?s ?p ?o } }",
        # `\#` belongs to the prefixed name: no comment starts there to hide the SERVICE.
        "PREFIX ex: <http://x/> SELECT * { ?s ex:a\\#b ?o SERVICE <http://127.0.0.1:9/> {} }",
    ],
)
def test_service_is_refused_before_any_request(embedded, query):
    with pytest.raises(ForbiddenOperation, match="SERVICE"):
        embedded().query(query)


def test_service_inside_strings_iris_comments_and_names_is_not_a_call(embedded):
    query = (
        "PREFIX SERVICE: <http://example.org/SERVICE> # SERVICE <http://x> {}\n"
        'SELECT ("SERVICE <http://x> {}" AS ?o) ?service WHERE { ?s SERVICE:p ?o2 }'
    )
    assert [solution["o"].value for solution in embedded().query(query)] == []
    assert values(embedded(), 'SELECT ("SERVICE" AS ?o) {}') == ["SERVICE"]


def test_named_graphs_are_sorted_iris(embedded):
    assert embedded().named_graphs() == [G1, G2]


def test_read_only_store_sees_data_and_refuses_writes(tmp_path):
    writer = ox.Store(str(tmp_path / "db"))
    writer.load(WITH_DEFAULT.encode(), ox.RdfFormat.TRIG)
    writer.flush()
    store = EmbeddedStore.open_read_only(str(tmp_path / "db"))
    assert len(store.oxigraph) == 5
    quad = ox.Quad(ox.NamedNode("http://a"), ox.NamedNode("http://b"), ox.Literal("c"))
    with pytest.raises(RuntimeError, match="read-write"):
        store.oxigraph.add(quad)
    assert len(store.oxigraph) == 5


def test_open_read_only_of_a_missing_store_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot open the store"):
        EmbeddedStore.open_read_only(str(tmp_path / "missing"))


def test_reopened_for_this_process(tmp_path):
    in_memory = memory_store(WITH_DEFAULT)
    assert in_memory.reopened_for_this_process() is in_memory
    writer = ox.Store(str(tmp_path / "db"))
    writer.load(WITH_DEFAULT.encode(), ox.RdfFormat.TRIG)
    writer.flush()
    on_disk = EmbeddedStore(writer, union_default_graph=False, path=str(tmp_path / "db"))
    reopened = on_disk.reopened_for_this_process()
    assert reopened is not on_disk
    assert reopened.union_default_graph is False
    assert values(reopened, VALUES_QUERY) == ["default"]


def test_closed_store_is_unavailable():
    store = memory_store(WITH_DEFAULT)
    store.close()
    with pytest.raises(ServiceUnavailable):
        store.query("ASK {}")


# --- the lexical outline -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "form"),
    [
        ("SELECT * {}", "SELECT"),
        ("PREFIX ask: <http://x/> BASE <http://y/>\n# CONSTRUCT\nask {}", "ASK"),
        ("prefix : <http://x/> construct { ?s ?p ?o } where {}", "CONSTRUCT"),
        ("DESCRIBE <http://x>", "DESCRIBE"),
        ("INSERT DATA {}", "INSERT"),
        ("", None),
    ],
)
def test_outline_finds_the_query_form(query, form):
    assert QueryOutline.of(query).form == form


@pytest.mark.parametrize(
    ("query", "has_from"),
    [
        ("SELECT * FROM <http://g> {}", True),
        ("select * from named <http://g> {}", True),
        ("SELECT ?from { ?from <http://x/FROM> 'FROM' } # FROM <g>", False),
        ("PREFIX ex: <http://x/> SELECT * { ex:FROM ex:p ?o . ?o ?p 'x'@from }", False),
        ('SELECT * { ?s ?p """a\n FROM <g> """ }', False),
    ],
)
def test_outline_detects_a_dataset_clause(query, has_from):
    assert QueryOutline.of(query).has_dataset_clause is has_from


@pytest.mark.parametrize(
    ("message", "line", "column", "shown"),
    [
        ("error at 3:17: expected x", 3, 17, "error at 3:17: expected x"),
        ("Lexical error at line 4, column 2.", 4, 2, "Lexical error at line 4, column 2."),
        ("no position here", None, None, "no position here"),
    ],
)
def test_query_syntax_error_reads_positions(message, line, column, shown):
    error = query_syntax_error(message)
    assert (error.line, error.column, error.message) == (line, column, shown)


def test_query_syntax_error_takes_off_added_lines():
    error = query_syntax_error("error at 3:17: expected x", line_offset=1)
    assert (error.line, error.column, error.message) == (2, 17, "error at 2:17: expected x")


# --- RemoteStore against a real Oxigraph server ------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture(scope="module")
def oxigraph_endpoint(tmp_path_factory) -> Iterator[str]:
    """`oxigraph serve-read-only` over NAMED_ONLY, on a free loopback port."""
    folder = tmp_path_factory.mktemp("oxigraph")
    data = folder / "data.trig"
    data.write_text(NAMED_ONLY, encoding="utf-8")
    location = str(folder / "db")
    subprocess.run(
        [OXIGRAPH, "load", "--location", location, "--file", str(data)],
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        [OXIGRAPH, "serve-read-only", "--location", location, "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}/query"
    finally:
        server.terminate()
        server.wait(10)


COMPARED_QUERIES = [
    VALUES_QUERY,
    GRAPH_QUERY,
    f"SELECT ?o FROM <{G2}> WHERE {{ ?s <http://example.org/p> ?o }}",
    'ASK { ?s ?p "g2" }',
    f'ASK {{ GRAPH <{G1}> {{ ?s ?p "g2" }} }}',
    "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }",
    "CONSTRUCT { ?g ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }",
]
COMPARED_DATASETS = [
    None,
    QueryDataset(default_graphs=(G1,)),
    QueryDataset(named_graphs=(G2,)),
    QueryDataset(default_graphs=(G2,), named_graphs=(G1, G2)),
]


def comparable(answer) -> object:
    if isinstance(answer, bool | ox.QueryBoolean):
        return bool(answer)
    if hasattr(answer, "variables"):
        names = [variable.value for variable in answer.variables]
        return names, sorted(tuple(str(term) for term in solution) for solution in answer)
    return sorted(str(triple) for triple in answer)


@pytest.mark.parametrize("union", [True, False])
@pytest.mark.parametrize("dataset", COMPARED_DATASETS)
@pytest.mark.parametrize("query", COMPARED_QUERIES)
def test_remote_answers_like_embedded(oxigraph_endpoint, union, dataset, query):
    remote = RemoteStore(oxigraph_endpoint, union_default_graph=union)
    embedded = memory_store(NAMED_ONLY, union=union)
    expected = comparable(embedded.query(query, dataset))
    assert comparable(remote.query(query, dataset)) == expected


def test_remote_union_and_data_default_graphs_differ(oxigraph_endpoint):
    assert values(RemoteStore(oxigraph_endpoint), VALUES_QUERY) == ["g1", "g2", "shared"]
    assert values(RemoteStore(oxigraph_endpoint, union_default_graph=False), VALUES_QUERY) == []


def test_remote_named_graphs(oxigraph_endpoint):
    assert RemoteStore(oxigraph_endpoint).named_graphs() == [G1, G2]


def test_remote_base_iri(oxigraph_endpoint):
    answer = RemoteStore(oxigraph_endpoint).query(
        "SELECT ?x WHERE { VALUES ?x { <rel> } }", base_iri="http://b.org/"
    )
    assert [solution["x"].value for solution in answer] == ["http://b.org/rel"]


@pytest.mark.parametrize("base_iri", [None, "http://b.org/"])
def test_remote_syntax_error_keeps_the_remote_message_and_position(oxigraph_endpoint, base_iri):
    with pytest.raises(QuerySyntaxError) as raised:
        RemoteStore(oxigraph_endpoint).query("SELECT * WHERE {\n  ?s ?p }", base_iri=base_iri)
    assert (raised.value.line, raised.value.column) == (2, 10)
    assert raised.value.message.startswith("error at 2:10: expected")


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        ('INSERT DATA { <http://a> <http://b> "c" }', "Update"),
        ("SELECT * { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }", "SERVICE"),
    ],
)
def test_remote_refuses_updates_and_service(oxigraph_endpoint, query, refusal):
    with pytest.raises(ForbiddenOperation, match=refusal):
        RemoteStore(oxigraph_endpoint).query(query)


def test_unreachable_endpoint_is_an_upstream_error():
    endpoint = f"http://127.0.0.1:{free_port()}/sparql"
    with pytest.raises(UpstreamError, match=f"{endpoint} cannot be reached") as raised:
        RemoteStore(endpoint).query("ASK {}")
    assert raised.value.status == 502


def test_closed_remote_store_is_unavailable(oxigraph_endpoint):
    store = RemoteStore(oxigraph_endpoint)
    store.close()
    with pytest.raises(ServiceUnavailable):
        store.query("ASK {}")


class MisbehavingEndpoint(http.server.BaseHTTPRequestHandler):
    """Answers by path: /error (500), /html, /entities (RDF/XML declaring entities), /garbage
    (broken JSON results), /slow."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/slow":
            time.sleep(3.0)
        status, media_type, body = {
            "/error": (500, "text/plain", b"the database is on fire"),
            "/html": (200, "text/html", b"<html>hello</html>"),
            "/entities": (
                200,
                "application/rdf+xml",
                b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaa">]><r>&a;&a;</r>',
            ),
            "/garbage": (200, "application/sparql-results+json", b'{"head":{"vars":["x"]},"resu'),
            "/garbage-rows": (
                200,
                "application/sparql-results+json",
                b'{"head":{"vars":["x"]},"results":{"bindings":[{"x":5}]}}',
            ),
        }.get(self.path, (200, "application/sparql-results+json", b'{"head":{},"boolean":true}'))
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        return


@pytest.fixture(scope="module")
def misbehaving() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), MisbehavingEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/error", "answered HTTP 500: the database is on fire"),
        ("/html", "answered text/html, which is not a SPARQL query answer"),
        ("/entities", "answered application/rdf\\+xml; only SPARQL JSON, N-Triples or Turtle"),
        ("/garbage", "malformed"),
        ("/garbage-rows", "malformed"),
    ],
)
def test_remote_failures_are_upstream_errors(misbehaving, path, message):
    store = RemoteStore(misbehaving + path, union_default_graph=False)
    with pytest.raises(UpstreamError, match=message) as raised:
        list(store.query("SELECT ?x {}"))
    assert misbehaving + path in raised.value.message


def test_remote_timeout_is_an_upstream_error(misbehaving):
    store = RemoteStore(misbehaving + "/slow", union_default_graph=False, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(UpstreamError, match="cannot be reached"):
        store.query("ASK {}")
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize(
    "query", ["SELECT * { ?s ?p ?o }", "CONSTRUCT WHERE { ?s ?p ?o }", "ASK { ?s ?p ?o }"]
)
def test_answers_kept_by_threads_may_be_dropped_on_any_thread(query, drop_on_another_thread):
    """pyoxigraph's iterators raise when dropped on another thread (as a cyclic garbage
    collection may do in a threaded web worker); `query` reads answers out unless streaming."""
    store = EmbeddedStore(ox.Store())
    store.oxigraph.add(ox.Quad(ox.NamedNode(G1 + "s"), ox.NamedNode(G1 + "p"), ox.Literal("o")))
    kept = [store.query(query)]
    assert drop_on_another_thread(kept) == []


def test_a_failed_read_keeps_no_remote_answer_for_another_thread_to_drop(
    misbehaving, drop_on_another_thread
):
    """An answer that fails midway raises an error whose traceback must not keep the pyoxigraph
    iterator alive: whichever thread collects that error would drop it."""
    store = RemoteStore(misbehaving + "/garbage-rows", union_default_graph=False)
    with pytest.raises(UpstreamError) as raised:
        store.query("SELECT ?x {}")
    kept = [raised]
    del raised
    assert drop_on_another_thread(kept) == []
