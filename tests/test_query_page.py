"""The SPARQL query page at /sparql, and every example query, through the real endpoint."""

import json
import re

import pytest
import requests
from bs4 import BeautifulSoup

from communique.web.query_page import EXAMPLES_FOLDER, example_queries

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
EXAMPLES = example_queries()


@pytest.fixture(scope="module")
def site(servers):
    return servers()


@pytest.fixture(scope="module")
def page(site) -> BeautifulSoup:
    response = requests.get(site.sparql, headers=BROWSER, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    return BeautifulSoup(response.text, "html.parser")


def test_editor_is_a_labelled_monospace_textarea(page):
    editor = page.select_one("form#sparql-form textarea#query")
    assert editor["name"] == "query"
    assert page.select_one("label[for=query]").get_text(strip=True) == "Query"
    assert editor["spellcheck"] == "false"
    hint = page.select_one("#" + editor["aria-describedby"])
    assert "Escape" in hint.get_text() and "Tab" in hint.get_text()
    assert editor.get_text() == EXAMPLES[0].text


def test_form_works_without_script(page):
    form = page.select_one("form#sparql-form")
    assert form["method"] == "post" and form["action"] == "/sparql"
    choice = form.select_one("select#format[name=format]")
    assert page.select_one("label[for=format]")
    values = [option["value"] for option in choice.find_all("option")]
    assert values == [
        "json",
        "xml",
        "csv",
        "tsv",
        "turtle",
        "ntriples",
        "nquads",
        "trig",
        "jsonld",
        "rdfxml",
    ]
    assert form.select_one("button[type=submit]#run")


def test_page_tells_the_script_our_namespaces(page):
    form = page.select_one("form#sparql-form")
    namespaces = json.loads(form["data-local-namespaces"])
    assert namespaces["https://w3id.org/communique/id/"] == "/page/id/"
    assert namespaces["https://w3id.org/communique/ontology/"] == "/page/ontology/"
    assert json.loads(form["data-prefixes"])["cq"] == "https://w3id.org/communique/ontology/"


def test_results_area_is_announced(page):
    assert page.select_one("#query-status")["role"] == "status"
    assert page.select_one("#query-error")["role"] == "alert"


def test_scripts_and_styles_are_files(page, site):
    for script in page.find_all("script"):
        assert script.get("src") or script.get("type") == "application/ld+json"
    assert not page.find_all("style") and not page.select("[style]")
    sources = [script["src"] for script in page.find_all("script", src=True)]
    assert "/static/query.js" in sources
    for path in ("/static/query.js", "/static/query.css"):
        assert requests.get(site.url + path.lstrip("/"), timeout=10).status_code == 200
    script = requests.get(site.url + "static/query.js", timeout=10).text
    assert "innerHTML" not in script and "textContent" in script


def test_at_least_eight_examples_are_listed(page):
    assert len(EXAMPLES) >= 8
    links = page.select("a[data-example]")
    assert [link["data-example"] for link in links] == [example.name for example in EXAMPLES]
    for link, example in zip(links, EXAMPLES, strict=True):
        assert link.get_text(strip=True) == example.title
        assert link["href"] == f"?example={example.name}#query"
        assert page.select_one(f"#example-{example.name}").get_text() == example.text


def test_an_example_opens_in_the_editor(site):
    chosen = EXAMPLES[3]
    response = requests.get(
        site.sparql, params={"example": chosen.name}, headers=BROWSER, timeout=30
    )
    soup = BeautifulSoup(response.text, "html.parser")
    assert soup.select_one("textarea#query").get_text() == chosen.text
    assert soup.select_one(f'a[data-example="{chosen.name}"]')["aria-current"] == "true"


def test_unknown_example_falls_back_to_the_first(site):
    response = requests.get(site.sparql, params={"example": "<nope>"}, headers=BROWSER, timeout=30)
    assert response.status_code == 200
    soup = BeautifulSoup(response.text, "html.parser")
    assert soup.select_one("textarea#query").get_text() == EXAMPLES[0].text


def test_machines_still_get_the_service_description(site):
    response = requests.get(site.sparql, headers={"Accept": "text/turtle"}, timeout=30)
    assert response.headers["Content-Type"].startswith("text/turtle")
    assert "sd:Service" in response.text


def test_every_example_file_has_a_title():
    for path in sorted(EXAMPLES_FOLDER.glob("*.rq")):
        assert re.match(r"# Title: \S", path.read_text(encoding="utf-8")), path.name


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example.name)
def test_every_example_answers_with_rows(site, example):
    """Sent as query.js sends it: a form POST asking for JSON results or N-Triples."""
    response = requests.post(
        site.sparql,
        data={"query": example.text},
        headers={"Accept": "application/sparql-results+json, application/n-triples;q=0.9"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    media_type = response.headers["Content-Type"].split(";")[0]
    if media_type == "application/sparql-results+json":
        assert response.json()["results"]["bindings"], example.title
    else:
        assert media_type == "application/n-triples"
        assert response.text.strip().splitlines(), example.title
    assert "Communique-Result-Truncated" not in response.headers


@pytest.mark.parametrize("example", EXAMPLES[:2], ids=lambda example: example.name)
def test_download_links_work(site, example):
    for format_name, media_type in (("csv", "text/csv"), ("xml", "application/sparql-results+xml")):
        response = requests.get(
            site.sparql, params={"query": example.text, "format": format_name}, timeout=60
        )
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith(media_type)
