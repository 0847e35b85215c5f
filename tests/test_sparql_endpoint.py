"""The SPARQL endpoint over HTTP, against a real `communique serve`.

Answers are checked against pyoxigraph evaluating the same query on the same files in this
process: solutions compared row by row (blank node labels aside), graphs by isomorphism.
"""

import csv
import io
import threading
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyoxigraph as ox
import pytest
import requests
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDF, VOID
from SPARQLWrapper import (
    CSV,
    JSON,
    JSONLD,
    POST,
    POSTDIRECTLY,
    RDFXML,
    TSV,
    TURTLE,
    XML,
    SPARQLWrapper,
)

from communique.namespaces import CQ, SD
from tests.conftest import EX, ITEM_COUNT, RESULT_CAP, items_dataset

PREFIX = f"PREFIX ex: <{EX}>\n"
SELECT_QUERY = PREFIX + (
    "SELECT ?s ?name ?extra WHERE { ?s ex:name ?name "
    "OPTIONAL { ?s ex:age|ex:note|ex:height ?extra } } ORDER BY ?name ?extra"
)
ASK_TRUE = PREFIX + "ASK { ex:bob ex:age 42 }"
ASK_FALSE = PREFIX + "ASK { ex:bob ex:age 43 }"
CONSTRUCT_QUERY = PREFIX + (
    "CONSTRUCT { ?s ex:called ?name ; ex:friend ?o } "
    "WHERE { ?s ex:name ?name OPTIONAL { ?s ex:knows ?o } }"
)
DESCRIBE_QUERY = PREFIX + "DESCRIBE ex:carol ex:bob"
COUNT_ALL = "SELECT (COUNT(*) AS ?n) WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }"
ITEMS_QUERY = PREFIX + "SELECT ?item ?label WHERE { ?item ex:label ?label } ORDER BY ?item"

RESULTS_FORMAT_OF_MEDIA_TYPE = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
    "text/csv": ox.QueryResultsFormat.CSV,
}
RDFLIB_FORMAT_OF_MEDIA_TYPE = {
    "text/turtle": "turtle",
    "application/n-triples": "nt",
    "application/n-quads": "nquads",
    "application/trig": "trig",
    "application/ld+json": "json-ld",
    "application/rdf+xml": "xml",
}
NUMERIC_DATATYPES = {
    "http://www.w3.org/2001/XMLSchema#" + name
    for name in ("integer", "decimal", "double", "float", "negativeInteger", "int", "long")
}
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


# --- reference answers and comparisons --------------------------------------------------------


@pytest.fixture(scope="module")
def reference(dataset_files) -> ox.Store:
    store = ox.Store()
    for path in dataset_files:
        store.load(path=str(path), format=ox.RdfFormat.TRIG)
    return store


def expected_answer(reference: ox.Store, query: str):
    return reference.query(query, use_default_graph_as_union=True)


def canonical_term(term) -> object:
    """A comparable form of a term: blank nodes all alike, numbers by value."""
    if term is None:
        return ""
    if isinstance(term, ox.BlankNode):
        return "_:"
    if isinstance(term, ox.Literal) and term.datatype.value in NUMERIC_DATATYPES:
        return (term.datatype.value, Decimal(term.value.replace("e", "E")))
    return str(term)


def solution_rows(body: bytes, media_type: str) -> list[tuple]:
    """Rows of a SPARQL results document, in order, terms made comparable."""
    results_format = RESULTS_FORMAT_OF_MEDIA_TYPE[media_type]
    if results_format == ox.QueryResultsFormat.CSV:
        rows = list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
        return [tuple("_:" if cell.startswith("_:") else cell for cell in row) for row in rows]
    results = ox.parse_query_results(body, format=results_format)
    names = [variable.value for variable in results.variables]
    return [tuple(names)] + [
        tuple(canonical_term(solution[name]) for name in names) for solution in results
    ]


def boolean_of(body: bytes, media_type: str) -> bool:
    return bool(ox.parse_query_results(body, format=RESULTS_FORMAT_OF_MEDIA_TYPE[media_type]))


