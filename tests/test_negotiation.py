"""Content negotiation: Accept, the format parameter and file suffixes, as one table each."""

import doctest

import pytest

from communique import negotiation
from communique.errors import NotAcceptable
from communique.negotiation import (
    BOOLEAN_FORMATS,
    FORMAT_TO_MEDIA_TYPE,
    GRAPH_FORMATS,
    SOLUTIONS_FORMATS,
    choose_format,
    parse_accept,
)

PAGE_FORMATS = ("html", *GRAPH_FORMATS)
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
CHROME = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
SPARQLWRAPPER_JSON = (
    "application/sparql-results+json,application/json,text/javascript,application/javascript"
)


@pytest.mark.parametrize(
    ("accept", "offered", "default", "expected"),
    [
        (None, SOLUTIONS_FORMATS, "json", "json"),
        ("", GRAPH_FORMATS, "turtle", "turtle"),
        ("*/*", SOLUTIONS_FORMATS, "json", "json"),
        ("*", GRAPH_FORMATS, "turtle", "turtle"),
        ("application/sparql-results+xml", SOLUTIONS_FORMATS, "json", "xml"),
        ("text/csv", SOLUTIONS_FORMATS, "json", "csv"),
        ("text/tab-separated-values", SOLUTIONS_FORMATS, "json", "tsv"),
        ("TEXT/CSV; charset=UTF-8", SOLUTIONS_FORMATS, "json", "csv"),
        (SPARQLWRAPPER_JSON, SOLUTIONS_FORMATS, "json", "json"),
        ("application/json", SOLUTIONS_FORMATS, "json", "json"),
        ("application/json", GRAPH_FORMATS, "turtle", "jsonld"),
        ("application/xml", SOLUTIONS_FORMATS, "json", "xml"),
        ("text/xml", GRAPH_FORMATS, "turtle", "rdfxml"),
        ("text/plain", GRAPH_FORMATS, "turtle", "ntriples"),
        ("text/plain", SOLUTIONS_FORMATS, "json", "tsv"),
        ("application/turtle,text/turtle", GRAPH_FORMATS, "turtle", "turtle"),
        ("application/n-triples", GRAPH_FORMATS, "turtle", "ntriples"),
        ("application/n-quads", GRAPH_FORMATS, "turtle", "nquads"),
        ("application/trig", GRAPH_FORMATS, "turtle", "trig"),
        ("application/ld+json", GRAPH_FORMATS, "turtle", "jsonld"),
        ("application/rdf+xml", GRAPH_FORMATS, "turtle", "rdfxml"),
        ("text/n3", GRAPH_FORMATS, "turtle", "turtle"),
        # q-values: the highest wins; q=0 excludes even when a wildcard would match
        ("text/csv;q=0.5, text/tab-separated-values;q=0.9", SOLUTIONS_FORMATS, "json", "tsv"),
        ("application/sparql-results+json;q=0, */*", SOLUTIONS_FORMATS, "json", "xml"),
        ("text/*;q=0.9, text/turtle;q=0.1", GRAPH_FORMATS, "turtle", "turtle"),
        ("application/*", GRAPH_FORMATS, "turtle", "ntriples"),
        ("text/*", SOLUTIONS_FORMATS, "json", "csv"),
        ("application/ld+json;q=0.8, text/turtle;q=0.7", GRAPH_FORMATS, "turtle", "jsonld"),
        ("text/turtle, application/ld+json", GRAPH_FORMATS, "turtle", "turtle"),
        ("application/ld+json, text/turtle", GRAPH_FORMATS, "jsonld", "jsonld"),
        # browsers: HTML where offered, else the default rather than XML
        (FIREFOX, SOLUTIONS_FORMATS, "json", "json"),
        (CHROME, GRAPH_FORMATS, "turtle", "turtle"),
        (FIREFOX, PAGE_FORMATS, "html", "html"),
        (CHROME, PAGE_FORMATS, "html", "html"),
        ("application/xhtml+xml", PAGE_FORMATS, "turtle", "html"),
        # quoted strings and odd spacing
        (
            'text/turtle;profile="a,b;c";q=0.4, application/n-triples;q=0.3',
            GRAPH_FORMATS,
            "jsonld",
            "turtle",
        ),
        (" text/csv ; q=1.0 ,text/tab-separated-values;q=0.999", SOLUTIONS_FORMATS, "json", "csv"),
        # malformed ranges are skipped; nothing usable means no preference
        ("garbage, text/csv", SOLUTIONS_FORMATS, "json", "csv"),
        ("text/csv;q=2, text/tab-separated-values", SOLUTIONS_FORMATS, "json", "tsv"),
        ("text/csv;q=abc", SOLUTIONS_FORMATS, "json", "json"),
        (";;;,,,", GRAPH_FORMATS, "turtle", "turtle"),
        ('text/csv;x="unterminated', SOLUTIONS_FORMATS, "json", "json"),
        ("*/csv", SOLUTIONS_FORMATS, "json", "json"),
        ("text/csv;;", SOLUTIONS_FORMATS, "json", "csv"),
        ("application/json", BOOLEAN_FORMATS, "json", "json"),
    ],
)
def test_accept_header_chooses_format(accept, offered, default, expected):
    assert choose_format(accept, offered, default=default) == expected


