"""query_text: the lexer-level checks every query passes before a SPARQL parser sees it."""

import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyoxigraph
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from communique.errors import (
    BadRequest,
    CommuniqueError,
    ForbiddenOperation,
    PayloadTooLarge,
    QuerySyntaxError,
)
from communique.query_text import QueryLimits, inspect_query

EX = "http://example.org/"
ENDPOINT = "http://sparql.example.org/query"
GRAPH = "http://example.org/graph/news"


@pytest.mark.parametrize(
    ("query", "form"),
    [
        ("SELECT * WHERE { ?s ?p ?o }", "SELECT"),
        ("select ?s { ?s ?p ?o }", "SELECT"),
        ("SELECT*{?s ?p ?o}", "SELECT"),
        ("ASK { ?s ?p ?o }", "ASK"),
        ("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", "CONSTRUCT"),
        ("construct where { ?s ?p ?o }", "CONSTRUCT"),
        ("DESCRIBE <http://example.org/a>", "DESCRIBE"),
        (f"BASE <{EX}>\nPREFIX ex: <ns/>\nPREFIX : <{EX}>\nDescribe ex:a", "DESCRIBE"),
        (
            '# CONSTRUCT in a comment\nPREFIX ex: <http://example.org/> ASK { ?s ex:p "SELECT" }',
            "ASK",
        ),
        ('VERSION "1.2" SELECT * {}', "SELECT"),
    ],
)
def test_form_is_the_first_form_keyword_after_the_prologue(query, form):
    info = inspect_query(query)
    assert info.form == form
    pyoxigraph.Store().query(info.text)  # and the engine agrees the text is a query


def test_prologue_is_the_declarations_verbatim():
    prologue = f"# news\nBASE <{EX}>\nPREFIX  ex:<ns/>  PREFIX : <{EX}>"
    info = inspect_query(prologue + "\nSELECT * { ?s ?p ?o }")
    assert info.prologue == prologue
    assert inspect_query("SELECT * {}").prologue == ""


@pytest.mark.parametrize(
    "query",
    [
        'SELECT * { ?s ?p "INSERT DATA { <a> <b> <c> }" }',
        "SELECT * { ?s ?p 'SERVICE <http://evil.example/> { }' }",
        'SELECT * { ?s ?p """LOAD <http://evil.example/>\n"quoted" DROP ALL""" }',
        "SELECT * { ?s ?p '''it''s \\''' FROM <x> ''' }",
        'SELECT * { ?s ?p "escaped \\" DELETE WHERE { ?s ?p ?o }" }',
        "SELECT * { ?s ?p ?o } # DELETE WHERE { ?s ?p ?o }\n",
        "SELECT * { ?s <http://example.org/DELETE/INSERT> ?o }",
        "PREFIX ex: <ns/> SELECT ?insert ?load $drop { ?insert ex:load ex:SERVICE }",
        "PREFIX : <http://example.org/> SELECT * { ?s :SERVICE :FROM ; :with ?clear }",
        'SELECT * { ?s ?p "x"@insert }',
    ],
)
def test_keywords_inside_strings_iris_comments_and_names_are_not_keywords(query):
    info = inspect_query(query)
    assert info.services == ()
    assert info.from_graphs == ()


