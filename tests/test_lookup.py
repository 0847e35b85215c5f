"""``GET /lookup?iri=``: external identifiers to our resources, on a real server."""

import doctest

import pytest
import requests

from communique import external_links
from communique.errors import BadRequest
from communique.external_links import same_as_candidates


@pytest.fixture(scope="module")
def site(servers):
    return servers()


def lookup(site, headers=None, **params):
    return requests.get(
        site.url + "lookup", params=params, headers=headers, allow_redirects=False, timeout=30
    )


def test_docstring_examples_hold():
    assert doctest.testmod(external_links).failed == 0


@pytest.mark.parametrize(
    "iri",
    [
        "http://www.wikidata.org/entity/Q22686",
        "https://www.wikidata.org/entity/Q22686",
        "https://www.wikidata.org/wiki/Q22686",
        "http://www.wikidata.org/wiki/Q22686",
        "https://m.wikidata.org/wiki/Q22686",
        "https://www.wikidata.org/wiki/Special:EntityPage/Q22686",
        "https://www.wikidata.org/wiki/Special:EntityData/Q22686.json",
        "https://www.wikidata.org/wiki/Q22686#sitelinks-wikipedia",
        "wd:Q22686",
        "  http://www.wikidata.org/entity/Q22686  ",
    ],
)
def test_wikidata_spellings_lead_to_trump(site, iri):
    response = lookup(site, iri=iri)
    assert response.status_code == 303
    assert response.headers["Location"] == "/id/donald-trump"


@pytest.mark.parametrize(
    "iri",
    [
        "https://sws.geonames.org/1605651/",
        "http://sws.geonames.org/1605651/",
        "https://sws.geonames.org/1605651",
        "https://sws.geonames.org/1605651/about.rdf",
        "https://www.geonames.org/1605651/kingdom-of-thailand.html",
        "http://geonames.org/1605651",
    ],
)
def test_geonames_spellings_lead_to_thailand(site, iri):
    response = lookup(site, iri=iri)
    assert response.status_code == 303
    assert response.headers["Location"] == "/id/thailand"


def test_following_the_redirect_reaches_the_page(site):
    response = requests.get(
        site.url + "lookup",
        params={"iri": "http://www.wikidata.org/entity/Q22686"},
        headers={"Accept": "text/html"},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.url.endswith("/page/id/donald-trump")


def test_our_own_iri_leads_to_itself(site):
    response = lookup(site, iri="https://w3id.org/communique/id/vietnam")
    assert response.status_code == 303
    assert response.headers["Location"] == "/id/vietnam"


def test_unknown_identifier_is_404(site):
    response = lookup(site, iri="http://www.wikidata.org/entity/Q1")
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == 404 and "Q1" in body["error"]


def test_unknown_identifier_is_an_html_404_for_browsers(site):
    response = lookup(site, headers={"Accept": "text/html"}, iri="https://example.org/nothing")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"iri": ""},
        {"iri": "Q22686"},
        {"iri": "ftp://example.org/x"},
        {"iri": "javascript:alert(1)"},
        {"iri": "unknownprefix:Q1"},
        {"iri": "http://exa mple.org/"},
        {"iri": "http:///nohost"},
        {"iri": "http://example.org/" + "x" * 3000},
        {"iri": ["wd:Q1", "wd:Q2"]},
    ],
    ids=[
        "missing",
        "empty",
        "bare-id",
        "ftp",
        "javascript",
        "unknown-prefix",
        "space",
        "no-host",
        "too-long",
        "repeated",
    ],
)
def test_bad_parameters_are_400(site, params):
    response = lookup(site, **params)
    assert response.status_code == 400
    assert response.json()["status"] == 400


def test_candidates_put_the_canonical_spelling_first():
    assert same_as_candidates("https://www.wikidata.org/wiki/Property:P31")[0] == (
        "http://www.wikidata.org/entity/P31"
    )
    assert same_as_candidates("https://example.org/a?b#c") == ("https://example.org/a?b#c",)
    with pytest.raises(BadRequest):
        same_as_candidates("mailto:someone@example.org")
