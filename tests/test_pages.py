"""Linked-data pages on real servers: dereferencing, documents, pages, caching, hostile input.

Two servers: the bundled graph (``servers()``, shared with other test modules) and a small
``--data`` fixture under another base IRI, whose labels try to inject markup and whose hub has
more backlinks than one page shows.
"""

import http.client
import itertools
import json
import re
from urllib.parse import urlsplit

import lxml.html
import pytest
import rdflib
import requests
from bs4 import BeautifulSoup
from rdflib.compare import isomorphic

from communique.web.app import create_app

ID = "https://w3id.org/communique/id/"
CQ = "https://w3id.org/communique/ontology/"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
HOSTILE_BASE = "https://kg.example.org/"
SPOKES = 130
FORMAT_MEDIA_TYPES = {
    "ttl": "text/turtle; charset=utf-8",
    "nt": "application/n-triples",
    "jsonld": "application/ld+json",
    "rdf": "application/rdf+xml",
}
RDFLIB_FORMATS = {"ttl": "turtle", "nt": "nt", "jsonld": "json-ld", "rdf": "xml"}

HOSTILE_DATA = f"""\
@prefix ex: <{HOSTILE_BASE}id/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .

ex:evil a ex:Thing ;
    rdfs:label "<script>alert(1)</script>"@en ;
    skos:altLabel "\\"><img src=x onerror=alert(1)>" ;
    rdfs:comment "</script><script>alert(2)</script><!--" ;
    ex:link <javascript:alert(1)>, <JavaScript:alert(3)>, ex:hub ;
    ex:next [ rdfs:label "<svg onload=alert(4)>" ; ex:deeper [ ex:value "'onclick='alert(5)" ] ] .
ex:link rdfs:label "<b onmouseover=alert(6)>link</b>" .
<javascript:alert(1)> rdfs:label "click me" .
<{HOSTILE_BASE}id/odd?name=a%20b&x=1> rdfs:label "An IRI with a query" ; ex:link ex:hub .

ex:hub rdfs:label "Hub"@en, "허브"@ko, "ศูนย์กลาง"@th .
""" + "".join(
    f'ex:spoke{i:03d} ex:pointsTo ex:hub ; rdfs:label "Spoke {i}" .\n' for i in range(SPOKES)
)


# --- servers and helpers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(servers):
    """The bundled graph."""
    return servers()


@pytest.fixture(scope="module")
def hostile_file(tmp_path_factory):
    data = tmp_path_factory.mktemp("hostile") / "hostile.ttl"
    data.write_text(HOSTILE_DATA, encoding="utf-8")
    return data


@pytest.fixture(scope="module")
def hostile(servers, hostile_file):
    return servers("--data", str(hostile_file), "--base", HOSTILE_BASE)


def get(server, path, accept=BROWSER, **headers):
    headers = {"Accept": accept, **headers} if accept else headers
    return requests.get(
        server.url + path.lstrip("/"), headers=headers, allow_redirects=False, timeout=30
    )


def raw_get(server, target: str) -> http.client.HTTPResponse:
    """A GET whose request target is sent exactly as given (no client normalisation)."""
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.putrequest("GET", target, skip_accept_encoding=True)
    connection.putheader("Accept", BROWSER)
    connection.endheaders()
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