@pytest.mark.parametrize(
    ("update", "named"),
    [
        ("INSERT DATA { <http://a> <http://b> <http://c> }", "INSERT DATA"),
        ("DELETE DATA { <http://a> <http://b> <http://c> }", "DELETE DATA"),
        ("DELETE WHERE { ?s ?p ?o }", "DELETE WHERE"),
        ("delete { ?s ?p ?o } insert { ?s ?p 1 } where { ?s ?p ?o }", "DELETE"),
        ("INSERT { ?s ?p 1 } WHERE { ?s ?p ?o }", "INSERT"),
        ("WITH <http://g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }", "WITH"),
        ("LOAD <http://example.org/data.ttl>", "LOAD"),
        ("LOAD SILENT <file:///etc/passwd> INTO GRAPH <http://g>", "LOAD"),
        ("CLEAR ALL", "CLEAR"),
        ("DROP GRAPH <http://g>", "DROP"),
        ("CREATE GRAPH <http://g>", "CREATE"),
        ("ADD <http://a> TO <http://b>", "ADD"),
        ("MOVE DEFAULT TO <http://b>", "MOVE"),
        ("COPY <http://a> TO DEFAULT", "COPY"),
        (
            "PREFIX ex: <http://example.org/> SELECT * {} ; Insert Data { ex:a ex:b ex:c }",
            "INSERT DATA",
        ),
    ],
)
def test_every_update_operation_is_refused(update, named):
    with pytest.raises(ForbiddenOperation) as refused:
        inspect_query(update)
    assert refused.value.message == (
        f"this endpoint is read-only: SPARQL Update ({named}) is not accepted"
    )
    assert refused.value.status == 400


def test_allowed_service_is_reported_with_its_group():
    query = f"SELECT * WHERE {{ ?s ?p ?o SERVICE <{ENDPOINT}> {{ ?s <{EX}name> ?name }} }}"
    info = inspect_query(query, allowed_services={ENDPOINT})
    (clause,) = info.services
    assert clause.endpoint == ENDPOINT
    assert clause.silent is False
    assert info.text[clause.start : clause.end] == (
        f"SERVICE <{ENDPOINT}> {{ ?s <{EX}name> ?name }}"
    )
    assert clause.body == f" ?s <{EX}name> ?name "


@pytest.mark.parametrize(
    "query",
    [
        f"SELECT * {{ SERVICE <{ENDPOINT}x> {{ ?s ?p ?o }} }}",
        f"SELECT * {{ SERVICE SILENT <{ENDPOINT}x> {{ ?s ?p ?o }} }}",
        "SELECT * { OPTIONAL { FILTER EXISTS { service <http://127.0.0.1:7878/query> {} } } }",
        f"SELECT * {{ SERVICE <{ENDPOINT}> {{ SERVICE <http://10.0.0.1/> {{ }} }} }}",
    ],
)
def test_service_outside_the_allow_list_is_refused(query):
    with pytest.raises(ForbiddenOperation, match="allow-list"):
        inspect_query(query, allowed_services={ENDPOINT})


def test_service_refusal_names_the_endpoint_and_says_the_list_is_empty():
    with pytest.raises(ForbiddenOperation) as refused:
        inspect_query("SELECT * { SERVICE <http://169.254.169.254/latest> {} }")
    assert "<http://169.254.169.254/latest>" in refused.value.message
    assert "which is empty on this server" in refused.value.message


@pytest.mark.parametrize("variable", ["?endpoint", "$e"])
def test_service_with_a_variable_endpoint_is_refused(variable):
    query = f"SELECT * {{ VALUES {variable} {{ <{ENDPOINT}> }} SERVICE {variable} {{ ?s ?p ?o }} }}"
    with pytest.raises(ForbiddenOperation, match="allow-list") as refused:
        inspect_query(query, allowed_services={ENDPOINT})
    assert variable in refused.value.message


def test_service_endpoint_as_prefixed_name_or_relative_iri_is_resolved():
    prologue = "BASE <http://sparql.example.org/>\nPREFIX sp: <http://sparql.example.org/>\n"
    for endpoint in ("sp:query", "<query>", "sp:qu\\.ery"):
        query = prologue + f"SELECT * {{ SERVICE SILENT {endpoint} {{ ?s ?p ?o }} }}"
        allowed = {ENDPOINT, "http://sparql.example.org/qu.ery"}
        (clause,) = inspect_query(query, allowed_services=allowed).services
        assert clause.endpoint in allowed
        assert clause.silent is True


