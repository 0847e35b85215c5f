"""Federation end to end: one Communiqué instance joins its data with a second instance's through
SERVICE, both real servers on loopback; a SERVICE not on the allow-list is refused."""

import pytest
import requests

PREFIXES = """\
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX ex: <http://example.org/stats/>
"""
SECOND_DATASET = """\
@prefix ex: <http://example.org/stats/> .
@prefix wd: <http://www.wikidata.org/entity/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

ex:figures {
    wd:Q423 ex:population 25660000 ; ex:capital "Pyongyang" .
    wd:Q884 ex:population 51740000 ; ex:capital "Seoul" .
    wd:Q1 ex:population 0 .
}
"""
JOIN = (
    PREFIXES
    + """\
SELECT ?state ?population WHERE {
    ?state a <https://schema.org/Country> ; owl:sameAs ?item .
    SERVICE <%s> { ?item ex:population ?population }
}
ORDER BY ?state
"""
)


@pytest.fixture(scope="module")
def second(servers, tmp_path_factory):
    data = tmp_path_factory.mktemp("second") / "stats.trig"
    data.write_text(SECOND_DATASET, encoding="utf-8")
    return servers("--data", str(data))


@pytest.fixture(scope="module")
def first(servers, second):
    return servers("--allow-service", second.sparql, "--allow-private-service")


def select(server, query: str) -> requests.Response:
    return requests.post(
        server.sparql,
        data={"query": query},
        headers={"Accept": "application/sparql-results+json"},
        timeout=60,
    )


def test_a_federated_query_joins_both_instances(first, second):
    response = select(first, JOIN % second.sparql)
    assert response.status_code == 200, response.text
    rows = [
        (row["state"]["value"], row["population"]["value"])
        for row in response.json()["results"]["bindings"]
    ]
    assert rows == [
        ("https://w3id.org/communique/id/north-korea", "25660000"),
        ("https://w3id.org/communique/id/south-korea", "51740000"),
    ]


def test_the_remote_part_alone_matches_the_second_instance(first, second):
    remote = PREFIXES + "SELECT ?item ?capital WHERE { ?item ex:capital ?capital } ORDER BY ?item"
    direct = select(second, remote).json()["results"]["bindings"]
    service = f"SERVICE <{second.sparql}> {{ ?item ex:capital ?capital }}"
    wrapped = PREFIXES + f"SELECT ?item ?capital WHERE {{ {service} }} ORDER BY ?item"
    through_first = select(first, wrapped).json()["results"]["bindings"]
    assert through_first == direct
    assert [row["capital"]["value"] for row in direct] == ["Pyongyang", "Seoul"]


def test_a_service_not_on_the_allow_list_is_refused(first, second):
    elsewhere = second.url + "elsewhere"
    response = select(first, JOIN % elsewhere)
    assert response.status_code == 400
    assert "not allowed" in response.json()["error"]


def test_without_federation_service_is_refused(second):
    response = select(second, JOIN % second.sparql)
    assert response.status_code == 400
    assert "SERVICE" in response.json()["error"]
