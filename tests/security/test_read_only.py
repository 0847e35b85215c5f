"""Read-only: every form of SPARQL Update, however it is sent, is refused and changes nothing."""

import pytest
import requests

from tests.security.conftest import AttackOutcome

GRAPH = "http://example.org/g1"
COUNT_QUERY = "SELECT (COUNT(*) AS ?n) WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }"

UPDATES = {
    "INSERT DATA": "INSERT DATA { <http://example.org/x> <http://example.org/p> 1 }",
    "INSERT DATA into a graph": (
        f"INSERT DATA {{ GRAPH <{GRAPH}> {{ <http://example.org/x> <http://example.org/p> 1 }} }}"
    ),
    "DELETE DATA": 'DELETE DATA { <http://example.org/alice> <http://example.org/name> "Alice" }',
    "DELETE WHERE": "DELETE WHERE { ?s ?p ?o }",
    "DELETE/INSERT WHERE": "DELETE { ?s ?p ?o } INSERT { ?s ?p 1 } WHERE { ?s ?p ?o }",
    "WITH ... DELETE": f"WITH <{GRAPH}> DELETE {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o }}",
    "CLEAR ALL": "CLEAR ALL",
    "CLEAR DEFAULT": "CLEAR DEFAULT",
    "DROP GRAPH": f"DROP GRAPH <{GRAPH}>",
    "DROP SILENT ALL": "DROP SILENT ALL",
    "CREATE GRAPH": "CREATE GRAPH <http://example.org/new>",
    "ADD": f"ADD <{GRAPH}> TO DEFAULT",
    "MOVE": f"MOVE <{GRAPH}> TO <http://example.org/elsewhere>",
    "COPY": f"COPY DEFAULT TO <{GRAPH}>",
    "LOAD": "LOAD <http://127.0.0.1:9/data.ttl>",
    "lower case": "insert data { <http://example.org/x> <http://example.org/p> 1 }",
    "after a prologue and comments": (
        "PREFIX ex: <http://example.org/> # a comment\n"
        "BASE <http://example.org/>\nINSERT DATA { ex:x ex:p 1 }"
    ),
    "two operations": "CLEAR ALL ; INSERT DATA { <http://example.org/x> <http://example.org/p> 1 }",
    "written with codepoint escapes": (
        "\\u0049NSERT DATA { <http://example.org/x> <http://example.org/p> 1 }"
    ),
    "after a query": "ASK {} ; DROP ALL",
}

WAYS = {
    "GET query=": lambda url, text: requests.get(url, params={"query": text}, timeout=10),
    "GET update=": lambda url, text: requests.get(url, params={"update": text}, timeout=10),
    "POST form query=": lambda url, text: requests.post(url, data={"query": text}, timeout=10),
    "POST form update=": lambda url, text: requests.post(url, data={"update": text}, timeout=10),
    "POST sparql-update": lambda url, text: requests.post(
        url,
        data=text.encode(),
        headers={"Content-Type": "application/sparql-update"},
        timeout=10,
    ),
    "POST sparql-query": lambda url, text: requests.post(
        url,
        data=text.encode(),
        headers={"Content-Type": "application/sparql-query"},
        timeout=10,
    ),
}


def triple_count(url: str) -> int:
    response = requests.get(url, params={"query": COUNT_QUERY}, timeout=10)
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


@pytest.mark.parametrize("way", list(WAYS))
@pytest.mark.parametrize("update", list(UPDATES))
def test_an_update_is_refused_and_changes_nothing(hostile_server, attack_log, update, way):
    before = triple_count(hostile_server.sparql)
    response = WAYS[way](hostile_server.sparql, UPDATES[update])
    assert response.status_code == 400, response.text
    assert "read-only" in response.json()["error"] or "not accepted" in response.json()["error"]
    assert triple_count(hostile_server.sparql) == before
    if way == "POST sparql-update":
        attack_log.append(AttackOutcome("update", update, response.status_code))
