"""``communique enrich`` against a real Oxigraph server loaded with a Wikidata-shaped sample
(tests/fixtures/wikidata-sample.ttl), and against endpoints that fail in every way, on loopback."""

import doctest
import hashlib
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests
from bs4 import BeautifulSoup

from communique import enrichment
from communique.cli import main
from communique.enrichment import EnrichmentSource, wgs84_point, write_validated
from communique.errors import ShapesViolation
from communique.layout import Layout
from communique.settings import PROJECT_ROOT
from communique.validation import validate_layout
from tests.conftest import StubReply, communique_command

FIXTURE = Path(__file__).parent / "fixtures" / "wikidata-sample.ttl"
ID = "https://w3id.org/communique/id/"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
DESCRIPTION = "https://schema.org/description"
SCHEMA = "https://schema.org/"
PROV = "http://www.w3.org/ns/prov#"
GRAPH = "https://w3id.org/communique/graph/enrichment/wikidata"
TIME_LINES = ("    prov:startedAtTime ", "    prov:endedAtTime ")
RESULTS_JSON = json.dumps(
    {
        "head": {"vars": ["item", "kind", "value"]},
        "results": {
            "bindings": [
                {
                    "item": {"type": "uri", "value": "http://www.wikidata.org/entity/Q423"},
                    "kind": {"type": "literal", "value": "label"},
                    "value": {"type": "literal", "xml:lang": "fr", "value": "Corée du Nord"},
                }
            ]
        },
    }
).encode()
RESULTS = StubReply(200, RESULTS_JSON, {"Content-Type": "application/sparql-results+json"})


@pytest.fixture(scope="module")
def wikidata(oxigraph_servers) -> str:
    return oxigraph_servers(FIXTURE) + "/query"


def copy_project(folder: Path) -> Path:
    root = folder / "project"
    for name in ("ontology", "shapes", "graph"):
        shutil.copytree(Path(PROJECT_ROOT) / name, root / name)
    return root


@pytest.fixture
def project(tmp_path) -> Path:
    return copy_project(tmp_path)


