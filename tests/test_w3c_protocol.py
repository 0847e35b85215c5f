"""The W3C SPARQL 1.1 Protocol and Service Description tests, replayed against a real server.

Each `mf:ProtocolTest` of ``tests/w3c/sparql11/protocol/manifest.ttl`` is read from the manifest
(requests, headers, bodies, expected status class, format and boolean) and replayed in order on
a server loaded with the test's ``ut:graphData`` (each file in a named graph called by its
``rdfs:label``; ``--default-graph data``, as the tests assume). ``/sparql/`` becomes ``/sparql``.

The endpoint is read-only by design, so the tests that perform updates cannot pass as written:
they are listed in `REFUSED_BY_DESIGN` and asserted to be refused (400, read-only) with the data
left unchanged, which the tests' own follow-up queries show by answering false. The session
summary (see ``conftest.py``) counts passed, refused-by-design and failed tests.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests
from rdflib import RDF, RDFS, Graph, Namespace, URIRef
from rdflib.collection import Collection

MANIFESTS = Path(__file__).parent / "w3c" / "sparql11"
PROTOCOL = MANIFESTS / "protocol"
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
HTS = Namespace("http://www.w3.org/2011/http-statusCodes#")
CNT = Namespace("http://www.w3.org/2011/content#")
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")

REFUSED_BY_DESIGN = {
    "update_dataset_default_graph": "update with using-graph-uri",
    "update_dataset_default_graphs": "update with several using-graph-uri",
    "update_dataset_named_graphs": "update with using-named-graph-uri",
    "update_dataset_full": "update with using-graph-uri and using-named-graph-uri",
    "update_post_form": "update via URL-encoded POST",
    "update_post_direct": "update via application/sparql-update POST",
    "update_base_uri": "update relying on the service's base IRI",
}
"""Tests that expect an update to succeed: the public endpoint refuses every update."""

RESULTS_MEDIA_TYPES = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
RDF_MEDIA_TYPES = {
    "text/turtle",
    "application/n-triples",
    "application/rdf+xml",
    "application/ld+json",
    "application/n-quads",
    "application/trig",
}


@dataclass(frozen=True)
class ProtocolRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None
    expected_statuses: frozenset[int]
    expected_format: str | None
    expected_boolean: bool | None

    @property
    def is_update(self) -> bool:
        content_type = self.headers.get("content-type", "")
        return (
            "sparql-update" in content_type
            or b"update=" in (self.body or b"")
            or ("update=" in self.path)
        )


@dataclass(frozen=True)
class ProtocolTest:
    name: str
    graph_data: tuple[tuple[Path, str], ...]
    requests: tuple[ProtocolRequest, ...]


def read_protocol_manifest() -> list[ProtocolTest]:
    manifest = Graph().parse(PROTOCOL / "manifest.ttl", publicID=PROTOCOL.as_uri() + "/")
    (root,) = manifest.subjects(RDF.type, MF.Manifest)
    entries = Collection(manifest, manifest.value(root, MF.entries))
    return [_read_test(manifest, entry) for entry in entries]


def _read_test(manifest: Graph, entry: URIRef) -> ProtocolTest:
    graph_data = tuple(
        (
            Path(URIRef(manifest.value(data, UT.graph)).replace("file://", "")),
            str(manifest.value(data, RDFS.label)),
        )
        for data in manifest.objects(entry, UT.graphData)
    )
    connection = manifest.value(entry, MF.action)
    requests_list = Collection(manifest, manifest.value(connection, HT.requests))
    return ProtocolTest(
        str(entry).rsplit("#", 1)[1],
        tuple(sorted(graph_data)),
        tuple(_read_request(manifest, node) for node in requests_list),
    )


def _read_request(manifest: Graph, node) -> ProtocolRequest:
    headers = {}
    header_list = manifest.value(node, HT.headers)
    if header_list is not None:
        for header in Collection(manifest, header_list):
            headers[str(manifest.value(header, HT.fieldName)).lower()] = str(
                manifest.value(header, HT.fieldValue)
            )
    body_node = manifest.value(node, HT.body)
    body = None
    if body_node is not None:
        encoding = str(manifest.value(body_node, CNT.characterEncoding) or "UTF-8")
        body = str(manifest.value(body_node, CNT.chars)).encode(encoding)
    response = manifest.value(node, HT.resp)
    statuses = frozenset(
        int(str(status).rsplit("StatusCode", 1)[1][0])
        for status in manifest.objects(response, MF.expectedStatus)
    )
    expected_format = manifest.value(response, MF.expectedFormat)
    expected_boolean = manifest.value(response, MF.expectedBoolean)
    return ProtocolRequest(
        str(manifest.value(node, HT.methodName)),
        str(manifest.value(node, HT.absolutePath)),
        headers,
        body,
        statuses,
        str(expected_format) if expected_format is not None else None,
        expected_boolean.toPython() if expected_boolean is not None else None,
    )


PROTOCOL_TESTS = read_protocol_manifest()


@pytest.fixture(scope="module")
def server_for(servers, tmp_path_factory):
    """A server loaded with one test's graph data (each distinct set started once)."""
    folder = tmp_path_factory.mktemp("w3c-protocol")
    files: dict[tuple[tuple[Path, str], ...], Path] = {}

    def start(graph_data: tuple[tuple[Path, str], ...]):
        if graph_data not in files:
            files[graph_data] = folder / f"graphs-{len(files)}.nq"
            files[graph_data].write_bytes(named_graphs_as_nquads(graph_data))
        return servers("--data", str(files[graph_data]), "--default-graph", "data")

    return start