def soup_of(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


HEADING = re.compile(r"^h[1-6]$")


def check_structure(html: str) -> BeautifulSoup:
    """The page's accessibility and safety rules (see the module docstring of web/pages)."""
    soup = BeautifulSoup(html, "html.parser")
    assert soup.html.get("lang")
    assert soup.find("title").get_text(strip=True)
    for landmark in ("header", "nav", "main", "footer"):
        assert soup.find(landmark) is not None, landmark
    assert soup.body.find("a")["href"] == "#main"
    assert len(soup.find_all("h1")) == 1
    levels = [int(h.name[1]) for h in soup.find_all(HEADING)]
    assert levels[0] == 1
    for before, after in itertools.pairwise(levels):
        assert after <= before + 1, f"heading h{after} follows h{before}"
    for field in soup.find_all(["input", "select", "textarea"]):
        if field.get("type") == "hidden":
            continue
        assert field.get("aria-label") or soup.find("label", attrs={"for": field.get("id")})
    for picture in soup.find_all("svg"):
        assert picture.get("role") == "img"
        for reference in picture["aria-labelledby"].split():
            assert picture.find(id=reference) is not None
    search = soup.find("form", attrs={"role": "search"})
    assert search["action"] == "/search" and search.find("input", id="q")["name"] == "q"
    ids = [element["id"] for element in soup.find_all(id=True)]
    assert len(ids) == len(set(ids)), "ids are unique"
    assert_inert(soup)
    documents = [s for s in soup.find_all("script") if s.get("type") == "application/ld+json"]
    for document in documents:
        assert "@context" in json.loads(document.string)
    return soup


def assert_inert(soup: BeautifulSoup) -> None:
    """Nothing executable but JSON-LD data blocks and static scripts; nothing inline-styled."""
    for script in soup.find_all("script"):
        assert script.get("type") == "application/ld+json" or (
            script.get("src", "").startswith("/static/") and not script.string
        )
    assert soup.find("style") is None
    for element in soup.find_all(True):
        for name, value in element.attrs.items():
            assert not name.lower().startswith("on"), f"{element.name} has {name}"
            assert name != "style"
            if name in ("href", "src", "action", "xlink:href"):
                assert not value.strip().lower().startswith(("javascript:", "data:"))


def json_ld(soup: BeautifulSoup) -> dict:
    (block,) = soup.find_all("script", attrs={"type": "application/ld+json"})
    return json.loads(block.string)


# --- dereferencing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "location"),
    [
        (BROWSER, "/page/id/north-korea"),
        ("text/html", "/page/id/north-korea"),
        ("*/*", "/page/id/north-korea"),
        (None, "/page/id/north-korea"),
        ("text/turtle", "/data/id/north-korea.ttl"),
        ("application/n-triples", "/data/id/north-korea.nt"),
        ("text/plain", "/data/id/north-korea.nt"),
        ("application/ld+json", "/data/id/north-korea.jsonld"),
        ("application/json", "/data/id/north-korea.jsonld"),
        ("application/rdf+xml", "/data/id/north-korea.rdf"),
        ("text/html;q=0.5, text/turtle", "/data/id/north-korea.ttl"),
        ("application/rdf+xml;q=0.9, text/html;q=0.1", "/data/id/north-korea.rdf"),
    ],
)
def test_an_iri_redirects_to_its_page_or_document_by_accept(site, accept, location):
    response = get(site, "/id/north-korea", accept=accept)
    assert response.status_code == 303
    assert response.headers["Location"] == location
    assert "Accept" in response.headers["Vary"]
    links = response.headers["Link"]
    for target in ("/page/id/north-korea", "/data/id/north-korea.ttl", "/data/id/north-korea.rdf"):
        assert f"<{target}>" in links
    assert links.count('rel="alternate"') == 5


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/ontology/Claim", "/page/ontology/Claim"),
        ("/ontology/", "/page/ontology/"),
        ("/ontology/epistemic-status/asserted", "/page/ontology/epistemic-status/asserted"),
        ("/graph/background", "/page/graph/background"),
        ("/shapes/ClaimShape", "/page/shapes/ClaimShape"),
        ("/id/source/second-summit-article", "/page/id/source/second-summit-article"),
    ],
)
def test_every_namespace_dereferences(site, path, location):
    response = get(site, path)
    assert (response.status_code, response.headers["Location"]) == (303, location)
    assert get(site, location).status_code == 200


def test_an_unacceptable_type_is_refused_with_406(site):
    response = get(site, "/id/north-korea", accept="image/png")
    assert response.status_code == 406


