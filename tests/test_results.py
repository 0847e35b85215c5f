"""Serialising answers: every format parsed back, pyoxigraph's writers as reference, the cap."""

import csv
import functools
import io
import json

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.compare import isomorphic

from communique import results
from communique.errors import NotAcceptable
from communique.results import (
    RDF_MEDIA_TYPES,
    RESULT_CAP_LINK,
    RESULTS_MEDIA_TYPES,
    serialize_answer,
)

XSD = "http://www.w3.org/2001/XMLSchema#"
N = ox.NamedNode
L = ox.Literal
TRICKY_TERMS = [
    N("http://example.org/a?b=c&d=%3Ce%3E#f"),
    L("plain"),
    L('quote " comma , semicolon ; backslash \\ newline \n tab \t return \r end'),
    L("chat", language="fr"),
    L("ab", language="ar", direction=ox.BaseDirection.RTL),
    L("12", datatype=N(XSD + "integer")),
    L("-5", datatype=N(XSD + "integer")),
    L("1.5", datatype=N(XSD + "decimal")),
    L("1.0E3", datatype=N(XSD + "double")),
    L("1000", datatype=N(XSD + "double")),
    L("true", datatype=N(XSD + "boolean")),
    L("abc", datatype=N(XSD + "integer")),
    L("x", datatype=N("http://example.org/datatype#x")),
    L("a<b>&'\"]]>"),
    L("unicode é 漢字 🎉 \u2028 \x7f"),
    L(""),
    L("  surrounded by spaces \n"),
    ox.BlankNode("b1"),
    ox.Triple(N("http://example.org/s"), N("http://example.org/p"), L("quoted", language="en")),
]
CONTROL_CHARACTER = L("bell \x07 and \x1f")


def tricky_store(terms: list) -> ox.Store:
    """One solution per term: ?s = a subject IRI, ?o = the term; ?u is never bound."""
    store = ox.Store()
    for index, term in enumerate(terms):
        subject = N(f"http://example.org/s{index:02d}")
        store.add(ox.Quad(subject, N("http://example.org/p"), term))
    return store


SELECT = "SELECT ?s ?o ?u WHERE { ?s ?p ?o } ORDER BY ?s"
PYOXIGRAPH_FORMATS = {
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}


def select(
    store: ox.Store,
    format_name: str,
    max_rows: int = 1000,
    query: str = SELECT,
    *,
    native: bool = False,
):
    """The answer to `query`; `native`: as the query workers ask for it (pyoxigraph may write
    it, evaluating the query again when it must be written under the cap here)."""
    return serialize_answer(
        store.query(query),
        results_format=format_name,
        graph_format="turtle",
        max_rows=max_rows,
        evaluate_again=(lambda: store.query(query)) if native else None,
    )


class Evaluations:
    """`evaluate_again` for `query` on `store`, counting its calls."""

    def __init__(self, store: ox.Store, query: str):
        self.store, self.query, self.calls = store, query, 0

    def __call__(self):
        self.calls += 1
        return self.store.query(self.query)


def rows(solutions) -> list[list]:
    return [list(solution) for solution in solutions]


# --- SELECT ------------------------------------------------------------------------------------


@pytest.mark.parametrize("format_name", ["json", "csv", "tsv"])
def test_select_is_byte_identical_to_pyoxigraph(format_name):
    store = tricky_store([*TRICKY_TERMS, CONTROL_CHARACTER])
    expected = store.query(SELECT).serialize(format=PYOXIGRAPH_FORMATS[format_name])
    assert select(store, format_name).body == expected


@pytest.mark.parametrize("format_name", ["json", "xml", "tsv"])
def test_select_parses_back_to_the_same_solutions(format_name):
    store = tricky_store(TRICKY_TERMS)
    answer = select(store, format_name)
    parsed = ox.parse_query_results(answer.body, PYOXIGRAPH_FORMATS[format_name])
    assert [variable.value for variable in parsed.variables] == ["s", "o", "u"]
    assert rows(parsed) == rows(store.query(SELECT))
    assert (answer.kind, answer.count, answer.truncated) == ("solutions", len(TRICKY_TERMS), False)


