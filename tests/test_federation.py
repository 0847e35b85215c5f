"""federation: allow-listed SERVICE clauses fetched under an address check and inlined as VALUES.

The happy path runs against a real `oxigraph serve-read-only` on a loopback port, and compares
the rewritten query with pyoxigraph's own SERVICE evaluation of the original one. Failure modes
come from a tiny http.server that answers whatever each path is meant to answer.
"""

import contextlib
import json
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pyoxigraph
import pytest

from communique.errors import ForbiddenOperation, UpstreamError
from communique.federation import (
    SKOLEM_PREFIX,
    ServicePolicy,
    check_endpoint_address,
    inline_services,
)
from communique.query_text import inspect_query

OXIGRAPH = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "oxigraph"
EX = "http://example.org/"
PROLOGUE = f"PREFIX ex: <{EX}>\n"
REMOTE_DATA = f"""\
@prefix ex: <{EX}> .
ex:bob ex:name "Bob" ; ex:age 42 .
ex:carol ex:name "Carol"@en .
ex:dave ex:name "Dave" ; ex:age 7 .
"""
LOCAL_KNOWS = [("alice", "bob"), ("alice", "carol"), ("erin", "dave"), ("erin", "zed")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"oxigraph exited with status {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"oxigraph did not listen on port {port} within {seconds} s")


@pytest.fixture(scope="module")
def remote_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The /query URL of an `oxigraph serve-read-only` holding REMOTE_DATA."""
    folder = tmp_path_factory.mktemp("remote")
    (folder / "data.ttl").write_text(REMOTE_DATA)
    store = folder / "store"
    loaded = subprocess.run(
        [OXIGRAPH, "load", "--location", store, "--file", folder / "data.ttl"],
        capture_output=True,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr
    port = free_port()
    process = subprocess.Popen(
        [OXIGRAPH, "serve-read-only", "--location", store, "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/query"
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- a fake endpoint for the failure modes --------------------------------------------------


def results(variables: list[str], bindings: list[dict]) -> bytes:
    return json.dumps({"head": {"vars": variables}, "results": {"bindings": bindings}}).encode()


def answer(body: bytes, status: int = 200, **headers: str) -> Callable:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/sparql-results+json")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return respond


def slow(handler: BaseHTTPRequestHandler) -> None:
    time.sleep(1.5)
    answer(results([], [{}]))(handler)


def drip(handler: BaseHTTPRequestHandler) -> None:
    """Headers at once, then one byte every 50 ms: no single read ever waits long."""
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    for _ in range(40):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.05)


TRICKY_LITERALS = [
    ({"type": "literal", "value": 'say "hi"'}, pyoxigraph.Literal('say "hi"')),
    (
        {"type": "literal", "value": "back\\slash \\u0022"},
        pyoxigraph.Literal("back\\slash \\u0022"),
    ),
    (
        {"type": "literal", "value": "two\nlines\r\n\ttab"},
        pyoxigraph.Literal("two\nlines\r\n\ttab"),
    ),
    ({"type": "literal", "value": "ümlaut 😀 '''"}, pyoxigraph.Literal("ümlaut 😀 '''")),
    (
        {"type": "literal", "value": "bonjour", "xml:lang": "fr-CA"},
        pyoxigraph.Literal("bonjour", language="fr-ca"),
    ),
    (
        {"type": "typed-literal", "value": "42", "datatype": f"{EX}number"},
        pyoxigraph.Literal("42", datatype=pyoxigraph.NamedNode(f"{EX}number")),
    ),
    ({"type": "uri", "value": f"{EX}ü?q=1#f"}, pyoxigraph.NamedNode(f"{EX}ü?q=1#f")),
]

ROUTES: dict[str, Callable] = {
    "/status-500": answer(b"boom", status=500),
    "/redirect": answer(b"", status=302, Location="http://169.254.169.254/"),
    "/garbage": answer(b"<html>not json</html>"),
    "/deep-json": answer(b"[" * 100_000 + b"]" * 100_000),
    "/big": answer(results(["x"], [{"x": {"type": "literal", "value": "x" * 2000}}])),
    "/not-results": answer(b'{"head": {}, "boolean": true}'),
    "/bad-iri": answer(results(["x"], [{"x": {"type": "uri", "value": f"{EX}a b>"}}])),
    "/bad-variable": answer(results(["x"], [{"y": {"type": "literal", "value": "1"}}])),
    "/bad-language": answer(
        results(["x"], [{"x": {"type": "literal", "value": "v", "xml:lang": "en fr"}}])
    ),
    "/surrogate": answer(
        b'{"head": {"vars": ["x"]}, "results": {"bindings": '
        b'[{"x": {"type": "literal", "value": "\\ud800"}}]}}'
    ),
    "/many-rows": answer(results(["x"], [{}] * 6)),
    "/slow": slow,
    "/drip": drip,
    "/no-variables": answer(results([], [{}, {}])),
    "/sp%C3%A4rql": answer(results(["x"], [{"x": {"type": "literal", "value": "ä"}}])),
    "/not-http": lambda handler: handler.wfile.write(b"SPARQL!\r\n\r\n"),
    "/nothing": answer(results(["x"], [])),
    "/blank-nodes": answer(
        results(
            ["x", "y"],
            [
                {"x": {"type": "bnode", "value": "b0"}, "y": {"type": "bnode", "value": "b0"}},
                {"x": {"type": "bnode", "value": "b1"}},
            ],
        )
    ),
    "/literals": answer(results(["v"], [{"v": term} for term, _ in TRICKY_LITERALS])),
}


class FakeEndpoint(BaseHTTPRequestHandler):
    received: list[str]

    def do_POST(self) -> None:
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        self.received.append(form["query"][0])
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            ROUTES[self.path](self)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[str, list[str]]]:
    """(base URL, the queries received so far) of the fake endpoint."""
    received: list[str] = []
    handler = type("Handler", (FakeEndpoint,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def policy(*endpoints: str, **options) -> ServicePolicy:
    return ServicePolicy(frozenset(endpoints), allow_private=True, **options)


def local_store() -> pyoxigraph.Store:
    store = pyoxigraph.Store()
    for person, friend in LOCAL_KNOWS:
        store.add(
            pyoxigraph.Quad(
                pyoxigraph.NamedNode(EX + person),
                pyoxigraph.NamedNode(EX + "knows"),
                pyoxigraph.NamedNode(EX + friend),
            )
        )
    return store


def solutions(store: pyoxigraph.Store, query: str) -> Counter:
    answer = store.query(query)
    names = [variable.value for variable in answer.variables]
    return Counter(
        tuple((name, solution[name]) for name in names if solution[name] is not None)
        for solution in answer
    )


def rewrite(query: str, endpoint_policy: ServicePolicy) -> str:
    info = inspect_query(query, allowed_services=endpoint_policy.allowed)
    return inline_services(info, endpoint_policy)


# --- address checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:7878/query",
        "http://localhost/sparql",
        "http://10.1.2.3/sparql",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://[::1]:8080/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:a01:203]/",
        "http://[2002:7f00:1::]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "https://240.0.0.1/",
    ],
)
def test_non_public_addresses_are_refused(url):
    with pytest.raises(ForbiddenOperation) as refused:
        check_endpoint_address(url, allow_private=False)
    assert url in refused.value.message
    assert "public addresses" in refused.value.message


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/data",
        "gopher://127.0.0.1:70/_GET",
        "jar:http://127.0.0.1/a!/b",
        "http:///no-host",
        "http://127.0.0.1:99999/",
    ],
)
def test_only_http_urls_with_a_host_are_accepted(url):
    with pytest.raises(ForbiddenOperation):
        check_endpoint_address(url, allow_private=True)


def test_private_addresses_are_accepted_when_allowed():
    for url in ("http://127.0.0.1:7878/query", "http://[::1]/", "https://localhost/sparql"):
        check_endpoint_address(url, allow_private=True)


def test_public_address_is_accepted():
    check_endpoint_address("https://93.184.215.14/sparql", allow_private=False)


def test_unresolvable_host_is_an_upstream_error():
    with pytest.raises(UpstreamError, match="cannot be resolved"):
        check_endpoint_address("http://no-such-host.invalid/sparql", allow_private=False)


# --- inlining: the answer is the join pyoxigraph would compute ------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        "?p ex:knows ?q SERVICE <{e}> {{ ?q ex:name ?name }}",
        "?p ex:knows ?q SERVICE <{e}> {{ ?q ex:name ?name OPTIONAL {{ ?q ex:age ?age }} }}",
        "?p ex:knows ?q SERVICE <{e}> {{ ?q ex:age ?age FILTER(?age > 10 && ?age<100) }}",
        "?p ex:knows ?q OPTIONAL {{ SERVICE <{e}> {{ ?q ex:age ?age }} }}",
        "?p ex:knows ?q SERVICE <{e}> {{ ex:bob ex:name 'Bob' }}",
        "?p ex:knows ?q SERVICE <{e}> {{ ?q ex:name 'Nobody' }}",
        "SERVICE <{e}> {{ ?q ex:name ?n }} ?p ex:knows ?q SERVICE <{e}> {{ ?q ex:age ?a }}",
    ],
)
def test_inlined_query_answers_like_native_service(remote_endpoint, pattern):
    query = PROLOGUE + "SELECT * WHERE { " + pattern.format(e=remote_endpoint) + " }"
    rewritten = rewrite(query, policy(remote_endpoint))
    assert "SERVICE" not in rewritten
    store = local_store()
    assert solutions(store, rewritten) == solutions(store, query)


def test_inlined_join_has_the_expected_rows(remote_endpoint):
    query = (
        PROLOGUE + "SELECT ?p ?q ?name ?age WHERE { ?p ex:knows ?q "
        f"SERVICE <{remote_endpoint}> {{ ?q ex:name ?name OPTIONAL {{ ?q ex:age ?age }} }} }}"
    )
    rewritten = rewrite(query, policy(remote_endpoint))
    names = ("p", "q", "name", "age")
    rows = {
        tuple(None if solution[name] is None else solution[name].value for name in names)
        for solution in local_store().query(rewritten)
    }
    assert rows == {
        (EX + "alice", EX + "bob", "Bob", "42"),
        (EX + "alice", EX + "carol", "Carol", None),
        (EX + "erin", EX + "dave", "Dave", "7"),
    }
    assert "UNDEF" in rewritten


def test_endpoint_reached_by_host_name(remote_endpoint):
    by_name = remote_endpoint.replace("127.0.0.1", "localhost")
    query = PROLOGUE + f"SELECT ?name WHERE {{ SERVICE <{by_name}> {{ ex:bob ex:name ?name }} }}"
    rewritten = rewrite(query, policy(by_name))
    assert [s["name"].value for s in pyoxigraph.Store().query(rewritten)] == ["Bob"]


def test_endpoint_iri_with_non_ascii_characters(fake):
    endpoint = fake[0] + "/spärql"
    rewritten = rewrite(f"SELECT * {{ SERVICE <{endpoint}> {{ ?x ?p ?o }} }}", policy(endpoint))
    assert rewritten == 'SELECT * { VALUES (?x) { ("ä") } }'


def test_query_without_service_is_unchanged():
    info = inspect_query(r"SELECT * { ?s ?p '\u00e9' }")
    assert inline_services(info, policy()) == info.text


def test_remote_query_is_the_group_under_the_prologue(fake):
    base, received = fake
    endpoint = base + "/no-variables"
    inner = "http://inner.example.org/sparql"
    query = (
        PROLOGUE + f"SELECT * WHERE {{ ?s ?p ?o SERVICE <{endpoint}> "
        f"{{ ?s ex:p 'x' SERVICE <{inner}> {{ ?s ex:q ?z }} }} }}"
    )
    info = inspect_query(query, allowed_services={endpoint, inner})
    before = len(received)
    rewritten = inline_services(info, policy(endpoint))
    assert received[before:] == [
        f"{PROLOGUE}SELECT * WHERE {{\n ?s ex:p 'x' SERVICE <{inner}> {{ ?s ex:q ?z }} \n}}\n"
    ]
    assert rewritten == PROLOGUE + "SELECT * WHERE { ?s ?p ?o VALUES () { () () } }"


def test_answer_without_variables_keeps_its_cardinality(fake):
    base, _ = fake
    endpoint = base + "/no-variables"
    query = PROLOGUE + f"SELECT ?q WHERE {{ ex:alice ex:knows ?q SERVICE <{endpoint}> {{}} }}"
    rows = solutions(local_store(), rewrite(query, policy(endpoint)))
    assert sum(rows.values()) == 4
    assert set(rows.values()) == {2}


def test_answer_without_solutions_gives_no_rows(fake):
    base, _ = fake
    endpoint = base + "/nothing"
    query = f"SELECT * WHERE {{ ?s ?p ?o SERVICE <{endpoint}> {{ ?s ?p ?x }} }}"
    rewritten = rewrite(query, policy(endpoint))
    assert "VALUES (?x) {  }" in rewritten
    assert solutions(local_store(), rewritten) == Counter()


def test_literals_and_iris_survive_the_trip(fake):
    base, _ = fake
    endpoint = base + "/literals"
    query = f"SELECT ?v WHERE {{ SERVICE <{endpoint}> {{ ?v ?p ?o }} }}"
    rewritten = rewrite(query, policy(endpoint))
    values = [solution["v"] for solution in pyoxigraph.Store().query(rewritten)]
    assert values == [term for _, term in TRICKY_LITERALS]


def test_blank_nodes_become_skolem_iris_fresh_per_answer(fake):
    base, _ = fake
    endpoint = base + "/blank-nodes"
    query = f"SELECT ?x ?y WHERE {{ SERVICE <{endpoint}> {{ ?x ?p ?y }} }}"
    first = list(pyoxigraph.Store().query(rewrite(query, policy(endpoint))))
    again = list(pyoxigraph.Store().query(rewrite(query, policy(endpoint))))
    assert first[0]["x"] == first[0]["y"]
    assert first[0]["x"] != first[1]["x"]
    assert first[1]["y"] is None
    assert all(row["x"].value.startswith(SKOLEM_PREFIX) for row in first + again)
    assert {row["x"] for row in first}.isdisjoint({row["x"] for row in again})


# --- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/status-500", "answered HTTP 500"),
        ("/redirect", "answered HTTP 302 Found (redirects are not followed)"),
        ("/garbage", "not JSON"),
        ("/big", "answered more than 1000 bytes"),
        ("/not-results", "unusable answer: 'vars' is missing"),
        ("/bad-iri", "cannot be written in SPARQL"),
        ("/bad-variable", "variables not in head.vars"),
        ("/bad-language", "language tag"),
        ("/surrogate", "lone surrogate"),
        ("/many-rows", "more than 5 rows"),
        ("/not-http", "broke off its answer: BadStatusLine"),
        ("/slow", "did not answer within 0.3 s"),
        ("/drip", "did not answer within 0.3 s"),
    ],
)
def test_failure_names_the_endpoint_and_what_went_wrong(fake, path, message):
    endpoint = fake[0] + path
    query = f"SELECT * WHERE {{ SERVICE <{endpoint}> {{ ?x ?p ?o }} }}"
    endpoint_policy = policy(endpoint, timeout=0.3, max_bytes=1000, max_rows=5)
    started = time.monotonic()
    with pytest.raises(UpstreamError) as failed:
        rewrite(query, endpoint_policy)
    assert time.monotonic() - started < 1.0
    assert failed.value.status == 502
    assert f"SERVICE <{endpoint}>" in failed.value.message
    assert message in failed.value.message


def test_deeply_nested_json_is_not_json(fake):
    endpoint = fake[0] + "/deep-json"
    with pytest.raises(UpstreamError, match="not JSON"):
        rewrite(f"ASK {{ SERVICE <{endpoint}> {{}} }}", policy(endpoint))


def test_https_endpoint_that_does_not_speak_tls(fake):
    endpoint = fake[0].replace("http://", "https://") + "/no-variables"
    with pytest.raises(UpstreamError, match=r"is unreachable: .*SSL"):
        rewrite(f"ASK {{ SERVICE <{endpoint}> {{}} }}", policy(endpoint))


def test_unreachable_endpoint(fake):
    endpoint = f"http://127.0.0.1:{free_port()}/sparql"
    with pytest.raises(UpstreamError, match="is unreachable") as failed:
        rewrite(f"ASK {{ SERVICE <{endpoint}> {{}} }}", policy(endpoint))
    assert endpoint in failed.value.message


@pytest.mark.parametrize("path", ["/status-500", "/garbage", "/slow"])
def test_silent_failure_is_one_empty_solution(fake, path):
    endpoint = fake[0] + path
    query = f"SELECT * WHERE {{ ?s ?p ?o SERVICE SILENT <{endpoint}> {{ ?s ?p ?x }} }}"
    rewritten = rewrite(query, policy(endpoint, timeout=0.3))
    assert rewritten == "SELECT * WHERE { ?s ?p ?o {} }"
    store = local_store()
    assert solutions(store, rewritten) == solutions(store, "SELECT * { ?s ?p ?o }")


def test_refused_address_is_an_error_even_when_silent(remote_endpoint):
    query = f"SELECT * {{ SERVICE SILENT <{remote_endpoint}> {{ ?s ?p ?o }} }}"
    info = inspect_query(query, allowed_services={remote_endpoint})
    strict = ServicePolicy(frozenset({remote_endpoint}), allow_private=False)
    with pytest.raises(ForbiddenOperation, match="a loopback address"):
        inline_services(info, strict)


def test_endpoint_outside_the_policy_is_refused(remote_endpoint):
    query = f"SELECT * {{ SERVICE SILENT <{remote_endpoint}> {{ ?s ?p ?o }} }}"
    info = inspect_query(query, allowed_services={remote_endpoint})
    with pytest.raises(ForbiddenOperation, match="allow-list"):
        inline_services(info, policy("http://127.0.0.1:1/other"))