def rdf_graph(body: bytes, media_type: str) -> Graph:
    rdflib_format = RDFLIB_FORMAT_OF_MEDIA_TYPE[media_type]
    graph = Graph()
    if rdflib_format in ("nquads", "trig"):
        dataset = Dataset()
        dataset.parse(data=body, format=rdflib_format)
        for quad in dataset.quads():
            graph.add(quad[:3])
    else:
        graph.parse(data=body, format=rdflib_format)
    return graph


def graph_of_triples(triples) -> Graph:
    data = ox.serialize([ox.Quad(*t) for t in triples], format=ox.RdfFormat.N_TRIPLES)
    return Graph().parse(data=data, format="nt")


def media_type_of(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip()


# --- SPARQLWrapper: every form in every format ------------------------------------------------

METHODS = {
    "GET": lambda wrapper: None,
    "POST form": lambda wrapper: wrapper.setMethod(POST),
    "POST direct": lambda wrapper: (
        wrapper.setMethod(POST),
        wrapper.setRequestMethod(POSTDIRECTLY),
    ),
}


def ask_with_sparqlwrapper(server, query, method, return_format=None, accept=None):
    wrapper = SPARQLWrapper(server.sparql)
    wrapper.setQuery(query)
    METHODS[method](wrapper)
    if return_format:
        wrapper.setReturnFormat(return_format)
    if accept:
        wrapper.setOnlyConneg(True)
        wrapper.addCustomHttpHeader("Accept", accept)
    response = wrapper.query().response
    return response.read(), media_type_of(response.headers["Content-Type"])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("return_format", "media_type", "oxigraph_format"),
    [
        (JSON, "application/sparql-results+json", ox.QueryResultsFormat.JSON),
        (XML, "application/sparql-results+xml", ox.QueryResultsFormat.XML),
        (CSV, "text/csv", ox.QueryResultsFormat.CSV),
        (TSV, "text/tab-separated-values", ox.QueryResultsFormat.TSV),
    ],
)
def test_select_in_every_results_format(
    server, reference, method, return_format, media_type, oxigraph_format
):
    body, received = ask_with_sparqlwrapper(server, SELECT_QUERY, method, return_format)
    assert received == media_type
    expected = expected_answer(reference, SELECT_QUERY).serialize(format=oxigraph_format)
    assert solution_rows(body, received) == solution_rows(expected, media_type)
    assert len(solution_rows(body, received)) == 1 + 5


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("return_format", "media_type"),
    [(JSON, "application/sparql-results+json"), (XML, "application/sparql-results+xml")],
)
@pytest.mark.parametrize(("query", "answer"), [(ASK_TRUE, True), (ASK_FALSE, False)])
def test_ask_in_every_boolean_format(server, method, return_format, media_type, query, answer):
    body, received = ask_with_sparqlwrapper(server, query, method, return_format)
    assert received == media_type
    assert boolean_of(body, received) is answer


GRAPH_CASES = [
    (TURTLE, None, "text/turtle"),
    (RDFXML, None, "application/rdf+xml"),
    (JSONLD, None, "application/ld+json"),
    (TURTLE, "application/n-triples", "application/n-triples"),
    (TURTLE, "application/trig", "application/trig"),
    (TURTLE, "application/n-quads", "application/n-quads"),
]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("return_format", "accept", "media_type"), GRAPH_CASES)
@pytest.mark.parametrize("query", [CONSTRUCT_QUERY, DESCRIBE_QUERY], ids=["CONSTRUCT", "DESCRIBE"])
def test_graph_queries_in_every_rdf_format(
    server, reference, method, return_format, accept, media_type, query
):
    body, received = ask_with_sparqlwrapper(server, query, method, return_format, accept)
    assert received == media_type
    expected = graph_of_triples(expected_answer(reference, query))
    assert len(expected) > 3
    assert isomorphic(rdf_graph(body, received), expected)


def test_sparqlwrapper_converts_json_answers(server):
    wrapper = SPARQLWrapper(server.sparql)
    wrapper.setReturnFormat(JSON)
    wrapper.setQuery(ASK_TRUE)
    assert wrapper.query().convert()["boolean"] is True
    wrapper.setQuery(PREFIX + "SELECT ?name WHERE { ex:bob ex:name ?name }")
    bindings = wrapper.query().convert()["results"]["bindings"]
    assert bindings == [{"name": {"type": "literal", "value": "Bob", "xml:lang": "en"}}]