@pytest.mark.parametrize("suffix", FORMAT_MEDIA_TYPES)
def test_a_document_suffix_overrides_accept(site, suffix):
    response = get(site, f"/data/id/north-korea.{suffix}", accept="text/html")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == FORMAT_MEDIA_TYPES[suffix]
    assert '</page/id/north-korea>; rel="alternate"; type="text/html"' in response.headers["Link"]
    graph = rdflib.Graph().parse(data=response.content, format=RDFLIB_FORMATS[suffix])
    assert (rdflib.URIRef(ID + "north-korea"), None, None) in graph


def describe_via_sparql(site, iri: str) -> rdflib.Graph:
    response = requests.get(
        site.sparql,
        params={"query": f"DESCRIBE <{iri}>"},
        headers={"Accept": "application/n-triples"},
        timeout=30,
    )
    response.raise_for_status()
    return rdflib.Graph().parse(data=response.content, format="nt")


@pytest.mark.parametrize(
    "iri",
    [
        ID + "north-korea",
        ID + "first-trump-kim-summit",
        ID + "second-summit-article/claim/first-summit-held",
        ID + "membership/donald-trump-president-of-the-united-states",
        ID + "source/second-summit-article",
        CQ + "Claim",
        CQ,
        "https://w3id.org/communique/shapes/ClaimShape",
    ],
)
def test_the_document_equals_what_sparql_describe_gives(site, iri):
    expected = describe_via_sparql(site, iri)
    assert len(expected) > 0
    path = "/data/" + iri.removeprefix("https://w3id.org/communique/")
    for suffix, rdflib_format in RDFLIB_FORMATS.items():
        response = get(site, f"{path}.{suffix}")
        assert response.status_code == 200, (path, suffix)
        document = rdflib.Graph().parse(data=response.content, format=rdflib_format)
        assert isomorphic(document, expected), (iri, suffix)


# --- caching ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/page/id/north-korea", "/data/id/north-korea.ttl", "/"])
def test_pages_and_documents_revalidate_with_304(site, path):
    first = get(site, path)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "public, max-age=300"
    assert {"Accept", "Accept-Language"} <= {v.strip() for v in first.headers["Vary"].split(",")}
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert get(site, path, **{"If-None-Match": etag}).status_code == 304
    assert get(site, path, **{"If-Modified-Since": modified}).status_code == 304
    assert get(site, path, **{"If-None-Match": '"other"'}).status_code == 200


def test_the_etag_depends_on_the_language_and_the_format(site):
    english = get(site, "/page/id/north-korea", **{"Accept-Language": "en"}).headers["ETag"]
    korean = get(site, "/page/id/north-korea", **{"Accept-Language": "ko"}).headers["ETag"]
    turtle = get(site, "/data/id/north-korea.ttl").headers["ETag"]
    ntriples = get(site, "/data/id/north-korea.nt").headers["ETag"]
    assert len({english, korean, turtle, ntriples}) == 4


# --- pages ------------------------------------------------------------------------------------


def test_resource_page_structure_and_metadata(site):
    response = get(site, "/page/id/north-korea")
    assert response.status_code == 200
    soup = check_structure(response.text)
    assert soup.h1.get_text() == "North Korea"
    alternates = {link["type"]: link["href"] for link in soup.find_all("link", rel="alternate")}
    assert alternates["text/turtle"] == "/data/id/north-korea.ttl"
    assert alternates["application/ld+json"] == "/data/id/north-korea.jsonld"
    described = json_ld(soup)
    assert described["@id"] == ID + "north-korea"
    assert described["name"] == "North Korea"
    assert "http://www.wikidata.org/entity/Q423" in described["sameAs"]


def test_same_as_links_go_out_to_wikidata_and_geonames(site):
    soup = soup_of(get(site, "/page/id/north-korea"))
    external = {a["href"]: a for a in soup.select(".same-as a")}
    assert set(external) == {
        "http://www.wikidata.org/entity/Q423",
        "https://sws.geonames.org/1873107/",
    }
    for link in external.values():
        assert "noopener" in link["rel"] and "external" in link["class"]
    assert external["https://sws.geonames.org/1873107/"].get_text() == "GeoNames 1873107"


