"""The W3C SPARQL 1.1 query evaluation tests, run through the protocol against one real server.

The server (``w3c_query_server`` in ``conftest.py``) holds every data file of the suites in a
named graph called by the file's published IRI (``tests/w3c_manifest.py``), with
``--default-graph data``: its own default graph is empty. Each test then asks for exactly its
dataset with the SPARQL 1.1 Protocol: ``default-graph-uri`` for each ``qt:data`` file (their
merge is the default graph) and ``named-graph-uri`` for each ``qt:graphData`` file. A test with
neither names one graph the server does not hold, so its dataset is empty. (A file that is both
``qt:data`` and ``qt:graphData`` is one graph; only exists-graph-variable has one, with no blank
nodes, so no blank node is shared where the test means two.) A query with its own
``FROM``/``FROM NAMED`` is sent without protocol parameters, which would override it, and its
dataset clause names the published graphs.

The query is sent as written after a ``BASE`` line giving the query file's published IRI, the
base the tests assume: ``GRAPH <data.ttl>`` then names the graph of ``data.ttl`` (the endpoint's
own base would be its URL). Answers are asked for as SPARQL JSON results or N-Triples.

Comparison: solutions as multisets, blank nodes up to renaming, literals term by term (lexical
form, datatype, language tag compared case-insensitively, as RDF 1.1 says); in order when the
query ends with ORDER BY. Graphs by isomorphism. Expected results come as SPARQL XML or JSON
results, as result sets in the DAWG ``rs:`` vocabulary (Turtle or RDF/XML), or as graphs.

Where pyoxigraph answers otherwise than the W3C expects, the test is listed in
`KNOWN_DIFFERENCES` with the reason and a check that the answer is wrong in exactly that way;
nothing is skipped. The session summary (``conftest.py``) counts passed tests and known
engine differences per suite.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pyoxigraph as ox
import pytest
import requests
from rdflib import RDF, XSD, BNode, Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic

from communique.query_text import inspect_query
from tests.w3c_manifest import (
    PUBLISHED_BASE,
    QUERY_SUITES,
    ManifestEntry,
    read_manifest,
    read_rdf_file,
)

RS = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/result-set#")
EVALUATION_SUITES = tuple(suite for suite in QUERY_SUITES if suite != "syntax-query")
TESTS = [
    entry
    for suite in EVALUATION_SUITES
    for entry in read_manifest(suite)
    if entry.kind == "QueryEvaluationTest"
]
EMPTY_GRAPH = PUBLISHED_BASE + "no-such-graph"
"""A graph the server does not hold: as the only default graph, an empty dataset."""

RESULTS_MEDIA_TYPE = "application/sparql-results+json"
GRAPH_MEDIA_TYPE = "application/n-triples"
ACCEPT = f"{RESULTS_MEDIA_TYPE}, {GRAPH_MEDIA_TYPE}"
SUFFIX_TO_RESULTS_FORMAT = {".srx": ox.QueryResultsFormat.XML, ".srj": ox.QueryResultsFormat.JSON}
TOP_LEVEL_ORDER_BY = re.compile(r"\bORDER\s+BY\b", re.IGNORECASE)


# --- answers ----------------------------------------------------------------------------------


@dataclass
class Answer:
    """What a query answered: a boolean, a table of solutions or a graph."""

    boolean: bool | None = None
    variables: frozenset[str] = frozenset()
    rows: list[dict[str, object]] = field(default_factory=list)
    graph: Graph | None = None

    def describe(self) -> str:
        if self.boolean is not None:
            return f"ASK: {self.boolean}"
        if self.graph is not None:
            return "\n".join(sorted(f"{s.n3()} {p.n3()} {o.n3()} ." for s, p, o in self.graph))
        header = " ".join(sorted(self.variables))
        lines = [" ".join(f"?{k}={v.n3()}" for k, v in sorted(row.items())) for row in self.rows]
        return "\n".join([f"variables: {header}", *lines])


def rdflib_term(term: object) -> object:
    """An rdflib term equal to a pyoxigraph term: lexical forms kept as written, simple
    literals typed xsd:string, language tags in lower case."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode("value-" + term.value)
    if term.language:
        return Literal(term.value, lang=term.language.lower(), normalize=False)
    return Literal(term.value, datatype=URIRef(term.datatype.value), normalize=False)


def answer_from_results(results: object) -> Answer:
    if isinstance(results, ox.QueryBoolean):
        return Answer(boolean=bool(results))
    names = [variable.value for variable in results.variables]
    rows = [
        {name: rdflib_term(solution[name]) for name in names if solution[name] is not None}
        for solution in results
    ]
    return Answer(variables=frozenset(names), rows=rows)