def test_select_xml_parses_back_with_a_standard_xml_reader():
    body = select(tricky_store(TRICKY_TERMS[:-1]), "xml").body  # rdflib has no triple terms
    results = rdflib.query.Result.parse(io.BytesIO(body), format="xml")
    written = [row[1] for row in results]
    assert written[1] == rdflib.Literal("plain")
    assert written[2] == rdflib.Literal(TRICKY_TERMS[2].value)
    assert written[16] == rdflib.Literal("  surrounded by spaces \n")


def test_select_csv_holds_plain_values_and_quotes_as_rfc_4180():
    answer = select(tricky_store(TRICKY_TERMS), "csv")
    assert answer.body.startswith(b"s,o,u\r\n")
    table = list(csv.reader(io.StringIO(answer.body.decode(), newline="")))
    assert table[0] == ["s", "o", "u"]
    values = [row[1] for row in table[1:]]
    assert values[0] == "http://example.org/a?b=c&d=%3Ce%3E#f"
    assert values[2] == TRICKY_TERMS[2].value
    assert values[3] == "chat"
    assert values[17] == "_:b1"
    assert values[18] == "http://example.org/s http://example.org/p quoted"
    assert all(row[2] == "" for row in table[1:])


class Solutions:
    """Solutions as a store would give them, without the store's canonical literal forms."""

    def __init__(self, names: list[str], table: list[list]):
        self.variables = [ox.Variable(name) for name in names]
        self._table = table

    def __iter__(self):
        return iter(self._table)


def test_select_tsv_writes_turtle_terms_and_bare_numbers():
    lines = select(tricky_store(TRICKY_TERMS), "tsv").body.decode().split("\n")
    assert lines[0] == "?s\t?o\t?u"
    cells = [line.split("\t")[1] for line in lines[1:-1]]
    assert cells[2] == (
        '"quote \\" comma , semicolon ; backslash \\\\ newline \\n tab \\t return \\r end"'
    )
    assert cells[4] == '"ab"@ar--rtl'
    assert cells[11] == f'"abc"^^<{XSD}integer>'
    assert lines[-1] == ""


@pytest.mark.parametrize(
    ("lexical", "datatype", "written"),
    [
        ("0012", "integer", "0012"),
        ("+5", "integer", "+5"),
        ("1.5", "decimal", "1.5"),
        ("1.", "decimal", f'"1."^^<{XSD}decimal>'),
        ("1.0E3", "double", "1.0E3"),
        ("1000", "double", f'"1000"^^<{XSD}double>'),
        ("INF", "double", f'"INF"^^<{XSD}double>'),
        ("true", "boolean", "true"),
        ("1", "boolean", f'"1"^^<{XSD}boolean>'),
        ("٣", "integer", f'"٣"^^<{XSD}integer>'),
    ],
)
def test_tsv_writes_a_literal_bare_only_when_turtle_reads_it_back_unchanged(
    lexical, datatype, written
):
    literal = L(lexical, datatype=N(XSD + datatype))
    answer = serialize_answer(
        Solutions(["x"], [[literal]]), results_format="tsv", graph_format="turtle", max_rows=1
    )
    assert answer.body.decode() == f"?x\n{written}\n"
    parsed = ox.parse_query_results(answer.body, ox.QueryResultsFormat.TSV)
    assert rows(parsed) == [[literal]]


def test_select_xml_matches_pyoxigraph_semantically():
    store = tricky_store(TRICKY_TERMS)
    ours = ox.parse_query_results(select(store, "xml").body, ox.QueryResultsFormat.XML)
    theirs_body = store.query(SELECT).serialize(format=ox.QueryResultsFormat.XML)
    theirs = ox.parse_query_results(theirs_body, ox.QueryResultsFormat.XML)
    assert rows(ours) == rows(theirs)


def test_select_json_follows_the_w3c_shape():
    document = json.loads(select(tricky_store(TRICKY_TERMS), "json").body)
    assert document["head"] == {"vars": ["s", "o", "u"]}
    bindings = [binding["o"] for binding in document["results"]["bindings"]]
    assert bindings[1] == {"type": "literal", "value": "plain"}
    assert bindings[3] == {"type": "literal", "value": "chat", "xml:lang": "fr"}
    assert bindings[5] == {"type": "literal", "value": "12", "datatype": XSD + "integer"}
    assert bindings[17] == {"type": "bnode", "value": "b1"}
    assert bindings[18]["type"] == "triple"
    assert all("u" not in binding for binding in document["results"]["bindings"])


