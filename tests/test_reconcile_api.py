"""``/reconcile`` on a real server over the bundled data, every answer validated against the JSON
schemas the Reconciliation Service API 0.2 specification publishes (tests/reconciliation_schemas,
see its README)."""

import json
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from bs4 import BeautifulSoup
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SCHEMAS = Path(__file__).parent / "reconciliation_schemas"
PERSON = "https://schema.org/Person"
COUNTRY = "https://schema.org/Country"
SAME_AS = "http://www.w3.org/2002/07/owl#sameAs"
NAMES = [
    "Kim Jong-un",
    "Kim Jong Un",
    "Donald Trump",
    "Trump",
    "Mike Pompeo",
    "Kim Yong Chol",
    "North Korea",
    "DPRK",
    "Pyongyang",
    "South Korea",
    "Seoul",
    "China",
    "Beijing",
    "Vietnam",
    "Viet Nam",
    "Thailand",
    "Bangkok",
    "Singapore",
    "ASEAN",
    "Hanoi",
]


def load_schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


REGISTRY = Registry().with_resources(
    (schema["$id"], Resource(schema, specification=DRAFT7))
    for schema in map(load_schema, [path.name for path in SCHEMAS.glob("*.json")])
)


def assert_valid(document: object, schema_name: str) -> None:
    validator = Draft7Validator(load_schema(schema_name), registry=REGISTRY)
    errors = [error.message for error in validator.iter_errors(document)]
    assert errors == []


@pytest.fixture(scope="module")
def service(servers) -> str:
    return servers().url + "reconcile"