def answer_from_graph(triples: list[ox.Triple]) -> Answer:
    graph = Graph()
    for triple in triples:
        graph.add(tuple(rdflib_term(term) for term in triple))
    result_set = next(graph.subjects(RDF.type, RS.ResultSet), None)
    if result_set is None:
        return Answer(graph=graph)
    return answer_from_result_set(graph, result_set)


def answer_from_result_set(graph: Graph, result_set: object) -> Answer:
    """A result set written in the DAWG result-set vocabulary (``rs:``)."""
    boolean = graph.value(result_set, RS.boolean)
    if boolean is not None:
        return Answer(boolean=boolean.toPython())
    solutions = sorted(
        graph.objects(result_set, RS.solution),
        key=lambda solution: int(graph.value(solution, RS["index"]) or 0),
    )
    rows = [
        {
            str(graph.value(binding, RS.variable)): graph.value(binding, RS.value)
            for binding in graph.objects(solution, RS.binding)
        }
        for solution in solutions
    ]
    variables = frozenset(str(v) for v in graph.objects(result_set, RS.resultVariable))
    return Answer(variables=variables, rows=rows)


def expected_answer(test: ManifestEntry) -> Answer:
    path = test.result
    if path.suffix in SUFFIX_TO_RESULTS_FORMAT:
        return answer_from_results(
            ox.parse_query_results(path=path, format=SUFFIX_TO_RESULTS_FORMAT[path.suffix])
        )
    return answer_from_graph(read_rdf_file(path))


def answer_from_response(response: requests.Response) -> Answer:
    media_type = response.headers["Content-Type"].split(";")[0].strip()
    if media_type == GRAPH_MEDIA_TYPE:
        quads = ox.parse(response.content, format=ox.RdfFormat.N_TRIPLES)
        return answer_from_graph([quad.triple for quad in quads])
    assert media_type == RESULTS_MEDIA_TYPE
    return answer_from_results(
        ox.parse_query_results(response.content, format=ox.QueryResultsFormat.JSON)
    )


# --- comparing --------------------------------------------------------------------------------


def same_answer(actual: Answer, expected: Answer, *, ordered: bool) -> bool:
    if expected.boolean is not None or actual.boolean is not None:
        return actual.boolean == expected.boolean
    if expected.graph is not None or actual.graph is not None:
        return (
            actual.graph is not None
            and expected.graph is not None
            and isomorphic(actual.graph, expected.graph)
        )
    return actual.variables == expected.variables and isomorphic(
        solutions_graph(actual.rows, ordered), solutions_graph(expected.rows, ordered)
    )


def solutions_graph(rows: list[dict[str, object]], ordered: bool) -> Graph:
    """The solutions as a graph, so that graph isomorphism compares them up to blank node
    renaming: one node per solution (a multiset stays one), its index when order counts."""
    graph = Graph()
    for index, row in enumerate(rows):
        solution = BNode()
        graph.add((solution, RDF.type, RS.ResultSolution))
        if ordered:
            graph.add((solution, RS["index"], Literal(index)))
        for name, value in row.items():
            binding = BNode()
            graph.add((solution, RS.binding, binding))
            graph.add((binding, RS.variable, Literal(name, datatype=XSD.string)))
            graph.add((binding, RS.value, value))
    return graph


def is_ordered(query: str) -> bool:
    """True when the query's solutions are ordered: ORDER BY after its last closing brace."""
    return bool(TOP_LEVEL_ORDER_BY.search(query, query.rfind("}") + 1))


# --- known engine differences ---------------------------------------------------------------

INTEGER_DATATYPES = (
    "integer", "nonPositiveInteger", "negativeInteger", "long", "int", "short", "byte",
    "nonNegativeInteger", "unsignedLong", "unsignedInt", "unsignedShort", "unsignedByte",
    "positiveInteger",
)  # fmt: skip
NUMERIC_DATATYPES = frozenset(XSD[name] for name in ("decimal", *INTEGER_DATATYPES))
FLOATING_DATATYPES = frozenset({XSD.float, XSD.double})
BOOLEAN_LEXICAL_TO_VALUE = {"true": "true", "1": "true", "false": "false", "0": "false"}


def by_value(term: object) -> object:
    """A numeric or boolean literal with its lexical form replaced by a canonical one."""
    if not isinstance(term, Literal) or term.datatype is None:
        return term
    lexical = str(term)
    try:
        if term.datatype in NUMERIC_DATATYPES:
            canonical = format(Decimal(lexical).normalize(), "f")
        elif term.datatype in FLOATING_DATATYPES:
            canonical = repr(float(lexical))
        elif term.datatype == XSD.boolean:
            canonical = BOOLEAN_LEXICAL_TO_VALUE[lexical]
        else:
            return term
    except (ArithmeticError, ValueError, KeyError):
        return term
    return Literal(canonical, datatype=term.datatype, normalize=False)


