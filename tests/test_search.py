"""``GET /search`` on a real server over the bundled graph: JSON, the HTML page, refusals."""

import pytest
import requests
from bs4 import BeautifulSoup

ID = "https://w3id.org/communique/id/"
JSON = {"Accept": "application/json"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture(scope="module")
def site(servers):
    return servers()


def search(site, headers=None, **params):
    return requests.get(site.url + "search", params=params, headers=headers or JSON, timeout=30)


def test_json_answer_shape(site):
    response = search(site, q="thailand")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["query"] == "thailand"
    first = body["results"][0]
    assert set(first) == {"iri", "label", "matched", "page", "types", "score"}
    assert first["iri"] == ID + "thailand"
    assert first["label"] == "Thailand"
    assert first["page"] == "/page/id/thailand"
    assert "https://schema.org/Country" in first["types"]
    assert first["score"] == 100.0
    scores = [hit["score"] for hit in body["results"]]
    assert scores == sorted(scores, reverse=True)


def test_format_parameter_asks_for_json(site):
    response = search(site, headers=BROWSER, q="thai", format="json")
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["results"][0]["iri"] == ID + "thailand"


@pytest.mark.parametrize("query", ["Kim Jong-un", "kim jong un", "KIM JONG-UN", "김정은"])
def test_spellings_of_a_name_find_the_same_person(site, query):
    assert search(site, q=query).json()["results"][0]["iri"] == ID + "kim-jong-un"


def test_accents_are_ignored(site):
    assert search(site, q="viet nam").json()["results"][0]["iri"] == ID + "vietnam"


def test_pages_are_the_page_urls_of_our_resources(site):
    results = search(site, q="korea", limit="20").json()["results"]
    ours = [hit for hit in results if hit["iri"].startswith(ID)]
    assert len(ours) >= 5
    for hit in ours:
        assert hit["page"] == "/page/id/" + hit["iri"].removeprefix(ID)


def test_limit_and_type(site):
    results = search(site, q="korea", limit="2").json()["results"]
    assert len(results) == 2
    countries = search(site, q="korea", type="schema:Country").json()["results"]
    assert {hit["iri"] for hit in countries} == {ID + "north-korea", ID + "south-korea"}
    by_iri = search(site, q="korea", type="https://schema.org/Country").json()["results"]
    assert by_iri == countries


def test_no_results_is_an_empty_list(site):
    response = search(site, q="zzzqqqxxx")
    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 201},
        {"q": "!!!"},
        {"q": "kim", "limit": "0"},
        {"q": "kim", "limit": "51"},
        {"q": "kim", "limit": "ten"},
        {"q": ["kim", "trump"]},
    ],
    ids=[
        "missing",
        "empty",
        "blank",
        "too-long",
        "punctuation",
        "limit-0",
        "limit-51",
        "limit-text",
        "repeated",
    ],
)
def test_bad_requests_are_400_in_the_error_shape(site, params):
    response = search(site, **params)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400 and body["error"] and body["request_id"]


def test_formats_other_than_json_and_html_are_refused(site):
    assert search(site, q="kim", format="turtle").status_code == 406


def test_revalidation_gives_304(site):
    first = search(site, q="kim")
    again = search(site, headers={**JSON, "If-None-Match": first.headers["ETag"]}, q="kim")
    assert again.status_code == 304
    other = search(site, headers={**JSON, "If-None-Match": first.headers["ETag"]}, q="trump")
    assert other.status_code == 200


# --- the HTML page ------------------------------------------------------------------------------


def page(site, **params) -> tuple[requests.Response, BeautifulSoup]:
    response = search(site, headers=BROWSER, **params)
    return response, BeautifulSoup(response.text, "html.parser")


def test_html_results_link_to_pages(site):
    response, soup = page(site, q="thailand")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    links = soup.select("ol.search-results a")
    assert links[0]["href"] == "/page/id/thailand"
    assert links[0].get_text() == "Thailand"
    assert soup.select_one("#q")["value"] == "thailand"
    assert soup.find("link", rel="alternate", type="application/json")


def test_the_query_is_echoed_escaped(site):
    attack = '<script>alert("x")</script>"><img src=x onerror=alert(1)>'
    response, soup = page(site, q=attack)
    assert response.status_code == 200
    assert "<script>alert" not in response.text
    assert "<img src=x" not in response.text
    assert soup.select_one(".search-echo").get_text() == attack
    assert soup.select_one("#q")["value"] == attack


def test_no_results_page_offers_help(site):
    response, soup = page(site, q="zzzqqqxxx")
    assert response.status_code == 200
    help_box = soup.select_one(".search-help")
    assert help_box is not None
    assert help_box.find("a", href="/sparql")


@pytest.mark.parametrize(
    "params", [{}, {"q": ""}, {"q": "x" * 201}], ids=["missing", "empty", "long"]
)
def test_bad_html_requests_get_a_friendly_page(site, params):
    response, soup = page(site, **params)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/html")
    assert soup.select_one("[role=alert]").get_text(strip=True)
    assert soup.select_one("form[role=search] #q") is not None


def test_page_has_no_inline_script_or_style(site):
    _, soup = page(site, q="kim")
    for script in soup.find_all("script"):
        assert script.get("src") or script.get("type") == "application/ld+json"
    assert not soup.find_all("style")
    assert not soup.select("[style]")
    assert soup.find("script", src="/static/search.js")


def test_search_script_and_style_are_served(site):
    script = requests.get(site.url + "static/search.js", timeout=10)
    assert script.status_code == 200
    assert 'setAttribute("role", "combobox")' in script.text
    assert "innerHTML" not in script.text
    assert requests.get(site.url + "static/search.css", timeout=10).status_code == 200