def test_links_to_our_resources_stay_on_the_server(site):
    soup = soup_of(get(site, "/page/id/first-trump-kim-summit"))
    hrefs = [a["href"] for a in soup.select("#properties a")]
    assert "/page/id/donald-trump" in hrefs
    assert not any(h.startswith("https://w3id.org/communique/") for h in hrefs)
    assert soup.find("a", href="/page/id/donald-trump")["title"] == "id:donald-trump"


def test_predicates_show_labels_with_prefixed_names_on_hover(site):
    soup = soup_of(get(site, "/page/id/first-trump-kim-summit"))
    lifecycle = soup.find("a", href="/page/ontology/lifecycle")
    assert lifecycle.get_text() == "lifecycle stage" and lifecycle["title"] == "cq:lifecycle"


def test_blank_nodes_are_nested_descriptions_not_identifiers(site):
    soup = soup_of(get(site, "/page/id/first-trump-kim-summit"))
    nested = soup.select("#properties dl.properties.nested")
    assert nested, "the time of the summit is a nested description"
    assert "2018-06-12" in nested[0].get_text()
    assert "_:" not in soup.select_one("#properties").get_text()


@pytest.mark.parametrize(
    ("language", "name", "tag"),
    [
        ("ko", "조선민주주의인민공화국", "ko"),
        ("ko-KR,en;q=0.5", "조선민주주의인민공화국", "ko"),
        ("fr, en;q=0.5", "North Korea", "en"),
        ("de", "North Korea", "en"),
    ],
)
def test_accept_language_picks_the_title(site, language, name, tag):
    soup = soup_of(get(site, "/page/id/north-korea", **{"Accept-Language": language}))
    assert (soup.h1.get_text(), soup.h1["lang"]) == (name, tag)


@pytest.mark.parametrize(("path", "name"), [("thailand", "ประเทศไทย"), ("vietnam", "Việt Nam")])
def test_other_scripts_are_served_as_they_are(site, path, name):
    soup = soup_of(get(site, f"/page/id/{path}", **{"Accept-Language": "th, vi"}))
    assert soup.h1.get_text() == name


def test_entity_pages_show_the_claims_about_them(site):
    soup = soup_of(get(site, "/page/id/thailand"))
    claims = soup.select("#claims article.claim")
    assert len(claims) == int(re.search(r"\((\d+)\)", soup.select_one("#claims h2").get_text())[1])
    statuses = {badge.get_text() for badge in soup.select("#claims .badge.status")}
    assert {"asserted", "mentioned"} <= statuses
    quote = soup.select_one("#claims blockquote a")
    assert quote["href"].startswith("/page/id/source/second-summit-article?highlight=")


def test_a_claim_page_shows_status_polarity_attribution_and_evidence(site):
    response = get(site, "/page/id/second-summit-article/claim/inventory-not-taken")
    soup = check_structure(response.text)
    card = soup.select_one("#claim article.claim")
    assert card.select_one(".status-asserted").get_text() == "asserted"
    assert card.select_one(".polarity-negated").get_text() == "negated"
    quote = card.select_one("blockquote a")
    assert quote.get_text() == "That hasn’t happened"
    assert (
        quote["href"] == "/page/id/source/second-summit-article?highlight=3185-3205#span-3185-3205"
    )
    assert "Claim" in json_ld(soup)["@type"]


def test_a_reported_claim_names_who_it_is_attributed_to(site):
    soup = soup_of(get(site, "/page/id/second-summit-article/claim/critics-long-game"))
    attribution = soup.select_one("#claim .claim-attribution a")
    assert attribution["href"] == "/page/id/second-summit-article/agent/critics-of-trumps-gambit"