def answer_by_value(answer: Answer) -> Answer:
    if answer.graph is not None:
        graph = Graph()
        for triple in answer.graph:
            graph.add(tuple(by_value(term) for term in triple))
        return Answer(graph=graph)
    rows = [{name: by_value(value) for name, value in row.items()} for row in answer.rows]
    return Answer(answer.boolean, answer.variables, rows)


def same_by_value(actual: Answer, expected: Answer, *, ordered: bool) -> bool:
    """The answers agree once numbers and booleans are compared by value."""
    return same_answer(answer_by_value(actual), answer_by_value(expected), ordered=ordered)


def no_solutions(actual: Answer, expected: Answer, *, ordered: bool) -> bool:
    return not actual.rows and bool(expected.rows)


def false_instead_of_true(actual: Answer, expected: Answer, *, ordered: bool) -> bool:
    return actual.boolean is False and expected.boolean is True


def graph_variable_left_unbound(actual: Answer, expected: Answer, *, ordered: bool) -> bool:
    """A solution lacks ?g, the GRAPH variable, which every expected solution binds."""
    return any("g" not in row for row in actual.rows) and all("g" in r for r in expected.rows)


def blank_node_shared_by_solutions(actual: Answer, expected: Answer, *, ordered: bool) -> bool:
    """One blank node label is bound in several solutions, where each should have its own."""
    labels = [{v for v in row.values() if isinstance(v, BNode)} for row in actual.rows]
    return any(labels[i] & labels[j] for i in range(len(labels)) for j in range(i))


@dataclass(frozen=True)
class KnownDifference:
    """How pyoxigraph's answer to a test differs from the W3C's, checked by `holds`."""

    reason: str
    holds: Callable[..., bool]


LEXICAL_FORMS = KnownDifference(
    "pyoxigraph keeps numbers and booleans by value (in the store and in query constants), so "
    '"1.0"^^xsd:decimal, "1.0E2"^^xsd:double and "0"^^xsd:boolean come back as "1", "100" '
    'and "false", and computed doubles are written without an exponent (32100 for 3.21E4): '
    "same values, other lexical forms",
    same_by_value,
)
ZERO_LENGTH_PATH_FROM_ABSENT_TERM = KnownDifference(
    "a zero-length path (p* or p?) from a constant answers nothing when the constant is not in "
    "the graph; SPARQL 1.1 (§18.5 ZeroLengthPath, test added after the Recommendation) binds "
    "the constant itself",
    no_solutions,
)
KNOWN_DIFFERENCES = {
    "aggregates/agg-sum-02": LEXICAL_FORMS,
    "aggregates/agg-avg-02": LEXICAL_FORMS,
    "aggregates/agg-min-01": LEXICAL_FORMS,
    "aggregates/agg-min-02": LEXICAL_FORMS,
    "aggregates/agg-max-01": LEXICAL_FORMS,
    "aggregates/agg-max-02": LEXICAL_FORMS,
    "aggregates/agg-err-02": LEXICAL_FORMS,
    "aggregates/agg-max-distinct": LEXICAL_FORMS,
    "aggregates/agg-min-distinct": LEXICAL_FORMS,
    "cast/cast-bool": LEXICAL_FORMS,
    "cast/cast-int": LEXICAL_FORMS,
    "cast/cast-float": LEXICAL_FORMS,
    "cast/cast-double": LEXICAL_FORMS,
    "cast/cast-decimal": LEXICAL_FORMS,
    "cast/cast-string": LEXICAL_FORMS,
    "functions/plus-1-corrected": LEXICAL_FORMS,
    "functions/plus-2-corrected": LEXICAL_FORMS,
    "functions/coalesce01": LEXICAL_FORMS,
    "property-path/zero_or_more_set_start": ZERO_LENGTH_PATH_FROM_ABSENT_TERM,
    "property-path/zero_or_more_set_end": ZERO_LENGTH_PATH_FROM_ABSENT_TERM,
    "property-path/zero_or_one_set_start": ZERO_LENGTH_PATH_FROM_ABSENT_TERM,
    "property-path/zero_or_one_set_end": ZERO_LENGTH_PATH_FROM_ABSENT_TERM,
    "aggregates/agg-groupconcat-04": KnownDifference(
        'GROUP_CONCAT of literals sharing a language tag keeps the tag ("1 2"@en, as SPARQL 1.2 '
        "proposes); SPARQL 1.1 returns a simple literal, so the test's FILTER is false",
        false_instead_of_true,
    ),
    "aggregates/agg-groupconcat-06": KnownDifference(
        'GROUP_CONCAT of one language-tagged literal keeps the tag ("1"@en); SPARQL 1.1 '
        "returns a simple literal, so the test's FILTER is false",
        false_instead_of_true,
    ),
    "aggregates/agg-empty-group-count-graph": KnownDifference(
        "COUNT without GROUP BY in a subquery inside GRAPH ?g gives one solution without ?g "
        "instead of one per named graph (0 for the graph where nothing matches)",
        graph_variable_left_unbound,
    ),
    "bindings/graph": KnownDifference(
        "VALUES inside GRAPH ?g that binds ?g: the row with ?g UNDEF comes back with ?g unbound "
        "instead of once per named graph",
        graph_variable_left_unbound,
    ),
    "functions/bnode01": KnownDifference(
        "BNODE(?s) gives the same blank node for the same string in every solution; it must be "
        "the same only within one solution",
        blank_node_shared_by_solutions,
    ),
    "negation/graph-minus": KnownDifference(
        "inside GRAPH ?g, MINUS treats the graph variable as shared by both sides, so it removes "
        "solutions whose other variables are disjoint",
        no_solutions,
    ),
}
"""Tests where the engine (pyoxigraph 0.5) answers otherwise than the W3C expects, and how:
each test asserts that its answer is still wrong in exactly that way, so an engine upgrade
that fixes one makes its test fail until the entry is removed."""