# --- content negotiation over HTTP ------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "accept", "format_param", "status", "media_type"),
    [
        (SELECT_QUERY, None, None, 200, "application/sparql-results+json"),
        (SELECT_QUERY, "*/*", None, 200, "application/sparql-results+json"),
        (SELECT_QUERY, FIREFOX, None, 200, "application/sparql-results+json"),
        (SELECT_QUERY, "application/json", None, 200, "application/sparql-results+json"),
        (
            SELECT_QUERY,
            "text/csv;q=0.4, text/tab-separated-values;q=0.5",
            None,
            200,
            "text/tab-separated-values",
        ),
        (SELECT_QUERY, "application/xml", None, 200, "application/sparql-results+xml"),
        (SELECT_QUERY, "text/turtle", "csv", 200, "text/csv"),
        (
            SELECT_QUERY,
            None,
            "application/sparql-results+xml",
            200,
            "application/sparql-results+xml",
        ),
        (ASK_TRUE, None, None, 200, "application/sparql-results+json"),
        (ASK_TRUE, "application/sparql-results+xml", None, 200, "application/sparql-results+xml"),
        (CONSTRUCT_QUERY, None, None, 200, "text/turtle"),
        (CONSTRUCT_QUERY, FIREFOX, None, 200, "text/turtle"),
        (CONSTRUCT_QUERY, "application/json", None, 200, "application/ld+json"),
        (CONSTRUCT_QUERY, "text/plain", None, 200, "application/n-triples"),
        (CONSTRUCT_QUERY, None, "nt", 200, "application/n-triples"),
        (DESCRIBE_QUERY, "application/rdf+xml", None, 200, "application/rdf+xml"),
        (DESCRIBE_QUERY, None, "json", 200, "application/ld+json"),
        (ASK_TRUE, "text/csv", None, 200, "text/csv"),
        (ASK_TRUE, "text/turtle", None, 406, "application/json"),
        (SELECT_QUERY, "text/turtle", None, 406, "application/json"),
        (CONSTRUCT_QUERY, "application/sparql-results+json", None, 406, "application/json"),
        (CONSTRUCT_QUERY, None, "csv", 406, "application/json"),
    ],
)
def test_content_negotiation(server, query, accept, format_param, status, media_type):
    params = {"query": query} | ({"format": format_param} if format_param else {})
    headers = {"Accept": accept} if accept else {}
    response = requests.get(server.sparql, params=params, headers=headers, timeout=10)
    assert response.status_code == status
    assert media_type_of(response.headers["Content-Type"]) == media_type
    assert "Accept" in response.headers["Vary"]
    if status == 406:
        assert response.json()["offered"]
        assert all("/" in offered for offered in response.json()["offered"])


def test_not_acceptable_lists_the_offered_types(server):
    response = requests.get(
        server.sparql, params={"query": ASK_TRUE}, headers={"Accept": "image/png"}, timeout=10
    )
    assert response.status_code == 406
    assert response.json()["offered"] == [
        "application/sparql-results+json",
        "application/sparql-results+xml",
        "text/csv",
        "text/tab-separated-values",
    ]


def test_text_results_declare_utf8(server):
    response = requests.get(
        server.sparql, params={"query": SELECT_QUERY}, headers={"Accept": "text/csv"}, timeout=10
    )
    assert response.headers["Content-Type"].replace(" ", "").lower() == "text/csv;charset=utf-8"
    assert "ümlaut" in response.content.decode("utf-8")


def test_head_has_the_headers_of_get_and_no_body(server):
    params = {"query": SELECT_QUERY}
    headers = {"Accept-Encoding": "identity"}
    got = requests.get(server.sparql, params=params, headers=headers, timeout=10)
    head = requests.head(server.sparql, params=params, headers=headers, timeout=10)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    for name in ("Content-Type", "Content-Length", "ETag", "Last-Modified", "Cache-Control"):
        assert head.headers[name] == got.headers[name]
    assert int(head.headers["Content-Length"]) == len(got.content)


# --- the dataset ------------------------------------------------------------------------------

NAMES_QUERY = PREFIX + "SELECT ?name WHERE { ?s ex:name ?name }"


def names(server, query=NAMES_QUERY, **params) -> Counter:
    response = requests.get(server.sparql, params={"query": query, **params}, timeout=10)
    assert response.status_code == 200, response.text
    rows = response.json()["results"]["bindings"]
    return Counter(tuple(row[name]["value"] for name in sorted(row)) for row in rows)