def test_nested_service_travels_inside_the_outer_clause():
    inner = "http://inner.example.org/sparql"
    query = (
        f"SELECT * {{ SERVICE <{ENDPOINT}> {{ ?s ?p ?o SERVICE <{inner}> {{ ?o ?q ?r }} }}"
        f" SERVICE <{inner}> {{ ?s ?q ?r }} }}"
    )
    info = inspect_query(query, allowed_services={ENDPOINT, inner})
    assert [clause.endpoint for clause in info.services] == [ENDPOINT, inner]
    assert f"SERVICE <{inner}>" in info.services[0].body


def test_service_body_ends_at_its_own_brace_not_one_in_a_comment_or_string():
    query = f'SELECT * {{ SERVICE <{ENDPOINT}> {{ ?s ?p "}}" # }}\n }} ?s ?p ?o }}'
    (clause,) = inspect_query(query, allowed_services={ENDPOINT}).services
    assert clause.body == ' ?s ?p "}" # }\n '


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * { SERVICESILENT <http://evil.example/> {} }",
        "SELECT * { ?s ?p trueSERVICE <http://evil.example/> {} }",
        "PREFIX : <http://evil.example/> SELECT * { SERVICE:sparql {} }",
        "PREFIX : <http://evil.example/> SELECT * { ?s ?p true.SERVICE:x {} }",
        f"PREFIX silentex: <{EX}> PREFIX ex: <http://evil.example/> "
        f"SELECT * {{ SERVICE silentex:sparql {{}} }}",
        "SELECT * FROMNAMED <http://evil.example/> {}",
        f"PREFIX namedex: <{EX}> PREFIX ex: <http://evil.example/> SELECT * FROM namedex:g {{}}",
        "ASKWHERE {}",
    ],
)
def test_keywords_run_together_with_other_text_are_refused(query):
    """pyoxigraph splits these into keywords (SERVICE SILENT, SERVICE :x, FROM NAMED ...)."""
    allowed = {f"{EX}sparql", f"{EX}g"}
    with pytest.raises(BadRequest):
        inspect_query(query, allowed_services=allowed, dataset_graphs=allowed)


def test_from_graphs_must_be_dataset_graphs():
    query = f"PREFIX g: <http://example.org/graph/> SELECT * FROM g:news FROM NAMED <{GRAPH}> {{}}"
    info = inspect_query(query, dataset_graphs={GRAPH})
    assert info.from_graphs == (GRAPH,)
    assert info.from_named_graphs == (GRAPH,)


@pytest.mark.parametrize(
    ("clause", "iri"),
    [
        ("FROM <http://evil.example/data.ttl>", "http://evil.example/data.ttl"),
        ("FROM NAMED <file:///etc/passwd>", "file:///etc/passwd"),
        ("from named <http://127.0.0.1:8080/>", "http://127.0.0.1:8080/"),
    ],
)
def test_from_outside_the_dataset_is_refused(clause, iri):
    with pytest.raises(ForbiddenOperation) as refused:
        inspect_query(f"SELECT * {clause} {{ ?s ?p ?o }}", dataset_graphs={GRAPH})
    assert f"<{iri}>" in refused.value.message
    assert "only the dataset's own graphs can be named" in refused.value.message


def test_from_is_not_checked_without_dataset_graphs():
    info = inspect_query("SELECT * FROM <http://elsewhere.example/> {}")
    assert info.from_graphs == ("http://elsewhere.example/",)


def test_codepoint_escapes_are_decoded_before_checking():
    with pytest.raises(ForbiddenOperation, match=re.escape("<http://evil.example/>")):
        inspect_query(r"SELECT * { \u0053ERVICE <http://evil.example/> { } }")
    with pytest.raises(ForbiddenOperation, match=r"Update \(INSERT DATA\)"):
        inspect_query(r"\U00000049NSERT DATA { <http://a> <http://b> <http://c> }")
    info = inspect_query(r"\u0053ELECT * { ?s ?p '\u00e9t\u00E9' }")
    assert info.form == "SELECT"
    assert info.text == "SELECT * { ?s ?p 'été' }"