# --- running ----------------------------------------------------------------------------------


def dataset_parameters(test: ManifestEntry, query: str) -> dict[str, list[str]]:
    """The protocol dataset of a test, or none when the query's own FROM must apply."""
    info = inspect_query(query)
    if info.from_graphs or info.from_named_graphs:
        return {}
    default_graphs = list(test.data) or ([] if test.graph_data else [EMPTY_GRAPH])
    return {"default-graph-uri": default_graphs, "named-graph-uri": list(test.graph_data)}


def run_test(server, test: ManifestEntry, text: str) -> requests.Response:
    """Send the query `text` of `test`, after a BASE line giving its published IRI."""
    query = f"BASE <{test.query_iri}>\n{text}"
    return requests.post(
        server.sparql,
        params=dataset_parameters(test, query),
        data=query.encode("utf-8"),
        headers={"Content-Type": "application/sparql-query", "Accept": ACCEPT},
        timeout=30,
    )


def entry_id(test: ManifestEntry) -> str:
    return f"{test.suite}/{test.name}"


@pytest.mark.parametrize("test", TESTS, ids=entry_id)
def test_query_evaluation(w3c_query_server, record_property, test: ManifestEntry):
    record_property("w3c_suite", test.suite)
    text = test.query.read_text(encoding="utf-8")
    response = run_test(w3c_query_server, test, text)
    assert response.status_code == 200, response.text
    actual = answer_from_response(response)
    expected = expected_answer(test)
    ordered = is_ordered(text)
    comparison = f"expected:\n{expected.describe()}\n\nactual:\n{actual.describe()}"
    known = KNOWN_DIFFERENCES.get(entry_id(test))
    if known is None:
        assert same_answer(actual, expected, ordered=ordered), comparison
        return
    record_property("w3c_outcome", "known engine difference")
    assert not same_answer(actual, expected, ordered=ordered), (
        "the engine now answers as the W3C expects: remove the test from KNOWN_DIFFERENCES"
    )
    assert known.holds(actual, expected, ordered=ordered), (
        f"the answer is wrong otherwise than documented ({known.reason}):\n{comparison}"
    )


def test_known_differences_name_manifest_tests():
    assert set(KNOWN_DIFFERENCES) <= {entry_id(test) for test in TESTS}


# --- the comparison itself ----------------------------------------------------------------------

EX_A, EX_B = URIRef("http://example.org/a"), URIRef("http://example.org/b")


def table(*rows: dict[str, object]) -> Answer:
    return Answer(variables=frozenset({"x", "y"}), rows=list(rows))


def test_comparison_counts_repeated_solutions():
    assert not same_answer(table({"x": EX_A}), table({"x": EX_A}, {"x": EX_A}), ordered=False)


def test_comparison_renames_blank_nodes_the_same_way_in_every_solution():
    one, two, three = BNode("one"), BNode("two"), BNode("three")
    answer = table({"x": one, "y": one}, {"x": two})
    assert same_answer(answer, table({"x": two, "y": two}, {"x": three}), ordered=False)
    assert not same_answer(answer, table({"x": two, "y": three}, {"x": two}), ordered=False)


def test_comparison_keeps_order_only_for_ordered_results():
    forwards, backwards = table({"x": EX_A}, {"x": EX_B}), table({"x": EX_B}, {"x": EX_A})
    assert same_answer(forwards, backwards, ordered=False)
    assert not same_answer(forwards, backwards, ordered=True)


def test_comparison_keeps_lexical_forms_unless_by_value():
    padded = table({"x": Literal("01", datatype=XSD.integer, normalize=False)})
    plain = table({"x": Literal("1", datatype=XSD.integer, normalize=False)})
    assert not same_answer(padded, plain, ordered=False)
    assert same_by_value(padded, plain, ordered=False)