def schema_text(site, iri: str) -> str:
    query = f"SELECT ?text WHERE {{ <{iri}> <https://schema.org/text> ?text }}"
    response = requests.get(
        site.sparql, params={"query": query}, headers={"Accept": "application/json"}, timeout=30
    )
    return response.json()["results"]["bindings"][0]["text"]["value"]


def test_the_source_page_reproduces_the_text_with_claims_highlighted(site):
    path = "/page/id/source/second-summit-article"
    response = get(site, path + "?highlight=3185-3205")
    soup = check_structure(response.text)
    (shown,) = lxml.html.fromstring(response.text).find_class("source-text")
    assert shown.text_content() == schema_text(site, ID + "source/second-summit-article")
    text = soup.select_one(".source-text")
    marks = text.select("mark.evidence")
    assert len(marks) > 100
    entries = {li["id"] for li in soup.select(".evidence-list > li")}
    for mark in marks:
        assert mark.parent["href"].removeprefix("#") in entries
    highlighted = text.select("mark.highlighted")
    assert "".join(m.get_text() for m in highlighted) == "That hasn’t happened"
    assert highlighted[0]["id"] == "span-3185-3205"
    assert "fact-bearing sentences" in soup.select_one(".coverage").get_text()


def test_an_evidence_entry_lists_its_claims(site):
    soup = soup_of(get(site, "/page/id/source/second-summit-article"))
    entry = soup.find(id="evidence-3185-3205")
    claims = [
        a["href"] for a in entry.select("li a[href^='/page/id/second-summit-article/claim/']")
    ]
    assert "/page/id/second-summit-article/claim/inventory-not-taken" in claims
    assert entry.select_one(".badge.status")


@pytest.mark.parametrize("value", ["abc", "9-3", "1-", "-5", "1-2-3", "1" * 20 + "-2"])
def test_a_malformed_highlight_is_a_bad_request(site, value):
    response = get(site, "/page/id/source/second-summit-article?highlight=" + value)
    assert response.status_code == 400


def test_home_page_counts_timeline_and_charts(site):
    response = get(site, "/")
    soup = check_structure(response.text)
    counts = {div.dt.get_text(): int(div.dd.get_text()) for div in soup.select(".counts div")}
    assert counts["Claims"] == 119 and counts["Sources"] == 1
    timeline = soup.select_one("#timeline svg")
    assert timeline.find("a", href="/page/id/first-trump-kim-summit")
    assert timeline.select("rect.planned"), "the planned second summit is a window"
    assert "Korean War" in soup.select_one("#timeline").get_text()
    assert len(soup.select("#statistics svg")) == 2
    assert soup.find("a", href="/page/id/source/second-summit-article")


def test_class_listing_is_paged(site):
    response = get(site, "/classes")
    soup = check_structure(response.text)
    listing = soup.find("a", href=re.compile(r"class=https%3A%2F%2Fschema.org%2FCountry"))
    assert listing is not None
    claims = "/classes/instances?class=" + requests.utils.quote(CQ + "Claim", safe="")
    first = check_structure(get(site, claims).text)
    assert "Showing 1–50 of 119" in first.select_one(".pager").get_text()
    assert len(first.select("ol.instances li")) == 50
    third = soup_of(get(site, claims + "&offset=100"))
    assert len(third.select("ol.instances li")) == 19
    assert third.select_one(".pager a[rel=prev]") and not third.select_one(".pager a[rel=next]")


@pytest.mark.parametrize("query", ["?class=not%20an%20iri", "?class=", "?class=x&offset=-1"])
def test_class_listing_refuses_bad_parameters(site, query):
    assert get(site, "/classes/instances" + query).status_code == 400


# --- not found, traversal, redirects ----------------------------------------------------------