@pytest.mark.parametrize("format_name", ["json", "xml", "csv", "tsv"])
def test_select_without_variables_or_rows_matches_pyoxigraph(format_name):
    store = ox.Store()
    for query in ("SELECT * {}", "SELECT ?x { FILTER(false) }"):
        expected = store.query(query).serialize(format=PYOXIGRAPH_FORMATS[format_name])
        written = select(store, format_name, query=query).body
        if format_name == "xml":
            reference = ox.parse_query_results(expected, ox.QueryResultsFormat.XML)
            parsed = ox.parse_query_results(written, ox.QueryResultsFormat.XML)
            assert rows(parsed) == rows(reference)
        else:
            assert written == expected


def test_xml_refuses_characters_xml_cannot_carry():
    with pytest.raises(NotAcceptable, match=r"XML 1\.0") as raised:
        select(tricky_store([CONTROL_CHARACTER]), "xml")
    assert raised.value.offered == [RESULTS_MEDIA_TYPES[name] for name in ("json", "csv", "tsv")]


@pytest.mark.parametrize("graph", [False, True])
def test_a_refusal_keeps_no_streamed_answer_for_another_thread_to_drop(
    graph, drop_on_another_thread
):
    """pyoxigraph iterators may only be dropped on the thread that made them: a refusal
    midway must not keep one alive in its traceback for another thread to collect."""
    store = tricky_store([CONTROL_CHARACTER])
    query = "CONSTRUCT WHERE { ?s ?p ?o }" if graph else SELECT
    with pytest.raises(NotAcceptable) as raised:
        serialize_answer(
            store.query(query), results_format="xml", graph_format="rdfxml", max_rows=10
        )
    kept = [raised]
    del raised
    assert drop_on_another_thread(kept) == []


# --- the cap -----------------------------------------------------------------------------------


def numbers(count: int) -> str:
    return f"SELECT ?n WHERE {{ VALUES ?n {{ {' '.join(map(str, range(count)))} }} }}"


@pytest.mark.parametrize("native", [False, True])
@pytest.mark.parametrize("format_name", ["json", "xml", "csv", "tsv"])
def test_exactly_max_rows_is_not_truncated(format_name, native):
    answer = select(ox.Store(), format_name, max_rows=5, query=numbers(5), native=native)
    assert (answer.count, answer.truncated) == (5, False)
    assert RESULT_CAP_LINK.encode() not in answer.body


@pytest.mark.parametrize("native", [False, True])
@pytest.mark.parametrize("format_name", ["json", "xml", "csv", "tsv"])
def test_one_row_more_than_max_rows_is_truncated(format_name, native):
    answer = select(ox.Store(), format_name, max_rows=5, query=numbers(6), native=native)
    assert (answer.count, answer.truncated) == (5, True)
    if format_name in ("json", "xml", "tsv"):
        parsed = ox.parse_query_results(answer.body, PYOXIGRAPH_FORMATS[format_name])
        assert [int(row["n"].value) for row in parsed] == [0, 1, 2, 3, 4]
    else:
        assert answer.body.count(b"\r\n") == 6


def native(store: ox.Store, query: str, format_name: str, max_rows: int):
    """(answer, evaluations) as a query worker writes it (pyoxigraph may write it)."""
    again = Evaluations(store, query)
    answer = serialize_answer(
        store.query(query),
        results_format=format_name,
        graph_format="turtle",
        max_rows=max_rows,
        evaluate_again=again,
    )
    return answer, again.calls


@pytest.mark.parametrize("max_rows", [0, 1, 7, 100])
@pytest.mark.parametrize("format_name", ["json", "tsv"])
def test_pyoxigraph_writes_and_cuts_the_same_answer_as_the_writer_here(format_name, max_rows):
    store = tricky_store([*TRICKY_TERMS, CONTROL_CHARACTER])
    answer, evaluations = native(store, SELECT, format_name, max_rows)
    written_here = select(store, format_name, max_rows=max_rows)
    assert evaluations == 0
    assert (answer.body, answer.count, answer.truncated) == (
        written_here.body,
        written_here.count,
        written_here.truncated,
    )
    assert answer.truncated == (max_rows < len(TRICKY_TERMS) + 1)


