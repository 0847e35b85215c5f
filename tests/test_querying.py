"""The checks shared by the endpoint and the CLI."""

import pytest

from communique.errors import ForbiddenOperation, PayloadTooLarge
from communique.querying import SERVICE_TIMEOUT_SECONDS, check_query, service_policy
from communique.settings import Settings

GRAPH = "http://example.org/g1"


def test_from_may_name_only_the_given_graphs():
    settings = Settings()
    assert check_query(
        settings, f"SELECT * FROM <{GRAPH}> {{ ?s ?p ?o }}", dataset_graphs=(GRAPH,)
    ).from_graphs == (GRAPH,)
    with pytest.raises(ForbiddenOperation):
        check_query(
            settings,
            "SELECT * FROM <http://elsewhere.example/> { ?s ?p ?o }",
            dataset_graphs=(GRAPH,),
        )


def test_without_dataset_graphs_from_is_not_checked():
    info = check_query(Settings(), "ASK FROM <http://elsewhere.example/> {}", dataset_graphs=None)
    assert info.form == "ASK"


def test_the_size_limit_comes_from_the_settings():
    with pytest.raises(PayloadTooLarge):
        check_query(Settings(max_query_bytes=100), "ASK {}" + " " * 100, dataset_graphs=())


def test_service_needs_the_allow_list():
    query = "SELECT * { SERVICE <https://query.wikidata.org/sparql> { ?s ?p ?o } }"
    with pytest.raises(ForbiddenOperation):
        check_query(Settings(), query, dataset_graphs=())
    allowed = Settings(allow_service=("https://query.wikidata.org/sparql",))
    assert len(check_query(allowed, query, dataset_graphs=()).services) == 1


@pytest.mark.parametrize(("timeout", "expected"), [(2.0, 2.0), (60.0, SERVICE_TIMEOUT_SECONDS)])
def test_service_policy_follows_the_settings(timeout, expected):
    policy = service_policy(
        Settings(
            timeout=timeout, allow_service=("https://a.example/sparql",), allow_private_service=True
        )
    )
    assert policy.allowed == frozenset({"https://a.example/sparql"})
    assert policy.allow_private is True
    assert policy.timeout == expected