def post_queries(service: str, batch: dict) -> dict:
    assert_valid(batch, "reconciliation-query-batch.json")
    response = requests.post(service, data={"queries": json.dumps(batch)}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    answer = response.json()
    assert_valid(answer, "reconciliation-result-batch.json")
    return answer


def test_the_manifest_is_valid_and_points_at_this_server(service):
    response = requests.get(service, timeout=30)
    manifest = response.json()
    assert_valid(manifest, "manifest.json")
    assert manifest["view"]["url"] == service + "/view?id={{id}}"
    assert manifest["preview"]["url"] == service + "/preview?id={{id}}"
    assert manifest["batchSize"] >= 20
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_the_spec_rejects_an_invalid_manifest():
    with pytest.raises(AssertionError):
        assert_valid({"name": "no versions"}, "manifest.json")


def test_kim_jong_un_as_a_person_is_matched(service):
    answer = post_queries(service, {"q0": {"query": "Kim Jong-un", "type": PERSON}})
    best = answer["q0"]["result"][0]
    assert (best["id"], best["name"], best["match"]) == ("kim-jong-un", "Kim Jong Un", True)


def test_pyongyang_as_a_state_finds_north_korea(service):
    answer = post_queries(service, {"q0": {"query": "Pyongyang", "type": COUNTRY}})
    assert answer["q0"]["result"][0]["id"] == "north-korea"


def test_nonsense_has_no_candidate(service):
    answer = post_queries(service, {"q0": {"query": "Zzyzx Qwfp Glorbnak"}})
    assert answer["q0"]["result"] == []


def test_a_batch_of_twenty_answers_in_one_call(service):
    batch = {f"q{i}": {"query": name} for i, name in enumerate(NAMES)}
    answer = post_queries(service, batch)
    assert set(answer) == set(batch)
    matched = {
        NAMES[int(key[1:])]: r["result"][0]["id"] for key, r in answer.items() if r["result"]
    }
    assert matched["Viet Nam"] == "vietnam"
    assert matched["Seoul"] == "south-korea"
    assert "Hanoi" not in matched


def test_get_answers_like_post(service):
    batch = {"a": {"query": "DPRK", "type": COUNTRY}, "b": {"query": "Beijing"}}
    by_get = requests.get(service, params={"queries": json.dumps(batch)}, timeout=30)
    assert by_get.status_code == 200
    assert_valid(by_get.json(), "reconciliation-result-batch.json")
    assert by_get.json() == post_queries(service, batch)


def test_property_constraints_over_http(service):
    batch = {"q": {"query": "North Korea", "properties": [{"pid": SAME_AS, "v": "Q423"}]}}
    best = post_queries(service, batch)["q"]["result"][0]
    assert (best["id"], best["match"]) == ("north-korea", True)


@pytest.mark.parametrize(
    ("data", "status", "complaint"),
    [
        ({"queries": "{not json"}, 400, "not valid JSON"),
        ({"queries": '{"q": {"query": "x", "bogus": 1}}'}, 400, "does not define"),
        ({"queries": "{}", "extend": "{}"}, 400, "not both"),
        ({}, 400, "queries="),
        ({"extend": '{"ids": 1}'}, 400, "list of strings"),
        ({"queries": json.dumps({f"q{i}": {"query": "x"} for i in range(51)})}, 413, "at most"),
    ],
)
def test_bad_input_is_a_client_error_with_a_message(service, data, status, complaint):
    response = requests.post(service, data=data, timeout=30)
    assert response.status_code == status
    body = response.json()
    assert body["status"] == status and complaint in body["error"]


def test_suggest_entities(service):
    response = requests.get(service + "/suggest/entity", params={"prefix": "pyong"}, timeout=30)
    answer = response.json()
    assert_valid(answer, "suggest-entities-response.json")
    assert [item["id"] for item in answer["result"]][:2] == ["pyongyang", "north-korea"]


def test_suggest_types(service):
    answer = requests.get(service + "/suggest/type", params={"prefix": "person"}, timeout=30).json()
    assert_valid(answer, "suggest-types-response.json")
    assert PERSON in [item["id"] for item in answer["result"]]


def test_suggest_properties(service):
    answer = requests.get(
        service + "/suggest/property", params={"prefix": "in place"}, timeout=30
    ).json()
    assert_valid(answer, "suggest-properties-response.json")
    assert answer["result"][0]["name"] == "in place"


@pytest.mark.parametrize(
    "params", [{}, {"prefix": "kim", "cursor": "-1"}, {"prefix": "kim", "cursor": "x"}]
)
def test_suggest_refuses_missing_or_bad_parameters(service, params):
    response = requests.get(service + "/suggest/entity", params=params, timeout=30)
    assert response.status_code == 400
    assert response.json()["error"]


def test_the_preview_is_a_small_page_in_the_readers_language(service):
    response = requests.get(
        service + "/preview",
        params={"id": "north-korea"},
        headers={"Accept-Language": "ko"},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = BeautifulSoup(response.text, "html.parser")
    assert page.h1.get_text(strip=True) == "조선민주주의인민공화국"
    assert page.find("script") is None and page.find("style") is None
    assert not page.select("[style]")
    stylesheet = page.find("link", rel="stylesheet")["href"]
    assert requests.get(urljoin(service, stylesheet), timeout=30).status_code == 200
    assert "http://www.wikidata.org/entity/Q423" in [a["href"] for a in page.find_all("a")]


def test_the_preview_may_be_framed_by_a_client(service):
    """OpenRefine shows previews in an iframe of its own page (the manifest gives its size)."""
    response = requests.get(service + "/preview", params={"id": "north-korea"}, timeout=30)
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors *" in policy
    assert "script-src 'none'" in policy and "default-src 'self'" in policy


@pytest.mark.parametrize(
    "identifier", ["north-korea", "membership/kim-jong-un-leader-of-north-korea"]
)
def test_the_view_redirects_to_the_entity_page(service, identifier):
    response = requests.get(
        service + "/view", params={"id": identifier}, allow_redirects=False, timeout=30
    )
    assert response.status_code == 303
    page = urljoin(service, response.headers["Location"])
    assert page.endswith("/page/id/" + identifier)
    assert requests.get(page, timeout=30).status_code == 200


def test_the_view_of_an_entity_elsewhere_is_not_found(service):
    response = requests.get(
        service + "/view", params={"id": "https://example.org/x"}, allow_redirects=False, timeout=30
    )
    assert response.status_code == 404


def test_the_preview_of_an_unknown_entity_is_not_found(service):
    response = requests.get(service + "/preview", params={"id": "atlantis"}, timeout=30)
    assert response.status_code == 404


def test_data_extension(service):
    query = {
        "ids": ["north-korea", "pyongyang"],
        "properties": [{"id": SAME_AS}, {"id": "cq:inPlace"}],
    }
    assert_valid(query, "data-extension-query.json")
    for response in (
        requests.post(service, data={"extend": json.dumps(query)}, timeout=30),
        requests.get(service, params={"extend": json.dumps(query)}, timeout=30),
    ):
        answer = response.json()
        assert_valid(answer, "data-extension-response.json")
        assert {"str": "http://www.wikidata.org/entity/Q423"} in answer["rows"]["north-korea"][
            SAME_AS
        ]
        place = answer["rows"]["pyongyang"]["https://w3id.org/communique/ontology/inPlace"]
        assert place == [{"id": "north-korea", "name": "North Korea"}]


def test_property_proposals(service):
    response = requests.get(
        service + "/properties", params={"type": COUNTRY, "limit": "3"}, timeout=30
    )
    answer = response.json()
    assert_valid(answer, "data-extension-property-proposal.json")
    assert answer["type"] == COUNTRY and len(answer["properties"]) == 3


def test_cors_preflight_is_answered(service):
    response = requests.options(
        service,
        headers={"Origin": "http://refine.test", "Access-Control-Request-Method": "POST"},
        timeout=30,
    )
    assert response.status_code == 200
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