def test_csv_is_written_here_where_an_iri_with_a_comma_is_quoted():
    store = ox.Store()
    query = "SELECT ?x WHERE { VALUES ?x { <http://example.org/Paris,_Texas> } }"
    answer, evaluations = native(store, query, "csv", 10)
    assert answer.body == b'x\r\n"http://example.org/Paris,_Texas"\r\n'
    assert evaluations == 0


def test_solutions_of_another_engine_are_written_here_once():
    table = [[N("http://example.org/a")], [N("http://example.org/b")]]
    calls = []
    answer = serialize_answer(
        Solutions(["x"], table), results_format="json", graph_format="turtle", max_rows=1,
        evaluate_again=lambda: calls.append(1),
    )  # fmt: skip
    assert (answer.count, answer.truncated, calls) == (1, True, [])


@pytest.mark.parametrize(
    "value",
    ['a row separator },{" in a string', "a string ending as a row does },{", "a ]}} bracket"],
)
def test_json_rows_are_counted_whatever_the_strings_hold(value):
    store = tricky_store([L(value), L("x"), L("y")])
    query = "SELECT ?s ?o WHERE { ?s ?p ?o } ORDER BY ?s"
    for max_rows, expected in ((3, (3, False)), (2, (2, True))):
        answer, evaluations = native(store, query, "json", max_rows)
        assert (answer.count, answer.truncated, evaluations) == (*expected, 0)
        assert len(json.loads(answer.body)["results"]["bindings"]) == expected[0]


def test_json_rows_without_bindings_are_written_here():
    store = tricky_store([L("x"), L("y"), L("an empty object {} in a string")])
    answer, evaluations = native(store, "SELECT ?u WHERE { ?s ?p ?o }", "json", 2)
    assert (answer.count, answer.truncated, evaluations) == (2, True, 1)
    assert json.loads(answer.body)["results"]["bindings"] == [{}, {}]


@pytest.mark.parametrize("format_name", ["json", "tsv"])
def test_a_long_answer_is_cut_at_the_cap_from_what_pyoxigraph_wrote(format_name, monkeypatch):
    monkeypatch.setattr(results, "NATIVE_BYTES", 300)
    answer, evaluations = native(ox.Store(), numbers(500), format_name, 2)  # 3 rows in 300 bytes
    assert (answer.count, answer.truncated, evaluations) == (2, True, 0)
    assert answer.body == select(ox.Store(), format_name, max_rows=2, query=numbers(500)).body


@pytest.mark.parametrize("format_name", ["json", "tsv"])
def test_an_answer_of_long_rows_is_written_again_here_under_the_cap(format_name, monkeypatch):
    monkeypatch.setattr(results, "NATIVE_BYTES", 300)
    answer, evaluations = native(ox.Store(), numbers(500), format_name, 400)
    assert (answer.count, answer.truncated, evaluations) == (400, True, 1)
    assert answer.body == select(ox.Store(), format_name, max_rows=400, query=numbers(500)).body


def test_truncated_json_links_the_cap_in_head():
    answer = select(ox.Store(), "json", max_rows=2, query=numbers(3))
    assert json.loads(answer.body)["head"] == {"vars": ["n"], "link": [RESULT_CAP_LINK]}


def test_truncated_xml_links_the_cap_in_head():
    body = select(ox.Store(), "xml", max_rows=2, query=numbers(3)).body.decode()
    assert f'<variable name="n"/><link href="{RESULT_CAP_LINK}"/></head>' in body


def test_zero_rows_allowed_truncates_any_row():
    answer = select(ox.Store(), "json", max_rows=0, query=numbers(1))
    assert (answer.count, answer.truncated) == (0, True)
    assert json.loads(answer.body)["results"]["bindings"] == []


def test_cap_stops_reading_one_row_past_max_rows():
    pulled = []

    def numbered():
        for n in range(1000):
            pulled.append(n)
            yield [L(str(n))]

    answer = serialize_answer(
        Solutions(["n"], numbered()), results_format="csv", graph_format="turtle", max_rows=3
    )
    assert answer.truncated
    assert pulled == [0, 1, 2, 3]