@pytest.mark.parametrize(
    "escape",
    [r"\uD800", r"\uDFFF", r"\U00110000", r"\UFFFFFFFF"],
)
def test_escape_of_an_invalid_codepoint_is_refused(escape):
    with pytest.raises(BadRequest, match="not a Unicode character"):
        inspect_query(f"SELECT * {{ ?s ?p '{escape}' }}")


@pytest.mark.parametrize("escape", [r"\u0022", r"\u0027", r"\u005C", r"\u003E", r"\u000A"])
def test_escape_that_would_change_the_tokens_is_refused(escape):
    """pyoxigraph decodes escapes inside strings only: both readings must split alike."""
    with pytest.raises(BadRequest, match="would change where strings"):
        inspect_query(f'SELECT * {{ BIND("a{escape} SERVICE <http://evil.example/> {{}}" AS ?x) }}')


def test_error_position_is_in_the_text_as_written():
    written = 'SELECT * {\n  ?s ?p "\\u00e9\\u00e9" .\n  ?s ?p "open\n}'
    with pytest.raises(QuerySyntaxError) as failed:
        inspect_query(written)
    assert (failed.value.line, failed.value.column) == (3, 9)
    assert "line 3, column 9" in failed.value.message


@pytest.mark.parametrize("opening", ["{", "(", "["])
def test_deep_nesting_is_refused_fast(opening):
    query = "SELECT * WHERE { " + opening * 5000 + "?s ?p ?o" + " }" * 5000
    started = time.perf_counter()
    with pytest.raises(BadRequest, match="more than 256 deep") as refused:
        inspect_query(query)
    assert time.perf_counter() - started < 0.05
    assert refused.value.status == 400
    assert "line 1, column 273" in refused.value.message  # the 257th bracket


def test_depth_limit_is_inclusive():
    limits = QueryLimits(max_depth=4)
    assert inspect_query("SELECT * { { ( [ ] ) } }", limits).depth == 4
    assert inspect_query("ASK {}").depth == 1
    with pytest.raises(BadRequest, match="more than 4 deep"):
        inspect_query("SELECT * { { { { {} } } } }", limits)


def test_size_limit_counts_utf8_bytes():
    query = "SELECT * { ?s ?p 'é' }"  # 22 characters, 23 bytes
    assert inspect_query(query, QueryLimits(max_bytes=23)).form == "SELECT"
    with pytest.raises(PayloadTooLarge) as refused:
        inspect_query(query, QueryLimits(max_bytes=22))
    assert refused.value.status == 413
    with pytest.raises(PayloadTooLarge):
        inspect_query("SELECT * {}" + " " * 65536)


def test_token_limit():
    with pytest.raises(BadRequest, match="more than 100 tokens"):
        inspect_query("SELECT * { " + "?s ?p ?o . " * 30 + "}", QueryLimits(max_tokens=100))