@pytest.mark.parametrize("accept", ["application/json", "text/turtle"])
def test_machines_get_the_json_error_for_an_unknown_iri(site, accept):
    response = get(site, "/id/nort-korea", accept=accept)
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_an_unknown_iri_gets_a_helpful_404(site):
    response = get(site, "/id/nort-korea")
    assert response.status_code == 404
    soup = check_structure(response.text)
    assert soup.find("a", href="/page/id/north-korea")
    assert soup.find("a", href=re.compile(r"^/search\?q="))
    assert get(site, "/page/id/nort-korea").status_code == 404
    assert get(site, "/data/id/nort-korea.ttl").status_code == 404


@pytest.mark.parametrize(
    "target",
    [
        "/id/../etc/passwd",
        "/page/id/../../etc/passwd",
        "/page/id/%2e%2e/%2e%2e/etc/passwd",
        "/page/id/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/data/id/..%2f..%2fetc%2fpasswd.ttl",
        "/page/id/north-korea%2F..",
        "/page/id/a%5c..%5cb",
        "/id/north%2Dkorea%2f",
        "/page/elsewhere/x",
        "/data/id/north-korea.exe",
        "/page/id/a%3Eb",
    ],
)
def test_traversal_and_malformed_paths_are_404(site, target):
    response = raw_get(site, target)
    assert response.status == 404, target
    assert response.getheader("Location") is None


@pytest.mark.parametrize("target", ["/page/id/a%00b", "/id/a%0d%0aLocation:%20//evil"])
def test_control_characters_in_a_path_are_refused(site, target):
    response = raw_get(site, target)
    assert response.status in (400, 404)
    assert response.getheader("Location") is None


@pytest.mark.parametrize(
    "target",
    [
        "/id//evil.example.org/x",
        "/id/https://evil.example.org/",
        "/id/%2F%2Fevil.example.org",
        "/id/\\evil.example.org",
        "/ontology//evil.example.org",
    ],
)
def test_nothing_redirects_off_the_server(site, target):
    response = raw_get(site, target)
    location = response.getheader("Location")
    assert response.status in (303, 404)
    if location is not None:
        assert location.startswith("/") and not location.startswith(("//", "/\\"))


def test_an_iri_with_a_query_part_round_trips(hostile):
    soup = soup_of(get(hostile, "/page/id/hub"))
    link = soup.find("a", string="An IRI with a query")
    assert link["href"] == "/page/id/odd%3Fname=a%2520b&x=1"
    page = get(hostile, link["href"])
    assert page.status_code == 200
    assert (
        soup_of(page).select_one(".iri code").get_text() == HOSTILE_BASE + "id/odd?name=a%20b&x=1"
    )
    document = get(hostile, "/data/id/odd%3Fname=a%2520b&x=1.ttl")
    graph = rdflib.Graph().parse(data=document.content, format="turtle")
    assert (rdflib.URIRef(HOSTILE_BASE + "id/odd?name=a%20b&x=1"), None, None) in graph


# --- another base, hostile data, paging -------------------------------------------------------


def test_data_under_another_base_dereferences_here(hostile):
    response = get(hostile, "/id/hub")
    assert (response.status_code, response.headers["Location"]) == (303, "/page/id/hub")
    assert get(hostile, "/id/hub", accept="text/turtle").headers["Location"] == "/data/id/hub.ttl"
    assert get(hostile, "/page/id/hub").status_code == 200


@pytest.mark.parametrize(
    "path", ["/page/id/evil", "/page/id/hub", "/", "/classes", "/page/id/evil%3Cscript%3E"]
)
def test_hostile_labels_never_become_markup(hostile, path):
    response = get(hostile, path)
    assert response.status_code in (200, 404)
    soup = check_structure(response.text)
    html = response.text
    assert "<script>alert" not in html and "<img" not in html and "<svg onload" not in html
    assert "javascript:" not in "".join(a["href"] for a in soup.find_all("a", href=True)).lower()


