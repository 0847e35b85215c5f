"""Evidence anchors computed from exact words: offsets, context, ambiguity."""

import pytest

from communique.anchoring import evidence_turtle, find_anchor
from communique.errors import DataError

TEXT = "Kim’s top negotiator met “Trump”. Photo: AFP\nPhoto: AFP"


def test_offsets_count_characters_not_bytes():
    anchor = find_anchor(TEXT, "top negotiator")
    assert (anchor.start, anchor.end) == (6, 20)
    assert TEXT[anchor.start : anchor.end] == "top negotiator"
    assert len(TEXT[: anchor.start].encode()) != anchor.start


def test_prefix_and_suffix_surround_the_quote():
    anchor = find_anchor(TEXT, "met")
    assert TEXT.endswith(anchor.suffix) or TEXT[anchor.end :].startswith(anchor.suffix)
    assert TEXT[: anchor.start].endswith(anchor.prefix)


def test_repeated_words_need_an_occurrence():
    with pytest.raises(DataError, match="occurs 2 times"):
        find_anchor(TEXT, "Photo: AFP")
    assert find_anchor(TEXT, "Photo: AFP", 2).start == TEXT.rindex("Photo: AFP")


@pytest.mark.parametrize("exact, occurrence", [("absent", None), ("", None), ("met", 2)])
def test_impossible_anchors_are_data_errors(exact, occurrence):
    with pytest.raises(DataError):
        find_anchor(TEXT, exact, occurrence)


def test_evidence_turtle_escapes_the_context():
    anchor = find_anchor(TEXT, "Photo: AFP", 1)
    turtle = evidence_turtle(anchor, "https://example.org/doc")
    assert "\\n" in turtle and "oa:start 34" in turtle and "<https://example.org/doc>" in turtle