# --- ASK ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False])
@pytest.mark.parametrize("format_name", ["json", "xml", "tsv"])
def test_boolean_parses_back(format_name, value):
    store = ox.Store()
    query = "ASK {}" if value else "ASK { FILTER(false) }"
    answer = serialize_answer(
        store.query(query), results_format=format_name, graph_format="turtle", max_rows=0
    )
    assert bool(ox.parse_query_results(answer.body, PYOXIGRAPH_FORMATS[format_name])) is value
    assert answer.body == store.query(query).serialize(format=PYOXIGRAPH_FORMATS[format_name])
    assert (answer.kind, answer.count, answer.truncated) == ("boolean", 1, False)


def test_boolean_in_csv_is_the_bare_word():
    answer = serialize_answer(True, results_format="csv", graph_format="turtle", max_rows=10)
    assert (answer.body, answer.media_type) == (b"true", "text/csv; charset=utf-8")


# --- CONSTRUCT and DESCRIBE --------------------------------------------------------------------

GRAPH = """\
@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:alice rdfs:label "Alice"@en , "Alice \\"A\\" \\n Liddell" ; ex:age 7 ; ex:knows _:someone .
_:someone ex:name "Someone" ; ex:height 1.5 .
"""
RDFLIB_FORMATS = {
    "turtle": "turtle",
    "ntriples": "nt",
    "nquads": "nquads",
    "trig": "trig",
    "jsonld": "json-ld",
    "rdfxml": "xml",
}


def construct(format_name: str, max_rows: int = 100, prefixes=None, data: str = GRAPH):
    store = ox.Store()
    store.load(data.encode(), ox.RdfFormat.TURTLE)
    return serialize_answer(
        store.query("CONSTRUCT WHERE { ?s ?p ?o }"),
        results_format="json",
        graph_format=format_name,
        max_rows=max_rows,
        prefixes=prefixes,
    )


def rdflib_graph(body: bytes, format_name: str) -> rdflib.Graph:
    if format_name in ("nquads", "trig"):
        dataset = rdflib.Dataset()
        dataset.parse(data=body, format=RDFLIB_FORMATS[format_name])
        graph = rdflib.Graph()
        for s, p, o, _ in dataset.quads():
            graph.add((s, p, o))
        return graph
    return rdflib.Graph().parse(data=body, format=RDFLIB_FORMATS[format_name])


@pytest.mark.parametrize("format_name", sorted(RDF_MEDIA_TYPES))
def test_graph_parses_back_isomorphic(format_name):
    answer = construct(format_name, prefixes={"ex": "http://example.org/"})
    expected = rdflib.Graph().parse(data=GRAPH, format="turtle")
    assert isomorphic(rdflib_graph(answer.body, format_name), expected)
    assert (answer.kind, answer.count, answer.truncated) == ("graph", 6, False)
    assert answer.media_type == RDF_MEDIA_TYPES[format_name]


@pytest.mark.parametrize("format_name", sorted(RDF_MEDIA_TYPES))
def test_graph_parses_back_with_pyoxigraph(format_name):
    answer = construct(format_name)
    parsed = list(ox.parse(answer.body, ox.RdfFormat.from_media_type(answer.media_type)))
    assert len(parsed) == 6


def test_turtle_declares_only_the_prefixes_it_uses():
    prefixes = {"ex": "http://example.org/", "unused": "http://unused.example/"}
    body = construct("turtle", prefixes=prefixes).body.decode()
    assert "@prefix ex: <http://example.org/> ." in body
    assert "unused" not in body
    assert "ex:alice" in body


@pytest.mark.parametrize("format_name", ["ntriples", "turtle"])
def test_graph_cap(format_name):
    exactly = construct(format_name, max_rows=6)
    assert (exactly.count, exactly.truncated) == (6, False)
    cut = construct(format_name, max_rows=5)
    assert (cut.count, cut.truncated) == (5, True)
    assert len(rdflib_graph(cut.body, format_name)) == 5


