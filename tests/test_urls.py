"""communique.urls: IRIs to this server's URLs and back."""

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

from communique import urls
from communique.namespaces import DEFAULT_BASE
from communique.urls import DOCUMENT_FORMATS, UrlBuilder, is_linkable, root_path

URLS = UrlBuilder(DEFAULT_BASE)
MOVED = UrlBuilder("https://kg.example.org/data/", root="/kg/")


def test_page_and_data_urls_of_an_entity():
    iri = DEFAULT_BASE + "id/north-korea"
    assert URLS.local_url(iri) == "/id/north-korea"
    assert URLS.page_url(iri) == "/page/id/north-korea"
    assert URLS.data_url(iri, "turtle") == "/data/id/north-korea.ttl"
    assert URLS.data_url(iri, "rdfxml") == "/data/id/north-korea.rdf"


def test_the_ontology_iri_ends_with_a_slash_and_still_round_trips():
    iri = DEFAULT_BASE + "ontology/"
    assert URLS.page_url(iri) == "/page/ontology/"
    assert URLS.data_url(iri, "jsonld") == "/data/ontology/.jsonld"
    assert URLS.iri_for_data_path("ontology/.jsonld") == (iri, "jsonld")


def test_data_moves_with_the_base_but_the_vocabulary_does_not():
    assert MOVED.page_url("https://kg.example.org/data/id/x") == "/kg/page/id/x"
    assert MOVED.page_url(DEFAULT_BASE + "ontology/Claim") == "/kg/page/ontology/Claim"
    assert not MOVED.is_ours(DEFAULT_BASE + "id/x")
    assert MOVED.iri_for_path("id/x") == "https://kg.example.org/data/id/x"
    assert MOVED.iri_for_path("shapes/ClaimShape") == DEFAULT_BASE + "shapes/ClaimShape"


@pytest.mark.parametrize(
    "iri",
    [
        "https://example.org/id/x",
        DEFAULT_BASE + "elsewhere/x",
        DEFAULT_BASE + "id",
        "javascript:alert(1)",
        DEFAULT_BASE,
    ],
)
def test_iris_outside_our_namespaces_are_not_ours(iri):
    assert not URLS.is_ours(iri)
    with pytest.raises(ValueError):
        URLS.page_url(iri)


@pytest.mark.parametrize(
    "path",
    [
        "id/../etc/passwd",
        "id/./x",
        "id/..",
        "id/a\\b",
        "id/a\x00b",
        "id/a\nb",
        "id/a b",
        "id/a>b",
        "id/a%zz",
        "etc/passwd",
        "page/id/x",
        "id",
        "",
    ],
)
def test_malformed_or_foreign_paths_name_no_iri(path):
    assert URLS.iri_for_path(path) is None


@pytest.mark.parametrize(
    "iri",
    [
        DEFAULT_BASE + "id/x?y=1",
        DEFAULT_BASE + "id/a#b",
        DEFAULT_BASE + "id/a%2Fb",
        DEFAULT_BASE + "id/a%25b",
        DEFAULT_BASE + "id/caf%C3%A9",
        DEFAULT_BASE + "id/café",
        DEFAULT_BASE + "id/x.ttl",
        DEFAULT_BASE + "id/a//b",
        DEFAULT_BASE + "graph/source/second-summit-article",
    ],
)
def test_iris_needing_escapes_round_trip(iri):
    from urllib.parse import unquote

    page = URLS.page_url(iri)
    assert "?" not in page and "#" not in page
    assert URLS.iri_for_path(unquote(page.removeprefix("/page/"))) == iri
    for name in DOCUMENT_FORMATS:
        data = unquote(URLS.data_url(iri, name).removeprefix("/data/"))
        assert URLS.iri_for_data_path(data) == (iri, name)


SEGMENT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"),
    min_size=1,
    max_size=12,
).filter(lambda segment: segment not in (".", ".."))


@given(st.lists(SEGMENT, min_size=1, max_size=3))
def test_any_valid_iri_round_trips(segments):
    from urllib.parse import quote, unquote

    iri = DEFAULT_BASE + "id/" + "/".join(quote(s, safe="") for s in segments)
    page = URLS.page_url(iri)
    assert URLS.iri_for_path(unquote(page.removeprefix("/page/"))) == iri


def test_unknown_document_suffix_names_nothing():
    assert URLS.iri_for_data_path("id/north-korea.exe") is None
    assert URLS.iri_for_data_path("id/north-korea") is None


def test_root_path_comes_from_the_public_url():
    assert root_path("https://staging.example.org/kg/") == "/kg/"
    assert root_path("http://localhost:8080") == "/"
    assert root_path(None, "/mounted") == "/mounted/"
    assert root_path(None) == "/"


@pytest.mark.parametrize(
    ("iri", "linkable"),
    [
        ("https://www.wikidata.org/wiki/Q423", True),
        ("http://www.wikidata.org/entity/Q423", True),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("urn:isbn:0451450523", False),
        ("mailto:someone@example.org", False),
        ("http:/no-host", False),
    ],
)
def test_only_http_iris_become_external_links(iri, linkable):
    assert is_linkable(iri) is linkable


def test_docstring_examples_hold():
    assert doctest.testmod(urls).failed == 0