@pytest.mark.parametrize(
    ("accept", "offered"),
    [
        ("text/turtle", BOOLEAN_FORMATS),
        ("image/png", SOLUTIONS_FORMATS),
        ("text/turtle", SOLUTIONS_FORMATS),
        ("application/sparql-results+json", GRAPH_FORMATS),
        ("*/*;q=0", GRAPH_FORMATS),
        ("text/html", GRAPH_FORMATS),
        ("text/*;q=0.9, text/turtle;q=0", GRAPH_FORMATS),
    ],
)
def test_nothing_acceptable_is_refused_with_the_offered_types(accept, offered):
    with pytest.raises(NotAcceptable) as raised:
        choose_format(accept, offered, default=offered[0])
    assert raised.value.status == 406
    assert raised.value.offered == [FORMAT_TO_MEDIA_TYPE[name] for name in offered]


@pytest.mark.parametrize(
    ("format_param", "offered", "expected"),
    [
        ("json", SOLUTIONS_FORMATS, "json"),
        ("json", GRAPH_FORMATS, "jsonld"),
        ("xml", SOLUTIONS_FORMATS, "xml"),
        ("xml", GRAPH_FORMATS, "rdfxml"),
        ("csv", SOLUTIONS_FORMATS, "csv"),
        ("TSV", SOLUTIONS_FORMATS, "tsv"),
        ("ttl", GRAPH_FORMATS, "turtle"),
        ("turtle", GRAPH_FORMATS, "turtle"),
        ("nt", GRAPH_FORMATS, "ntriples"),
        ("ntriples", GRAPH_FORMATS, "ntriples"),
        ("nq", GRAPH_FORMATS, "nquads"),
        ("nquads", GRAPH_FORMATS, "nquads"),
        ("trig", GRAPH_FORMATS, "trig"),
        ("jsonld", GRAPH_FORMATS, "jsonld"),
        ("json-ld", GRAPH_FORMATS, "jsonld"),
        ("rdfxml", GRAPH_FORMATS, "rdfxml"),
        ("rdf", GRAPH_FORMATS, "rdfxml"),
        ("text/turtle", GRAPH_FORMATS, "turtle"),
        ("application/sparql-results+json", SOLUTIONS_FORMATS, "json"),
        ("text/csv; charset=utf-8", SOLUTIONS_FORMATS, "csv"),
        ("html", PAGE_FORMATS, "html"),
        ("n3", GRAPH_FORMATS, "turtle"),
        (["tsv", "text/tab-separated-values"], SOLUTIONS_FORMATS, "tsv"),
        (["rdf+xml", "application/rdf+xml"], GRAPH_FORMATS, "rdfxml"),
        (["json-ld", "application/ld+json,application/x-json+ld"], GRAPH_FORMATS, "jsonld"),
        (["yaml", "csv"], SOLUTIONS_FORMATS, "csv"),
        ("application/x-unknown, text/turtle", GRAPH_FORMATS, "turtle"),
    ],
)
def test_format_parameter_overrides_accept(format_param, offered, expected):
    chosen = choose_format(
        "application/x-other", offered, default=offered[0], format_param=format_param
    )
    assert chosen == expected


@pytest.mark.parametrize(
    ("format_param", "offered"),
    [
        ("csv", GRAPH_FORMATS),
        ("turtle", SOLUTIONS_FORMATS),
        ("yaml", SOLUTIONS_FORMATS),
        ("turtle", BOOLEAN_FORMATS),
        (["yaml", "toml"], GRAPH_FORMATS),
    ],
)
def test_format_parameter_naming_nothing_offered_is_refused(format_param, offered):
    with pytest.raises(NotAcceptable):
        choose_format("*/*", offered, default=offered[0], format_param=format_param)


@pytest.mark.parametrize(
    ("suffix", "expected"),
    [
        (".ttl", "turtle"),
        (".nt", "ntriples"),
        (".nq", "nquads"),
        (".trig", "trig"),
        (".jsonld", "jsonld"),
        (".rdf", "rdfxml"),
        (".json", "jsonld"),
        (".xml", "rdfxml"),
        (".html", "html"),
        (".TTL", "turtle"),
    ],
)
def test_suffix_overrides_format_parameter_and_accept(suffix, expected):
    chosen = choose_format(
        "text/turtle", PAGE_FORMATS, default="html", format_param="nt", suffix=suffix
    )
    assert chosen == expected


@pytest.mark.parametrize(
    ("suffix", "expected"), [(".json", "json"), (".xml", "xml"), (".csv", "csv"), (".tsv", "tsv")]
)
def test_result_suffixes(suffix, expected):
    assert choose_format(None, SOLUTIONS_FORMATS, default="json", suffix=suffix) == expected


def test_unknown_suffix_is_refused():
    with pytest.raises(NotAcceptable):
        choose_format(None, GRAPH_FORMATS, default="turtle", suffix=".yaml")


def test_default_must_be_offered():
    with pytest.raises(ValueError, match="not among"):
        choose_format(None, GRAPH_FORMATS, default="json")


def test_parse_accept_reads_types_and_qualities():
    ranges = parse_accept('Text/HTML;level=1, application/xml;q=0.5, */*;q=0.1;ext="x,y"')
    assert [(r.media_type, r.quality) for r in ranges] == [
        ("text/html", 1.0),
        ("application/xml", 0.5),
        ("*/*", 0.1),
    ]


def test_parse_accept_reads_a_bounded_number_of_ranges():
    header = ", ".join(f"application/x-{i}" for i in range(10_000))
    assert len(parse_accept(header)) == negotiation.MAX_MEDIA_RANGES


def test_every_format_has_a_media_type_that_names_it():
    for name, media_type in FORMAT_TO_MEDIA_TYPE.items():
        assert name in negotiation.MEDIA_TYPE_TO_FORMATS[media_type]


def test_docstring_examples():
    assert doctest.testmod(negotiation).failed == 0