@pytest.mark.parametrize(
    ("query", "message", "line", "column"),
    [
        ('SELECT * {\n?s ?p "no end }', "unterminated string", 2, 7),
        ("SELECT * {\n?s ?p 'no\nend' }", "unterminated string", 2, 7),
        ('SELECT * { ?s ?p """no end\n\n }', "unterminated string", 1, 18),
        ("SELECT * { ?s ?p <http://example.org/no-end }", "unterminated IRI", 1, 18),
        ("SELECT * { ?s ?p <http://example.org/no-end", "unterminated IRI", 1, 18),
        ("SELECT * { ?s ?p ?o", "'{' is never closed", 1, 10),
        ("SELECT * { ?s ?p ?o }}", "'}' has no opening bracket", 1, 22),
        ("SELECT * { FILTER(?o ] }", "']' cannot close '('", 1, 22),
        ("FOO * { }", "SELECT, ASK, CONSTRUCT or DESCRIBE is expected", 1, 1),
        ("PREFIX ex: <http://e/>\n", "the query ends early", 2, 1),
        ("PREFIX ex <http://e/> SELECT * {}", "a prefix name such as 'ex:'", 1, 8),
        ("BASE ex: SELECT * {}", "an IRI in <...> is expected after BASE", 1, 6),
        ("SELECT * { SERVICE <http://e/> ?x }", "'{' is expected after the SERVICE", 1, 32),
        ("SELECT * FROM ex:g {}", "the prefix 'ex:' is not declared", 1, 15),
    ],
)
def test_syntax_errors_say_where(query, message, line, column):
    with pytest.raises(QuerySyntaxError, match=re.escape(message)) as failed:
        inspect_query(query, allowed_services={"http://e/"})
    assert (failed.value.line, failed.value.column) == (line, column)
    assert f"line {line}, column {column}" in failed.value.message


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * { ?a ?b ?c FILTER(?a<?b) }",
        "SELECT * { ?a ?b ?c FILTER(?a <= 3) }",
        "SELECT * { ?a ?b ?c FILTER(?a<3&&?c>2) }",
        "SELECT * { ?a ?b ?c FILTER(?a < ?c || ?b > ?c) }",
        "SELECT * { ?a ?b ?c FILTER(?a<<http://example.org/x>) }",
        "SELECT * { ?a ?b ?c FILTER(?a<=?c) } ORDER BY ?a",
        "SELECT * { ?a ?b ?c FILTER(?a <\n3) }",
    ],
)
def test_less_than_is_an_operator_unless_it_starts_an_iri(query):
    info = inspect_query(query)
    assert info.form == "SELECT"
    pyoxigraph.Store().query(info.text)


def test_lone_surrogate_in_the_text_is_refused():
    with pytest.raises(BadRequest, match="lone surrogate"):
        inspect_query("SELECT * { ?s ?p '\ud800' }")


def test_a_megabyte_is_inspected_in_linear_time():
    lines = (
        f'?s{n} <http://example.org/p{n}> "text {n} with {{braces}} and \\"quotes\\"" ; '
        f"<{EX}q> ex:o{n}, {n}.5e3 . # a comment SERVICE\n"
        for n in range(7200)
    )
    query = "PREFIX ex: <http://example.org/>\nSELECT * WHERE {\n" + "".join(lines) + "}"
    assert len(query.encode()) > 1_000_000
    started = time.perf_counter()
    info = inspect_query(query, QueryLimits(max_bytes=2_000_000, max_tokens=1_000_000))
    assert time.perf_counter() - started < 0.5
    assert info.depth == 1


SPARQLISH = st.lists(
    st.sampled_from(
        [
            "SELECT",
            "ASK",
            "CONSTRUCT",
            "DESCRIBE",
            "SERVICE",
            "SILENT",
            "FROM",
            "NAMED",
            "PREFIX",
            "BASE",
            "INSERT",
            "WHERE",
            "ex:",
            ":",
            "ex:a",
            "?x",
            "$y",
            "_:b",
            "a",
            "{",
            "}",
            "(",
            ")",
            "[",
            "]",
            "<",
            ">",
            "<=",
            "<http://e/>",
            "<x",
            '"',
            "'",
            '"""',
            "'''",
            "\\",
            "\\u0053",
            "\\u00",
            "\\U0010FFFF",
            "\\uD800",
            "#",
            "\n",
            "\r",
            " ",
            "\t",
            "@en",
            "1",
            "1.5e3",
            ".",
            ";",
            ",",
            "*",
            "é",
            "\u3000",
            "%20",
            "\\.",
            "true",
        ]
    ),
    max_size=40,
).map("".join)


