"""The plain-text table of `communique query`."""

import doctest

from communique import text_table
from communique.text_table import compact_iri, render_term, solutions_table


def test_docstring_examples():
    assert doctest.testmod(text_table).failed == 0


def test_columns_are_aligned_and_unbound_cells_empty():
    table = solutions_table(
        {
            "head": {"vars": ["a", "b"]},
            "results": {
                "bindings": [
                    {"a": {"type": "literal", "value": "short"}},
                    {
                        "a": {"type": "literal", "value": "a longer value"},
                        "b": {"type": "bnode", "value": "x1"},
                    },
                ]
            },
        }
    )
    lines = table.splitlines()
    assert lines[0] == "a               b"
    assert lines[2] == "short"
    assert lines[3] == "a longer value  _:x1"
    assert lines[-1] == "(2 rows)"


def test_empty_results_still_have_a_header():
    table = solutions_table({"head": {"vars": ["x"]}, "results": {"bindings": []}})
    assert table.splitlines() == ["x", "-", "(0 rows)"]


def test_line_breaks_and_tabs_are_shown_escaped():
    cell = render_term({"type": "literal", "value": "two\nlines\tand tab"})
    assert cell == "two\\nlines\\tand tab"


def test_iris_use_the_project_prefixes_when_the_rest_is_a_name():
    assert compact_iri("https://w3id.org/communique/ontology/Claim") == "cq:Claim"
    assert compact_iri("https://w3id.org/communique/ontology/epistemic-status/reported") == (
        "status:reported"
    )
    assert compact_iri("http://example.org/a b") == "<http://example.org/a b>"
    assert compact_iri("https://w3id.org/communique/ontology/a/b") == (
        "<https://w3id.org/communique/ontology/a/b>"
    )


def test_triple_terms_are_written_inline():
    term = {
        "type": "triple",
        "value": {
            "subject": {"type": "uri", "value": "http://example.org/s"},
            "predicate": {"type": "uri", "value": "http://example.org/p"},
            "object": {"type": "literal", "value": "o"},
        },
    }
    assert render_term(term) == "<< <http://example.org/s> <http://example.org/p> o >>"