@pytest.fixture(scope="module")
def enriched(wikidata, tmp_path_factory) -> tuple[Path, dict[str, str], str]:
    """A project enriched once from the sample: (root, digests of its files before, stdout)."""
    root = copy_project(tmp_path_factory.mktemp("enriched"))
    before = digest(sorted(p for p in root.rglob("*") if p.is_file()))
    completed = subprocess.run(
        [*communique_command(), "enrich", "--endpoint", wikidata, "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return root, before, completed.stdout


def enrich(project: Path, endpoint: str, *options: str) -> int:
    return main(["enrich", "--endpoint", endpoint, "--root", str(project), *options])


def output(project: Path) -> Path:
    return project / "graph" / "enrichment" / "wikidata.ttl"


def facts(path: Path) -> set[tuple[str, str, str]]:
    """(subject, predicate, value) of the file; a point's coordinates as "lat lon"."""
    store = ox.Store()
    store.load(path=path, format=ox.RdfFormat.TURTLE)
    found = set()
    for quad in store:
        value = quad.object.value if not isinstance(quad.object, ox.BlankNode) else None
        if isinstance(quad.object, ox.Literal) and quad.object.language:
            value = f"{quad.object.value}@{quad.object.language}"
        if quad.predicate.value == SCHEMA + "geo":
            point = {
                q.predicate.value: q.object.value
                for q in store.quads_for_pattern(quad.object, None, None)
            }
            value = f"{point[SCHEMA + 'latitude']} {point[SCHEMA + 'longitude']}"
        if not isinstance(quad.subject, ox.BlankNode):
            found.add((quad.subject.value, quad.predicate.value, value))
    return found


def digest(paths) -> dict[str, str]:
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in paths}


def test_labels_descriptions_and_coordinates_go_on_our_iris(enriched):
    project, _, stdout = enriched
    found = facts(output(project))
    north_korea = {(p, v) for s, p, v in found if s == ID + "north-korea"}
    assert {
        (RDFS_LABEL, "Corée du Nord@fr"),
        (RDFS_LABEL, "Nordkorea@de"),
        (RDFS_LABEL, "朝鲜民主主义人民共和国@zh"),
        (RDFS_LABEL, "朝鮮民主主義人民共和国@ja"),
        (DESCRIPTION, "country in East Asia@en"),
        (DESCRIPTION, "pays d'Asie de l'Est@fr"),
        (DESCRIPTION, "Staat in Ostasien@de"),
        (SCHEMA + "geo", "40 127"),
    } == north_korea
    assert (ID + "pyongyang", SCHEMA + "geo", "39.0194 125.738") in found
    assert "27 labels, 9 descriptions and 5 coordinates for 19 linked entities" in stdout


def test_curated_labels_and_english_are_never_added(enriched):
    project, _, _ = enriched
    labels = {(s, v) for s, p, v in facts(output(project)) if p == RDFS_LABEL and s.startswith(ID)}
    assert labels
    assert not any(value.endswith("@en") for _, value in labels)
    assert not any(s == ID + "north-korea" and v.endswith("@ko") for s, v in labels)
    assert not any(s == ID + "china" and v.endswith("@zh") for s, v in labels)
    assert (ID + "pyongyang", "평양@ko") in labels
    assert not any(v.endswith("@eo") for _, v in labels)
    assert not any(s.endswith("Q42") or "Douglas" in v for s, v in labels)


def test_provenance_names_the_endpoint_the_query_and_the_times(enriched, wikidata):
    project, _, _ = enriched
    found = facts(output(project))
    activity = GRAPH + "#retrieval"
    assert (GRAPH, PROV + "wasGeneratedBy", activity) in found
    assert (activity, PROV + "used", wikidata) in found
    assert (activity, PROV + "used", GRAPH + "#query") in found
    query = next(v for s, p, v in found if s == GRAPH + "#query" and p == PROV + "value")
    assert "VALUES ?item" in query and "P625" in query
    assert {p for s, p, v in found if s == activity} >= {
        PROV + "startedAtTime",
        PROV + "endedAtTime",
    }


def test_the_enriched_data_conforms_and_nothing_curated_changes(enriched):
    project, before, _ = enriched
    assert digest(Path(path) for path in before) == before
    assert validate_layout(project).conforms


def test_a_rerun_changes_only_the_retrieval_times(enriched, wikidata):
    project, _, _ = enriched
    first = output(project).read_text(encoding="utf-8").splitlines()
    assert enrich(project, wikidata) == 0
    second = output(project).read_text(encoding="utf-8").splitlines()
    assert len(first) == len(second)
    assert [line for line in first if line.startswith(TIME_LINES)]
    assert all(a == b or a.startswith(TIME_LINES) for a, b in zip(first, second, strict=True))


def test_batches_and_another_output_dir_give_the_same_graph(project, wikidata, enriched, capsys):
    elsewhere = project.parent / "out"
    assert enrich(project, wikidata, "--batch-size", "4", "--output-dir", str(elsewhere)) == 0
    assert "batch 5/5: 3 entities" in capsys.readouterr().err
    assert not output(project).exists()
    ours = {fact for fact in facts(elsewhere / "wikidata.ttl") if fact[0].startswith(ID)}
    assert ours == {fact for fact in facts(output(enriched[0])) if fact[0].startswith(ID)}


def test_a_429_is_retried_after_its_retry_after(project, stub_endpoint, capsys):
    endpoint = stub_endpoint(StubReply(429, b"slow down", {"Retry-After": "1"}), RESULTS)
    started = time.monotonic()
    assert enrich(project, endpoint) == 0
    assert time.monotonic() - started >= 1
    assert "HTTP 429" in capsys.readouterr().err
    assert len(stub_endpoint.requests) == 2
    assert (ID + "north-korea", RDFS_LABEL, "Corée du Nord@fr") in facts(output(project))


def test_requests_name_the_client_and_ask_for_json(project, stub_endpoint):
    assert enrich(project, stub_endpoint(StubReply(500))) == 1
    method, _, headers, body = stub_endpoint.requests[0]
    assert method == "POST" and headers["User-Agent"].startswith("Communique/")
    assert "application/sparql-results+json" in headers["Accept"]
    assert b"query=" in body and b"Q423" in body


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


FAILURES = {
    "unreachable": ((), "is unreachable"),
    "server error": ((StubReply(500, b"<html>oops</html>"),), "answered HTTP 500"),
    "not found": ((StubReply(404, b"no such endpoint"),), "answered HTTP 404"),
    "garbage": (
        (StubReply(200, b"<html>not results</html>", {"Content-Type": "text/html"}),),
        "not SPARQL query results",
    ),
    "truncated json": (
        (
            StubReply(
                200, b'{"head": {"vars": [', {"Content-Type": "application/sparql-results+json"}
            ),
        ),
        "not SPARQL query results",
    ),
    "malformed row": (
        (
            StubReply(
                200,
                b'{"head": {"vars": ["x"]}, "results": {"bindings": [{"x": 5}]}}',
                {"Content-Type": "application/sparql-results+json"},
            ),
        ),
        "not SPARQL query results",
    ),
    "busy forever": ((StubReply(503, b"busy"),), "still answered HTTP 503"),
    "timeout": ((StubReply(200, RESULTS_JSON, delay=1.0),), "did not answer within 0.5 s"),
}


@pytest.mark.parametrize("failure", FAILURES)
def test_a_failing_endpoint_is_a_clear_error_and_writes_nothing(
    project, stub_endpoint, capsys, failure
):
    replies, message = FAILURES[failure]
    endpoint = stub_endpoint(*replies) if replies else f"http://127.0.0.1:{free_port()}/sparql"
    output(project).parent.mkdir(parents=True)
    output(project).write_text("# the previous enrichment\n", encoding="utf-8")
    status = enrich(project, endpoint, "--timeout", "0.5", "--max-retries", "1")
    assert status == 1
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error
    assert output(project).read_text(encoding="utf-8") == "# the previous enrichment\n"
    assert sorted(p.name for p in output(project).parent.iterdir()) == ["wikidata.ttl"]


def test_the_command_exits_non_zero_on_failure(project):
    endpoint = f"http://127.0.0.1:{free_port()}/sparql"
    done = subprocess.run(
        [*communique_command(), "enrich", "--endpoint", endpoint, "--root", str(project)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "is unreachable" in done.stderr
    assert not output(project).exists()


@pytest.mark.parametrize("endpoint", ["ftp://example.org/sparql", "http://exa mple.org/", "sparql"])
def test_an_endpoint_that_is_not_an_http_url_is_a_usage_error(project, endpoint, capsys):
    with pytest.raises(SystemExit) as exit_status:
        enrich(project, endpoint)
    assert exit_status.value.code == 2
    assert "not an http(s) URL" in capsys.readouterr().err


def test_data_that_would_not_conform_is_not_written(project):
    target = output(project)
    bad = f'<{ID}china> <{RDFS_LABEL}> "Chine" .\n'
    with pytest.raises(ShapesViolation, match="nothing was written"):
        write_validated(Layout(project), target, bad, EnrichmentSource())
    assert not target.exists()


WKT = "http://www.opengis.net/ont/geosparql#wktLiteral"


@pytest.mark.parametrize(
    ("text", "point"),
    [
        ("Point(125.75 39.0333)", ("39.0333", "125.75")),
        ("  POINT ( -98.5 39.8 ) ", ("39.8", "-98.5")),
        ("<http://www.opengis.net/def/crs/OGC/1.3/CRS84> Point(1 2)", ("2", "1")),
        ("<http://www.wikidata.org/entity/Q405> Point(1 2)", None),
        ("Point(200 10)", None),
        ("Point(10 95)", None),
        ("LineString(1 2, 3 4)", None),
        ("Point(NaN 1)", None),
        ("Point(1e400 1)", None),
    ],
)
def test_wkt_points(text, point):
    found = wgs84_point(ox.Literal(text, datatype=ox.NamedNode(WKT)))
    assert (tuple(format(v, "f") for v in found) if found else None) == point


def test_pages_and_reconciliation_speak_the_readers_language(enriched, servers):
    project, _, _ = enriched
    server = servers("--project-root", str(project))
    page = requests.get(
        server.url + "page/id/north-korea", headers={"Accept-Language": "fr"}, timeout=60
    )
    assert BeautifulSoup(page.text, "html.parser").h1.get_text(strip=True) == "Corée du Nord"
    answer = requests.post(
        server.url + "reconcile",
        data={"queries": json.dumps({"q": {"query": "Corée du Nord"}})},
        timeout=60,
    ).json()
    assert [(r["id"], r["match"]) for r in answer["q"]["result"]] == [("north-korea", True)]


def test_the_docstring_examples_hold():
    assert doctest.testmod(enrichment).failed == 0