def test_the_default_graph_is_the_union_of_all_graphs(server):
    assert names(server) == Counter({("Alice",): 1, ("Bob",): 1, ("Anonymous",): 1, ("Carol",): 1})


def test_default_graph_uri_sets_the_default_graph(server):
    assert names(server, **{"default-graph-uri": EX + "g1"}) == Counter(
        {("Bob",): 1, ("Anonymous",): 1}
    )
    both = names(server, **{"default-graph-uri": [EX + "g1", EX + "g2"]})
    assert both == Counter({("Bob",): 1, ("Anonymous",): 1, ("Carol",): 1})


def test_named_graph_uri_sets_the_named_graphs_and_empties_the_default(server):
    query = (
        PREFIX
        + "SELECT ?g ?name WHERE { { GRAPH ?g { ?s ex:name ?name } } UNION { ?s ex:name ?name } }"
    )
    answer = names(server, query, **{"named-graph-uri": EX + "g2"})
    assert answer == Counter({(EX + "g2", "Carol"): 1})


def test_from_selects_published_graphs(server):
    query = PREFIX + f"SELECT ?name FROM <{EX}g2> WHERE {{ ?s ex:name ?name }}"
    assert names(server, query) == Counter({("Carol",): 1})


def test_protocol_dataset_overrides_from(server):
    query = PREFIX + f"SELECT ?name FROM <{EX}g2> WHERE {{ ?s ex:name ?name }}"
    assert names(server, query, **{"default-graph-uri": EX + "g1"}) == Counter(
        {("Bob",): 1, ("Anonymous",): 1}
    )


def test_protocol_graph_that_is_not_published_is_empty(server):
    assert names(server, **{"default-graph-uri": "http://example.org/nowhere"}) == Counter()


def test_from_outside_the_published_graphs_is_refused(server):
    query = PREFIX + "SELECT ?name FROM <http://example.org/nowhere> WHERE { ?s ex:name ?name }"
    response = requests.get(server.sparql, params={"query": query}, timeout=10)
    assert response.status_code == 400
    assert response.json()["status"] == 400


def test_a_text_accepted_with_a_protocol_dataset_is_still_checked_without_one(server):
    """The endpoint remembers its pre-checks per text: never across the two kinds of dataset."""
    query = PREFIX + "SELECT ?name FROM <http://example.org/elsewhere> WHERE { ?s ex:name ?name }"
    for _ in range(2):
        with_dataset = {"query": query, "default-graph-uri": EX + "g2", "format": "json"}
        answer = requests.get(server.sparql, params=with_dataset, timeout=10)
        assert answer.status_code == 200
        assert answer.json()["results"]["bindings"][0]["name"]["value"] == "Carol"
        refused = requests.get(server.sparql, params={"query": query}, timeout=10)
        assert refused.status_code == 400
        assert "http://example.org/elsewhere" in refused.json()["error"]


# --- read-only --------------------------------------------------------------------------------


def triple_count(server) -> int:
    response = requests.get(server.sparql, params={"query": COUNT_ALL}, timeout=10)
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


UPDATE_REQUESTS = {
    "GET update=": dict(method="GET", params={"update": "CLEAR ALL"}),
    "POST form update=": dict(method="POST", data={"update": "CLEAR ALL"}),
    "POST sparql-update": dict(
        method="POST", data=b"DROP ALL", headers={"Content-Type": "application/sparql-update"}
    ),
    "POST form query and update": dict(
        method="POST", data={"query": "ASK {}", "update": "CLEAR ALL"}
    ),
    "GET query=INSERT": dict(
        method="GET", params={"query": PREFIX + "INSERT DATA { ex:x ex:y ex:z }"}
    ),
    "POST sparql-query DELETE": dict(
        method="POST",
        data=b"DELETE WHERE { ?s ?p ?o }",
        headers={"Content-Type": "application/sparql-query"},
    ),
    "POST form query=CLEAR": dict(method="POST", data={"query": "CLEAR ALL"}),
}


@pytest.mark.parametrize("name", UPDATE_REQUESTS)
def test_updates_are_refused_and_change_nothing(server, name):
    before = triple_count(server)
    response = requests.request(url=server.sparql, timeout=10, **UPDATE_REQUESTS[name])
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["status"] == 400
    assert triple_count(server) == before > 0