GRAPHS = (
    GRAPH
    + """\
@prefix ex: <http://example.org/> .
ex:alice ex:note "line one\\nline two\\r" , "tab \\t é 🎉 \\u0001" ; ex:age 7 .
"""
)
"""The same data again in a named graph, plus literals with escapes: a DESCRIBE over the union
of graphs gives some triples twice."""


def graph_store() -> ox.Store:
    store = ox.Store()
    store.load(GRAPH.encode(), ox.RdfFormat.TURTLE)
    store.load(GRAPHS.encode(), ox.RdfFormat.TURTLE, to_graph=N("http://example.org/graph"))
    return store


def graph_answer(store: ox.Store, query: str, max_rows: int, *, native: bool):
    evaluate = functools.partial(store.query, query, use_default_graph_as_union=True)
    return serialize_answer(
        evaluate(),
        results_format="json",
        graph_format="ntriples",
        max_rows=max_rows,
        evaluate_again=evaluate if native else None,
    )


@pytest.mark.parametrize("max_rows", [0, 3, 100])
@pytest.mark.parametrize(
    "query", ["CONSTRUCT WHERE { ?s ?p ?o }", "DESCRIBE <http://example.org/alice>"]
)
def test_pyoxigraph_writes_the_same_ntriples_as_the_writer_here(query, max_rows):
    store = graph_store()
    native = graph_answer(store, query, max_rows, native=True)
    here = graph_answer(store, query, max_rows, native=False)
    assert (native.body, native.count, native.truncated) == (
        here.body,
        here.count,
        here.truncated,
    )
    distinct = len(set(store.query(query, use_default_graph_as_union=True)))
    assert (native.count, native.truncated) == (min(max_rows, distinct), distinct > max_rows)


def test_ntriples_over_the_native_budget_are_written_here(monkeypatch):
    store = graph_store()
    query = "CONSTRUCT WHERE { ?s ?p ?o }"
    here = graph_answer(store, query, 100, native=False)
    monkeypatch.setattr(results, "NATIVE_BYTES", 60)
    answer = graph_answer(store, query, 100, native=True)
    assert (answer.body, answer.count, answer.truncated) == (here.body, here.count, False)


def test_duplicate_triples_are_written_and_counted_once():
    triple = ox.Triple(N("http://a.example/"), N("http://b.example/"), L("c"))
    answer = serialize_answer(
        [triple, triple, triple], results_format="json", graph_format="ntriples", max_rows=1
    )
    assert (answer.count, answer.truncated) == (1, False)
    assert answer.body == b'<http://a.example/> <http://b.example/> "c" .\n'


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ('<http://a.example/> <http://b.example/p/> "v" .', "no XML local name"),
        ('<http://a.example/> <http://b.example/p> "bell \\u0007" .', "not allowed"),
        ('<http://a.example/> <http://b.example/p> "a\\rb" .', "carriage return"),
    ],
)
def test_rdfxml_refuses_what_it_cannot_carry(data, reason):
    with pytest.raises(NotAcceptable, match=reason) as raised:
        construct("rdfxml", data=data)
    assert "text/turtle" in raised.value.offered
    assert RDF_MEDIA_TYPES["rdfxml"] not in raised.value.offered


def test_jsonld_refuses_triple_terms():
    triple = ox.Triple(N("http://a.example/"), N("http://b.example/"), TRICKY_TERMS[-1])
    with pytest.raises(NotAcceptable, match="application/ld\\+json"):
        serialize_answer([triple], results_format="json", graph_format="jsonld", max_rows=5)


# --- arguments ---------------------------------------------------------------------------------


def test_unknown_format_and_negative_cap_are_programming_errors():
    with pytest.raises(ValueError, match="unknown format 'html'"):
        serialize_answer(True, results_format="html", graph_format="turtle", max_rows=1)
    with pytest.raises(ValueError, match="must not be negative"):
        serialize_answer(True, results_format="json", graph_format="turtle", max_rows=-1)


def test_media_type_tables_are_read_only():
    assert RESULTS_MEDIA_TYPES["json"] == "application/sparql-results+json"
    assert RDF_MEDIA_TYPES["jsonld"] == "application/ld+json"
    with pytest.raises(TypeError):
        RESULTS_MEDIA_TYPES["json"] = "text/plain"
