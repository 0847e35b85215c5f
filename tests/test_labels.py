"""communique.labels: the label a reader sees, by Accept-Language, and names without labels."""

import doctest

import pytest

from communique import labels
from communique.labels import (
    best_label,
    fallback_label,
    local_name,
    parse_accept_language,
    prefixed_name,
)

NORTH_KOREA = {"en": "North Korea", "ko": "조선민주주의인민공화국"}


@pytest.mark.parametrize(
    ("header", "ranges"),
    [
        ("fr-CH, fr;q=0.9, en;q=0.8, *;q=0.5", ["fr-ch", "fr", "en", "*"]),
        ("en;q=0.2, ko", ["ko", "en"]),
        ("de;q=0, en", ["en"]),
        ("not a language!, en-GB", ["en-gb"]),
        ("en;q=2, ko;q=abc, th", ["th"]),
        ("", []),
        (None, []),
    ],
)
def test_accept_language_ranges_in_preference_order(header, ranges):
    assert parse_accept_language(header) == ranges


def test_a_long_header_is_read_only_so_far():
    header = ", ".join(f"x-{i}" for i in range(1000))
    assert len(parse_accept_language(header)) == 32


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ko", ("조선민주주의인민공화국", "ko")),
        ("ko-KR", ("조선민주주의인민공화국", "ko")),
        ("ko-Kore-KR", ("조선민주주의인민공화국", "ko")),
        ("de, ko;q=0.5", ("조선민주주의인민공화국", "ko")),
        ("de", ("North Korea", "en")),
        (None, ("North Korea", "en")),
        ("*", ("North Korea", "en")),
    ],
)
def test_lookup_falls_back_along_the_ranges_then_to_english(header, expected):
    assert best_label(NORTH_KOREA, header) == expected


def test_a_range_finds_a_longer_tag_it_prefixes():
    assert best_label({"en-GB": "colour", "fr": "couleur"}, "en") == ("colour", "en-GB")


def test_a_private_use_singleton_is_dropped_with_the_subtag_after_it():
    assert best_label({"zh": "中国"}, "zh-x-private") == ("中国", "zh")


def test_untagged_comes_after_english_and_before_any_other():
    assert best_label({"": "plain", "fr": "français"}, "de") == ("plain", "")
    assert best_label({"": "plain", "en": "English"}, "de") == ("English", "en")
    assert best_label({"th": "ไทย", "fr": "français"}, "de") == ("français", "fr")


def test_no_labels_no_choice():
    assert best_label({}, "en") is None


def test_tags_match_whatever_their_case():
    assert best_label({"zh-Hant": "中國"}, "ZH-hant") == ("中國", "zh-Hant")


def test_prefixed_and_local_names():
    assert prefixed_name("http://www.w3.org/2000/01/rdf-schema#label") == "rdfs:label"
    assert prefixed_name("https://example.org/x") is None
    assert local_name("https://w3id.org/communique/id/caf%C3%A9") == "café"
    assert local_name("https://w3id.org/communique/ontology/") == "ontology"


@pytest.mark.parametrize(
    ("iri", "ours", "name"),
    [
        ("http://www.w3.org/1999/02/22-rdf-syntax-ns#type", False, "type"),
        ("https://w3id.org/communique/id/north-korea", True, "north-korea"),
        ("http://www.wikidata.org/entity/Q423", False, "Wikidata Q423"),
        ("https://sws.geonames.org/1873107/", False, "GeoNames 1873107"),
        ("http://semanticweb.cs.vu.nl/2009/11/sem/hasActor", False, "sem:hasActor"),
        ("https://example.org/thing", False, "https://example.org/thing"),
    ],
)
def test_fallback_names(iri, ours, name):
    assert fallback_label(iri, ours=ours) == name


def test_docstring_examples_hold():
    assert doctest.testmod(labels).failed == 0