def test_update_parameter_is_refused_as_read_only(server):
    response = requests.post(server.sparql, data={"update": "CLEAR ALL"}, timeout=10)
    assert "read-only" in response.json()["error"]


# --- nothing is fetched -----------------------------------------------------------------------


class Canary:
    """A loopback HTTP listener that records every request it gets."""

    def __init__(self):
        self.requests: list[str] = []
        canary = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                canary.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/turtle")
                self.end_headers()
                self.wfile.write(b"<http://example.org/canary> <http://example.org/p> 1 .")

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/sparql"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    listener = Canary()
    yield listener
    listener.http.shutdown()
    listener.http.server_close()


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * WHERE { SERVICE <{url}> { ?s ?p ?o } }",
        "SELECT * WHERE { SERVICE SILENT <{url}> { ?s ?p ?o } }",
        "LOAD <{url}>",
        "LOAD SILENT <{url}> INTO GRAPH <http://example.org/g>",
        "SELECT * FROM <{url}> WHERE { ?s ?p ?o }",
        "SELECT * FROM NAMED <{url}> WHERE { GRAPH ?g { ?s ?p ?o } }",
    ],
)
def test_service_load_and_from_never_reach_the_network(server, canary, query):
    response = requests.post(
        server.sparql, data={"query": query.replace("{url}", canary.url)}, timeout=10
    )
    assert response.status_code == 400
    assert response.json()["error"]
    assert canary.requests == []


def test_protocol_dataset_iris_are_never_fetched(server, canary):
    params = {
        "query": "ASK { ?s ?p ?o }",
        "default-graph-uri": canary.url,
        "named-graph-uri": canary.url,
    }
    response = requests.get(server.sparql, params=params, timeout=10)
    assert response.status_code == 200
    assert response.json()["boolean"] is False
    assert canary.requests == []


# --- limits -----------------------------------------------------------------------------------


def test_truncated_answers_say_so(server):
    response = requests.get(server.sparql, params={"query": ITEMS_QUERY}, timeout=10)
    assert response.status_code == 200
    assert len(response.json()["results"]["bindings"]) == RESULT_CAP < ITEM_COUNT
    assert response.headers["Communique-Result-Truncated"] == "true"
    assert response.headers["Communique-Result-Limit"] == str(RESULT_CAP)


def test_complete_answers_carry_the_limit_only(server):
    response = requests.get(server.sparql, params={"query": SELECT_QUERY}, timeout=10)
    assert response.headers["Communique-Result-Limit"] == str(RESULT_CAP)
    assert "Communique-Result-Truncated" not in response.headers


@pytest.mark.parametrize("content_type", ["application/sparql-query", "form"])
def test_query_over_64_kib_is_too_large(server, content_type):
    query = "# " + "x" * (64 * 1024) + "\nASK {}"
    if content_type == "form":
        response = requests.post(server.sparql, data={"query": query}, timeout=10)
    else:
        response = requests.post(
            server.sparql, data=query.encode(), headers={"Content-Type": content_type}, timeout=10
        )
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_body_far_over_the_limit_is_refused_before_reading(server):
    body = b"ASK {}" + b" " * (1024 * 1024)
    response = requests.post(
        server.sparql, data=body, headers={"Content-Type": "application/sparql-query"}, timeout=10
    )
    assert response.status_code == 413
    assert response.json()["status"] == 413


@pytest.fixture(scope="module")
def slow_server(servers, tmp_path_factory):
    data = tmp_path_factory.mktemp("slow") / "items.trig"
    data.write_text(items_dataset(1000), encoding="utf-8")
    return servers("--data", str(data), "--timeout", "2", "--query-workers", "2")