def named_graphs_as_nquads(graph_data: tuple[tuple[Path, str], ...]) -> bytes:
    quads = [
        ox.Quad(triple.subject, triple.predicate, triple.object, ox.NamedNode(label))
        for path, label in graph_data
        for triple in ox.parse(path=path, format=ox.RdfFormat.N_TRIPLES)
    ]
    return ox.serialize(quads, format=ox.RdfFormat.N_QUADS) or b""


def replay(server, request: ProtocolRequest) -> requests.Response:
    path = request.path.replace("/sparql/", "/sparql", 1)
    return requests.request(
        request.method,
        server.url.rstrip("/") + path,
        headers=request.headers,
        data=request.body,
        allow_redirects=False,
        timeout=30,
    )


def check_response(request: ProtocolRequest, response: requests.Response) -> None:
    assert response.status_code // 100 in request.expected_statuses, response.text
    media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    if request.expected_format == "RDF":
        assert media_type in RDF_MEDIA_TYPES
        list(ox.parse(response.content, format=ox.RdfFormat.from_media_type(media_type)))
    elif request.expected_format in ("boolean", "tabular"):
        parsed = ox.parse_query_results(response.content, format=RESULTS_MEDIA_TYPES[media_type])
        expected_kind = (
            ox.QueryBoolean if request.expected_format == "boolean" else ox.QuerySolutions
        )
        assert isinstance(parsed, expected_kind)
        if request.expected_boolean is not None:
            assert bool(parsed) is request.expected_boolean


@pytest.mark.parametrize("test", PROTOCOL_TESTS, ids=lambda test: test.name)
def test_protocol(server_for, record_property, test: ProtocolTest):
    record_property("w3c_suite", "protocol")
    server = server_for(test.graph_data)
    if test.name in REFUSED_BY_DESIGN:
        record_property("w3c_outcome", "refused by design")
        check_refused_by_design(server, test)
        return
    for request in test.requests:
        check_response(request, replay(server, request))


def check_refused_by_design(server, test: ProtocolTest) -> None:
    """Every update is refused as read-only; the follow-up queries see nothing changed."""
    for request in test.requests:
        response = replay(server, request)
        if request.is_update:
            assert response.status_code == 400
            assert "read-only" in response.json()["error"]
        else:
            assert response.status_code == 200
            assert json.loads(response.content)["boolean"] is False


def test_refused_by_design_table_matches_the_manifest():
    expects_update_to_succeed = {
        test.name
        for test in PROTOCOL_TESTS
        if any(r.is_update and 2 in r.expected_statuses for r in test.requests)
    }
    assert expects_update_to_succeed == set(REFUSED_BY_DESIGN)


# --- service description ----------------------------------------------------------------------

SERVICE_DESCRIPTION_TESTS = Graph().parse(MANIFESTS / "service-description" / "manifest.ttl")


def service_description_test_names() -> set[str]:
    return {
        str(test).rsplit("#", 1)[1]
        for test in SERVICE_DESCRIPTION_TESTS.subjects(RDF.type, MF.ServiceDescriptionTest)
    }


def test_service_description_manifest_is_covered():
    assert service_description_test_names() == {
        "returns-rdf",
        "has-endpoint-triple",
        "conforms-to-schema",
    }


def fetch_description(server) -> Graph:
    response = requests.get(server.sparql, headers={"Accept": "text/turtle"}, timeout=10)
    assert response.status_code == 200
    return Graph().parse(data=response.content, format="turtle")


def test_sd_returns_rdf(server, record_property):
    record_property("w3c_suite", "service-description")
    assert len(fetch_description(server)) > 0


def test_sd_has_endpoint_triple(server, record_property):
    record_property("w3c_suite", "service-description")
    graph = fetch_description(server)
    assert (None, SD.endpoint, URIRef(server.sparql)) in graph


def test_sd_conforms_to_schema(server, record_property):
    """The vocabulary's domains and ranges: each term is used on the right kind of node."""
    record_property("w3c_suite", "service-description")
    graph = fetch_description(server)
    (service,) = graph.subjects(RDF.type, SD.Service)
    assert all(isinstance(o, URIRef) for o in graph.objects(service, SD.endpoint))
    assert set(graph.objects(service, SD.supportedLanguage)) <= {
        SD.SPARQL10Query,
        SD.SPARQL11Query,
        SD.SPARQL11Update,
    }
    dataset = graph.value(service, SD.defaultDataset)
    assert (dataset, RDF.type, SD.Dataset) in graph
    assert (graph.value(dataset, SD.defaultGraph), RDF.type, SD.Graph) in graph
    for named in graph.objects(dataset, SD.namedGraph):
        assert (named, RDF.type, SD.NamedGraph) in graph
        assert isinstance(graph.value(named, SD.name), URIRef)
        assert (graph.value(named, SD.graph), RDF.type, SD.Graph) in graph