def test_the_hostile_resource_renders_its_text_as_text(hostile):
    soup = check_structure(get(hostile, "/page/id/evil").text)
    assert soup.h1.get_text() == "<script>alert(1)</script>"
    assert soup.title.get_text().startswith("<script>alert(1)</script>")
    assert "</script><script>alert(2)</script><!--" in soup.select_one(".summary").get_text()
    described = json_ld(soup)
    assert described["name"] == "<script>alert(1)</script>"
    assert described["description"].startswith("</script>")
    shown = soup.find("span", class_="iri-text", string="click me")
    assert shown is not None and shown.find_parent("a") is None
    assert soup.find(string="<svg onload=alert(4)>") is not None
    assert soup.find(string="'onclick='alert(5)") is not None


def test_backlinks_are_counted_and_paged(hostile):
    soup = check_structure(get(hostile, "/page/id/hub").text)
    pager = soup.select_one("#incoming .pager")
    total = SPOKES + 2
    assert f"Showing 1–50 of {total}" in pager.get_text()
    counts = {
        dt.a.get_text(): dt.select_one(".count").get_text() for dt in soup.select("#incoming dt")
    }
    assert counts["pointsTo"] == f"({SPOKES})"
    seen = 0
    href = pager.select_one("a[rel=next]")["href"]
    seen += len(soup.select("#incoming dd a"))
    while href:
        page = soup_of(get(hostile, href))
        seen += len(page.select("#incoming dd a"))
        following = page.select_one("#incoming .pager a[rel=next]")
        href = following["href"] if following else None
    assert seen == total
    last = soup_of(get(hostile, f"/page/id/hub?incoming={total - total % 50}"))
    assert (
        f"Showing {total - total % 50 + 1}–{total} of {total}"
        in last.select_one(".pager").get_text()
    )


def test_a_property_used_only_as_a_predicate_has_a_page(hostile):
    soup = soup_of(get(hostile, "/page/id/hub"))
    predicate = soup.find("a", string="pointsTo")
    page = get(hostile, predicate["href"])
    assert page.status_code == 200
    assert f"Used as the property of {SPOKES} statements" in page.text
    assert get(hostile, "/id/pointsTo").status_code == 303


@pytest.mark.parametrize(
    "query", ["incoming=-1", "incoming=abc", "claims=1e3", "incoming=" + "9" * 30]
)
def test_paging_parameters_must_be_small_whole_numbers(hostile, query):
    assert get(hostile, "/page/id/hub?" + query).status_code == 400


def test_the_neighbourhood_picture_says_how_many_are_left_out(hostile):
    soup = soup_of(get(hostile, "/page/id/hub"))
    picture = soup.select_one("#neighbourhood svg")
    assert len(picture.find_all("a")) == 12
    assert f"+{SPOKES + 2 - 12} more" in picture.get_text()


def test_each_worker_opens_its_own_handle_on_an_on_disk_store(
    servers, hostile_file, tmp_path_factory
):
    folder = tmp_path_factory.mktemp("store")
    on_disk = servers(
        *("--data", str(hostile_file), "--base", HOSTILE_BASE),
        *("--store-dir", str(folder), "--workers", "2"),
    )
    for _ in range(8):
        with requests.Session() as fresh_connection:
            page = fresh_connection.get(on_disk.url + "page/id/hub", timeout=30)
        assert page.status_code == 200
        assert "Showing 1–50 of" in page.text


def test_pages_of_a_server_under_a_public_url_link_under_its_path(dataset_files):
    """--public-url: links and redirects carry its path, whatever host the client used."""
    app = create_app(
        {
            "data": [str(p) for p in dataset_files],
            "base": "http://example.org/",
            "public_url": "https://proxy.example/kg/",
            "query_workers": 1,
        }
    )
    try:
        client = app.test_client()
        page = client.get("/page/id/x", headers={"Accept": "text/html"})
        assert page.status_code == 404
        soup = BeautifulSoup(page.get_data(as_text=True), "html.parser")
        assert soup.find("a", string="Browse classes")["href"] == "/kg/classes"
        assert soup.find("a", string="Ontology")["href"] == "/kg/page/ontology/"
    finally:
        app.extensions["communique"].close()
