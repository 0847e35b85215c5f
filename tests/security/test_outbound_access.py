"""No outbound access unless allowed: SERVICE, FROM, FROM NAMED, LOAD, protocol graph IRIs,
remote JSON-LD contexts and owl:imports never reach a canary listener or a local file."""

import subprocess

import pytest
import requests

from tests.conftest import communique_command, start_server
from tests.security.conftest import AttackOutcome

PASSWD = "file:///etc/passwd"
PASSWD_CONTENT = "root:"


def targets(canary) -> dict[str, str]:
    return {"canary": canary.url + "probe", "file": PASSWD}


QUERIES = {
    "SERVICE": "SELECT * WHERE {{ SERVICE <{iri}> {{ ?s ?p ?o }} }}",
    "SERVICE SILENT": "SELECT * WHERE {{ SERVICE SILENT <{iri}> {{ ?s ?p ?o }} }}",
    "SERVICE in a subquery": (
        "SELECT * WHERE {{ {{ SELECT * WHERE {{ SERVICE <{iri}> {{ ?s ?p ?o }} }} }} }}"
    ),
    "SERVICE by prefixed name": (
        "PREFIX c: <{iri}#> SELECT * WHERE {{ SERVICE c:x {{ ?s ?p ?o }} }}"
    ),
    "FROM": "SELECT * FROM <{iri}> WHERE {{ ?s ?p ?o }}",
    "FROM NAMED": "SELECT * FROM NAMED <{iri}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
    "FROM in ASK": "ASK FROM <{iri}> {{ ?s ?p ?o }}",
    "FROM in DESCRIBE": "DESCRIBE <{iri}> FROM <{iri}>",
    "LOAD": "LOAD <{iri}>",
    "LOAD INTO GRAPH": "LOAD SILENT <{iri}> INTO GRAPH <http://example.org/g>",
}


@pytest.mark.parametrize("target", ["canary", "file"])
@pytest.mark.parametrize("clause", list(QUERIES))
def test_a_query_reaching_out_is_refused_with_a_clear_400(
    hostile_server, canary, attack_log, clause, target
):
    iri = targets(canary)[target]
    query = QUERIES[clause].format(iri=iri)
    for response in (
        requests.get(hostile_server.sparql, params={"query": query}, timeout=10),
        requests.post(hostile_server.sparql, data={"query": query}, timeout=10),
    ):
        assert response.status_code == 400, response.text
        message = response.json()["error"]
        assert any(word in message for word in ("not allowed", "read-only", "not accepted"))
        assert PASSWD_CONTENT not in response.text
    attack_log.append(AttackOutcome("outbound", f"{clause} {target}", response.status_code))
    assert canary.hits() == []


@pytest.mark.parametrize("target", ["canary", "file"])
@pytest.mark.parametrize("parameter", ["default-graph-uri", "named-graph-uri"])
def test_protocol_graph_iris_are_empty_graphs_never_fetched(
    hostile_server, canary, attack_log, parameter, target
):
    iri = targets(canary)[target]
    query = "SELECT * WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }"
    response = requests.get(
        hostile_server.sparql, params={"query": query, parameter: iri}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert response.json()["results"]["bindings"] == []
    attack_log.append(AttackOutcome("outbound", f"{parameter} {target}", response.status_code))
    assert canary.hits() == []


def test_an_allow_listed_service_on_a_loopback_address_is_still_refused(
    canary, tmp_path, dataset_files
):
    """The allow-list names the canary, but without --allow-private-service its loopback
    address is refused before any connection."""
    endpoint = canary.url + "sparql"
    server = start_server(
        "--data", str(dataset_files[0]), "--allow-service", endpoint, workdir=tmp_path
    )
    try:
        query = f"SELECT * WHERE {{ SERVICE <{endpoint}> {{ ?s ?p ?o }} }}"
        response = requests.get(server.sparql, params={"query": query}, timeout=10)
    finally:
        server.stop()
    assert response.status_code in (400, 502), response.text
    assert "private" in response.json()["error"] or "loopback" in response.json()["error"]
    assert canary.hits() == []


@pytest.mark.parametrize("context", ["canary", "file"])
def test_a_remote_json_ld_context_is_never_fetched(canary, tmp_path, context):
    iri = {"canary": canary.url + "context.jsonld", "file": PASSWD}[context]
    document = tmp_path / "data.jsonld"
    document.write_text(
        f'{{"@context": "{iri}", "@id": "http://example.org/a", "name": "Alice"}}',
        encoding="utf-8",
    )
    done = subprocess.run(
        [*communique_command(), "serve", "--port", "0", "--data", str(document)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert str(document) in done.stderr and "context" in done.stderr
    assert PASSWD_CONTENT not in done.stderr + done.stdout
    assert canary.hits() == []


def test_owl_imports_in_data_and_shapes_are_not_followed(canary, tmp_path):
    data = tmp_path / "data.ttl"
    data.write_text(
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        f"<http://example.org/onto> owl:imports <{canary.url}data-import> , <{PASSWD}> .\n"
        '<http://example.org/a> <http://example.org/name> "Alice" .\n',
        encoding="utf-8",
    )
    shapes = tmp_path / "shapes.ttl"
    shapes.write_text(
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "@prefix sh: <http://www.w3.org/ns/shacl#> .\n"
        f"<http://example.org/shapes> owl:imports <{canary.url}shapes-import> .\n"
        "<http://example.org/S> a sh:NodeShape ; sh:targetNode <http://example.org/a> ;\n"
        "    sh:property [ sh:path <http://example.org/name> ; sh:minCount 1 ] .\n",
        encoding="utf-8",
    )
    server = start_server("--data", str(data), "--shapes", str(shapes), workdir=tmp_path)
    try:
        query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
        response = requests.get(server.sparql, params={"query": query}, timeout=10)
    finally:
        server.stop()
    assert response.json()["results"]["bindings"][0]["n"]["value"] == "3"
    assert canary.hits() == []


def test_a_shacl_sparql_constraint_cannot_reach_out(canary, tmp_path):
    data = tmp_path / "data.ttl"
    data.write_text('<http://example.org/a> <http://example.org/name> "Alice" .\n')
    shapes = tmp_path / "shapes.ttl"
    shapes.write_text(
        "@prefix sh: <http://www.w3.org/ns/shacl#> .\n"
        "<http://example.org/S> a sh:NodeShape ; sh:targetNode <http://example.org/a> ;\n"
        f'    sh:sparql [ sh:select """SELECT $this WHERE {{ SERVICE <{canary.url}sparql> '
        '{ ?s ?p ?o } }""" ] .\n',
        encoding="utf-8",
    )
    command = [*communique_command(), "serve", "--port", "0", "--data", str(data)]
    done = subprocess.run(
        [*command, "--shapes", str(shapes)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "SERVICE" in done.stderr
    assert "Traceback" not in done.stderr
    assert canary.hits() == []
