"""The ontology, its terms and the validation report as pages, on real servers."""

import json

import pytest
import rdflib
import requests
from bs4 import BeautifulSoup

from tests.test_pages import BROWSER, check_structure, get

CQ = "https://w3id.org/communique/ontology/"
SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")


@pytest.fixture(scope="module")
def site(servers):
    return servers()


def select(site, query: str) -> list[dict]:
    response = requests.get(
        site.sparql, params={"query": query}, headers={"Accept": "application/json"}, timeout=30
    )
    return response.json()["results"]["bindings"]


def count_terms(site, kind: str) -> int:
    query = (
        "SELECT (COUNT(DISTINCT ?t) AS ?n) WHERE { ?t a ?kind . "
        f'FILTER(STRSTARTS(STR(?t), "{CQ}")) VALUES ?kind {{ {kind} }} }}'
    )
    return int(select(site, query)[0]["n"]["value"])


def rows(soup: BeautifulSoup, section: str) -> list:
    return soup.select(f"#{section} tbody tr")


@pytest.fixture(scope="module")
def overview(site) -> BeautifulSoup:
    response = get(site, "/page/ontology/")
    assert response.status_code == 200
    return check_structure(response.text)


def test_the_ontology_iri_is_its_overview_page(overview):
    assert overview.h1.get_text() == "Communiqué diplomacy ontology"
    facts = overview.select_one("#about-ontology").get_text(" ", strip=True)
    assert "Version 0.1.0" in facts
    assert "cq:" in facts and "CC BY 4.0" in facts


def test_the_overview_lists_every_class_and_property(site, overview):
    owl = "<http://www.w3.org/2002/07/owl#"
    assert len(rows(overview, "classes")) == count_terms(site, owl + "Class>")
    properties = f"{owl}ObjectProperty> {owl}DatatypeProperty> {owl}AnnotationProperty>"
    assert len(rows(overview, "ontology-properties")) == count_terms(site, properties)


def test_classes_come_with_definitions_and_super_classes(overview):
    claim = next(r for r in rows(overview, "classes") if r.th.a["href"] == "/page/ontology/Claim")
    assert "Something a source states" in claim.get_text()
    parents = [a["href"] for a in claim.find_all("td")[1].find_all("a")]
    assert "http://www.w3.org/1999/02/22-rdf-syntax-ns#Statement" in parents


def test_properties_come_with_domain_and_range(overview):
    status = next(
        r
        for r in rows(overview, "ontology-properties")
        if r.th.a["href"] == "/page/ontology/epistemicStatus"
    )
    cells = status.find_all("td")
    assert cells[1].a["href"] == "/page/ontology/Claim"
    assert cells[2].a["href"] == "http://www.w3.org/2004/02/skos/core#Concept"


def test_concept_schemes_list_their_concepts_and_notations(overview):
    headings = [h.get_text() for h in overview.select("#schemes h3")]
    assert "epistemic statuses" in headings
    notations = {code.get_text() for code in overview.select("#schemes td code")}
    assert {"asserted", "believed-attributed", "speculated"} <= notations


def test_alignments_point_to_other_vocabularies(overview):
    pairs = {(r.th.a["href"], r.find_all("td")[1].a["href"]) for r in rows(overview, "alignments")}
    assert ("/page/ontology/Claim", "http://www.w3.org/ns/prov#Entity") in pairs
    assert ("/page/ontology/about", "https://schema.org/about") in pairs


def term_facts(soup: BeautifulSoup) -> dict:
    """The term section's facts: the text of each ``dt`` -> its ``dd``."""
    return {dt.get_text(): dt.find_next_sibling("dd") for dt in soup.select("#term dt")}


def test_a_class_page_has_its_term_section(site):
    soup = check_structure(get(site, "/page/ontology/Claim").text)
    facts = term_facts(soup)
    assert "Something a source states" in facts["Definition"].get_text()
    assert facts["Narrower terms"].find("a", href="/page/ontology/EventClaim")
    instances = facts["Instances (subclasses included)"]
    assert instances.get_text().startswith("119")
    listing = instances.find("a")["href"]
    assert "Showing 1–50 of 119" in get(site, listing).text
    shapes = soup.select("#term tbody tr")
    assert any(
        r.a["href"] == "/page/shapes/ClaimShape" and "targets its instances" in r.get_text()
        for r in shapes
    )


def test_a_property_page_shows_domain_range_uses_and_constraints(site):
    soup = check_structure(get(site, "/page/ontology/epistemicStatus").text)
    facts = term_facts(soup)
    assert facts["Domain"].a["href"] == "/page/ontology/Claim"
    assert facts["Statements using it"].get_text().strip() == "119"
    constraint = soup.select_one("#term tbody tr")
    assert "constrains this property" in constraint.get_text()
    assert "exactly one epistemic status" in constraint.get_text()


def test_a_concept_page_shows_its_notation_and_the_shapes_allowing_it(site):
    soup = check_structure(get(site, "/page/ontology/epistemic-status/asserted").text)
    assert soup.h1.get_text() == "asserted"
    assert soup.select_one("#term code").get_text() == "asserted"
    assert "allows this value" in soup.select_one("#term tbody").get_text()


def test_a_shape_page_shows_its_lists_as_lists(site):
    soup = check_structure(get(site, "/page/shapes/ClaimShape").text)
    lists = [
        [li.get_text(strip=True) for li in ol.find_all("li", recursive=False)]
        for ol in soup.select("ol.rdf-list")
    ]
    assert ["affirmed", "negated"] in lists
    statuses = next(items for items in lists if "asserted" in items)
    assert statuses[:3] == ["asserted", "reported", "announced"]


def test_the_validation_report_page(site):
    response = get(site, "/validation")
    soup = check_structure(response.text)
    assert "conforms" in soup.select_one(".verdict")["class"]
    counts = {div.dt.get_text(): div.dd.get_text() for div in soup.select(".counts div")}
    assert counts["Violations"] == "0"
    assert int(counts["Triples validated"]) > 4000
    turtle = get(site, "/validation.ttl")
    assert turtle.headers["Content-Type"] == "text/turtle; charset=utf-8"
    graph = rdflib.Graph().parse(data=turtle.text, format="turtle")
    assert (None, SH.conforms, rdflib.Literal(True)) in graph
    assert json.loads(get(site, "/validation.json").text)["conforms"] is True


@pytest.mark.parametrize(
    ("accept", "media_type", "document"),
    [
        ("text/turtle", "text/turtle; charset=utf-8", "/validation.ttl"),
        ("application/json", "application/json", "/validation.json"),
    ],
)
def test_the_validation_report_is_negotiated(site, accept, media_type, document):
    response = get(site, "/validation", accept=accept)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == media_type
    assert response.headers["Content-Location"] == document
    assert "Accept" in response.headers["Vary"]
    assert response.content == get(site, document).content
    assert get(site, "/validation", accept="text/csv").status_code == 406


def test_data_published_without_shapes_has_no_report(server):
    soup = check_structure(get(server, "/validation").text)
    assert "without SHACL shapes" in soup.main.get_text()
    missing = get(server, "/validation.ttl", accept="application/json")
    assert missing.status_code == 404
    assert missing.json()["status"] == 404


def test_an_unknown_term_is_404(site):
    assert get(site, "/ontology/Claimm", accept=BROWSER).status_code == 404