def test_query_past_the_time_limit_is_stopped_while_others_are_answered(slow_server):
    cartesian = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
    slow: dict[str, object] = {}

    def run_slow():
        started = time.monotonic()
        slow["response"] = requests.get(slow_server.sparql, params={"query": cartesian}, timeout=30)
        slow["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run_slow)
    thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    cheap = requests.get(slow_server.sparql, params={"query": "ASK { ?s ?p ?o }"}, timeout=10)
    cheap_seconds = time.monotonic() - started
    thread.join()
    assert cheap.status_code == 200 and cheap.json()["boolean"] is True
    assert cheap_seconds < 1.0
    response = slow["response"]
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["status"] == 503
    assert int(response.headers["Retry-After"]) >= 0
    assert slow["seconds"] < 2 + 2


# --- caching ----------------------------------------------------------------------------------


def test_etag_gives_304_on_get(server):
    params = {"query": SELECT_QUERY}
    first = requests.get(server.sparql, params=params, timeout=10)
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    again = requests.get(server.sparql, params=params, headers={"If-None-Match": etag}, timeout=10)
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "public, max-age=60"
    assert first.headers["Last-Modified"].endswith(" GMT")


def test_etag_depends_on_query_format_and_dataset(server):
    def etag(**params):
        return requests.get(server.sparql, params=params, timeout=10).headers["ETag"]

    base = etag(query=SELECT_QUERY)
    assert etag(query=SELECT_QUERY) == base
    assert etag(query=SELECT_QUERY, format="csv") != base
    assert etag(query=SELECT_QUERY + " LIMIT 1") != base
    assert etag(query=SELECT_QUERY, **{"default-graph-uri": EX + "g1"}) != base


def test_post_is_never_answered_304(server):
    first = requests.post(server.sparql, data={"query": ASK_TRUE}, timeout=10)
    again = requests.post(
        server.sparql,
        data={"query": ASK_TRUE},
        headers={"If-None-Match": first.headers["ETag"]},
        timeout=10,
    )
    assert first.headers["ETag"] == again.headers["ETag"]
    assert again.status_code == 200


# --- service description ----------------------------------------------------------------------


def service_description(server, **headers) -> tuple[requests.Response, Graph]:
    response = requests.get(server.sparql, headers=headers, timeout=10)
    graph = Graph().parse(data=response.content, format="turtle")
    return response, graph


def test_service_description_describes_the_endpoint(server, reference):
    response, graph = service_description(server, Accept="text/turtle")
    assert media_type_of(response.headers["Content-Type"]) == "text/turtle"
    (service,) = graph.subjects(RDF.type, SD.Service)
    assert graph.value(service, SD.endpoint) == URIRef(server.sparql)
    assert (service, SD.supportedLanguage, SD.SPARQL11Query) in graph
    assert (service, SD.feature, SD.UnionDefaultGraph) in graph
    assert (service, SD.feature, SD.BasicFederatedQuery) not in graph
    assert graph.value(service, CQ.resultLimit) == Literal(RESULT_CAP)
    assert graph.value(service, CQ.queryLengthLimit) == Literal(65536)
    dataset = graph.value(service, SD.defaultDataset)
    named = {
        str(graph.value(entry, SD.name)): graph.value(graph.value(entry, SD.graph), VOID.triples)
        for entry in graph.objects(dataset, SD.namedGraph)
    }
    for name in (EX + "g1", EX + "g2", EX + "g3"):
        expected = len(list(reference.quads_for_pattern(None, None, None, ox.NamedNode(name))))
        assert named[name] == Literal(expected)


def test_service_description_is_the_default_for_no_query(server):
    response, graph = service_description(server)
    assert media_type_of(response.headers["Content-Type"]) == "text/turtle"
    assert len(graph) > 10


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("application/ld+json", "application/ld+json"),
        ("application/rdf+xml", "application/rdf+xml"),
        ("application/n-triples", "application/n-triples"),
    ],
)
def test_service_description_in_other_rdf_formats(server, accept, media_type):
    response = requests.get(server.sparql, headers={"Accept": accept}, timeout=10)
    assert media_type_of(response.headers["Content-Type"]) == media_type
    graph = rdf_graph(response.content, media_type)
    assert (None, SD.endpoint, URIRef(server.sparql)) in graph


def test_browsers_get_a_page_with_a_query_form(server):
    response = requests.get(server.sparql, headers={"Accept": FIREFOX}, timeout=10)
    assert media_type_of(response.headers["Content-Type"]) == "text/html"
    assert '<textarea id="query" name="query"' in response.text


def test_a_browser_running_a_query_gets_readable_results(server):
    response = requests.get(
        server.sparql, params={"query": ASK_TRUE}, headers={"Accept": FIREFOX}, timeout=10
    )
    assert response.status_code == 200
    assert response.json()["boolean"] is True