@settings(
    max_examples=300,
    deadline=500,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(text=st.one_of(st.text(max_size=200), SPARQLISH))
def test_fuzz_raises_only_communique_errors(text):
    try:
        info = inspect_query(
            text,
            QueryLimits(max_bytes=1000, max_depth=8, max_tokens=100),
            allowed_services={"http://e/"},
            dataset_graphs={"http://e/"},
        )
    except CommuniqueError as error:
        assert 400 <= error.status < 500
    else:
        assert info.form in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
        assert info.depth <= 8


# --- against the engine: what pyoxigraph would fetch is never let through -------------------


class CallCounter(BaseHTTPRequestHandler):
    calls: list[str]

    def do_POST(self) -> None:
        self.calls.append(self.path)
        self.send_response(500)
        self.end_headers()

    do_GET = do_POST

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def trap() -> Iterator[tuple[str, list[str]]]:
    """(URL, calls received) of a loopback endpoint that counts the calls made to it."""
    calls: list[str] = []
    handler = type("Handler", (CallCounter,), {"calls": calls})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", calls
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def engine_calls(query: str, calls: list[str]) -> int:
    """How many HTTP calls pyoxigraph makes while evaluating `query` on an empty store."""
    before = len(calls)
    try:
        answer = pyoxigraph.Store().query(query)
        if not isinstance(answer, pyoxigraph.QueryBoolean):
            list(answer)
    except (SyntaxError, OSError):
        pass
    return len(calls) - before


@pytest.mark.parametrize(
    "spelling",
    [
        "SELECT * {{ SERVICE <{e}q> {{}} }}",
        "SELECT * {{ SERVICESILENT <{e}q> {{}} }}",
        "PREFIX : <{e}> SELECT * {{ SERVICE:q {{}} }}",
        "PREFIX : <{e}> SELECT * {{ SeRvIcE SILENT:q {{}} }}",
        "PREFIX x: <{e}> PREFIX silentx: <http://a/> SELECT * {{ SERVICE silentx:q {{}} }}",
        "SELECT * {{ BIND(1 AS ?s) SERVICE#}}\n<{e}q>{{}} }}",
        "ASK {{ FILTER EXISTS {{ SERVICE <{e}q> {{}} }} }}",
    ],
)
def test_every_spelling_the_engine_fetches_is_refused(trap, spelling):
    url, calls = trap
    query = spelling.format(e=url)
    assert engine_calls(query, calls) == 1  # pyoxigraph does call out for this text
    with pytest.raises(BadRequest):
        inspect_query(query)


FRAGMENTS = st.sampled_from
NOISE = FRAGMENTS(["", " ", "\n", "#c\n", '"x"', "'y'", '"""z"""', "<", ">", "'", '"', "\\", "."])


def engine_query(url: str) -> st.SearchStrategy[str]:
    """Queries built around SERVICE, spelled and disguised in many ways."""
    return st.tuples(
        FRAGMENTS(["", f"PREFIX : <{url}> ", f"PREFIX x: <{url}> PREFIX silentx: <http://a/> "]),
        FRAGMENTS(["SELECT * ", "ASK ", "SELECT*", "CONSTRUCT WHERE ", "\\u0053ELECT * "]),
        FRAGMENTS(["{", "WHERE {", "{ OPTIONAL {", "{ FILTER EXISTS {", "{{"]),
        FRAGMENTS(["", "BIND(1 AS ?s) ", "?s ?p true", "FILTER(?a<?b)", "BIND('''a''' AS ?z)"]),
        NOISE,
        FRAGMENTS(["SERVICE", "service", "\\u0053ERVICE", "SERVICESILENT", "SERVICE SILENT"]),
        NOISE,
        FRAGMENTS([f"<{url}q>", ":q", "x:q", "silentx:q", "<q>", ":", "\\u003Cq>"]),
        NOISE,
        FRAGMENTS(["{}", "{ ?s ?p ?o }"]),
        NOISE,
        FRAGMENTS(["}", "}}", "} }", "}}}"]),
    ).map("".join)


@settings(max_examples=300, deadline=None, database=None)
@given(data=st.data())
def test_fuzz_no_accepted_query_makes_the_engine_call_out(trap, data):
    url, calls = trap
    query = data.draw(engine_query(url))
    try:
        inspect_query(query, QueryLimits(max_depth=16))
    except BadRequest:
        return
    assert engine_calls(query, calls) == 0
