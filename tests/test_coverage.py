"""Coverage: sentence splitting, the boilerplate rule, and which sentences no claim anchors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from communique.coverage import (
    BOILERPLATE_RULE,
    covered_spans,
    is_boilerplate,
    measure_coverage,
    split_sentences,
)
from communique.errors import DataError
from communique.settings import PROJECT_ROOT

COMMUNIQUE = Path(sys.executable).parent / "communique"

# Sentence splitting


def texts(text: str) -> list[str]:
    return [sentence.text for sentence in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Mr. Kim met Dr. Lee at St. Paul on Jan. 5 in the U.S. capital. They talked.",
            ["Mr. Kim met Dr. Lee at St. Paul on Jan. 5 in the U.S. capital.", "They talked."],
            id="abbreviations",
        ),
        pytest.param(
            "J. Smith and U.N. envoys met. Talks resume.",
            ["J. Smith and U.N. envoys met.", "Talks resume."],
            id="initials",
        ),
        pytest.param(
            "Estimates range from 20.5 to 60 since the 1950-53 war. No. 7 was next.",
            ["Estimates range from 20.5 to 60 since the 1950-53 war.", "No. 7 was next."],
            id="numbers",
        ),
        pytest.param(
            "Trump meets Kim in Singapore on June 12, 2018. Photo: AFP/Saul Loeb",
            ["Trump meets Kim in Singapore on June 12, 2018.", "Photo: AFP/Saul Loeb"],
            id="caption-and-credit",
        ),
        pytest.param(
            "He called it “a turning point.” Then he left. “We agree,” she said.",
            ["He called it “a turning point.”", "Then he left.", "“We agree,” she said."],
            id="typographic-quotes",
        ),
        pytest.param(
            "That hasn’t happened. Kim’s envoy arrived.",
            ["That hasn’t happened.", "Kim’s envoy arrived."],
            id="apostrophes",
        ),
        pytest.param(
            "Why now? Nobody knows! the talks go on... and on.",
            ["Why now?", "Nobody knows! the talks go on... and on."],
            id="lowercase-after-end",
        ),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert texts(text) == expected


def test_paragraphs_are_lines_and_offsets_index_the_text() -> None:
    text = "  First line. Second sentence.\n\nA caption 2018. Photo: X/Y\nLast line, no newline"
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == [
        "First line.",
        "Second sentence.",
        "A caption 2018.",
        "Photo: X/Y",
        "Last line, no newline",
    ]
    assert all(text[s.start : s.end] == s.text for s in sentences)
    assert sentences[0].start == 2
    assert sentences[-1].end == len(text)


def test_offsets_count_characters_not_bytes() -> None:
    text = "“Quoted.” Next one.\n"
    [first, second] = split_sentences(text)
    assert (first.start, first.end, second.start) == (0, 9, 10)


@given(st.text(alphabet="Ab1 .?!“”’\"'\n\r\tU.S", max_size=200))
def test_sentences_are_ordered_stripped_spans_of_one_line(text: str) -> None:
    sentences = split_sentences(text)
    ends = [0] + [s.end for s in sentences]
    for previous_end, sentence in zip(ends, sentences, strict=False):
        assert previous_end <= sentence.start < sentence.end
        assert text[sentence.start : sentence.end] == sentence.text
        assert sentence.text == sentence.text.strip()
        assert "\n" not in sentence.text and "\r" not in sentence.text
    assert "".join(text.split()) == "".join("".join(s.text.split()) for s in sentences)


def test_a_sentence_never_crosses_a_line_break() -> None:
    assert texts("No end here\nNext line starts.\r\nWindows line.") == [
        "No end here",
        "Next line starts.",
        "Windows line.",
    ]


# Boilerplate


@pytest.mark.parametrize(
    "sentence",
    [
        "Leave a comment",
        "Leave a Reply",
        "Your email address will not be published.",
        "Required fields are marked *",
        "Share this article:",
        "Sign up for our newsletter",
        "Photo: AFP/Saul Loeb",
        "Photo: Seung-il Ryu / NurPhoto",
        "Image: Reuters",
        "Credit: Getty Images",
        "Photo credit: Jane Doe.",
    ],
)
def test_boilerplate(sentence: str) -> None:
    assert is_boilerplate(sentence)
    assert split_sentences(sentence)[0].boilerplate


@pytest.mark.parametrize(
    "sentence",
    [
        "Trump meets Kim in Singapore on June 12, 2018.",
        "Leave a comment if you disagree with the summit plan.",
        "The photo shows Kim walking with Trump.",
        "News reports said the date was not announced.",
    ],
)
def test_not_boilerplate(sentence: str) -> None:
    assert not is_boilerplate(sentence)


def test_the_rule_is_written_down() -> None:
    assert "page furniture" in BOILERPLATE_RULE
    assert "credit" in BOILERPLATE_RULE
    assert "leave|post|add|write" in BOILERPLATE_RULE


# Spans


def test_covered_spans_merge_and_clip() -> None:
    assert covered_spans("0123456789", [(6, 20), (0, 2), (1, 4), (4, 5), (8, 8), (-3, 0)]) == [
        (0, 5),
        (6, 10),
    ]
    assert covered_spans("0123456789", []) == []


# Measuring a project

PREFIXES = """\
@prefix cq: <https://w3id.org/communique/ontology/> .
@prefix oa: <http://www.w3.org/ns/oa#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix claim: <https://w3id.org/communique/id/claim/> .
@prefix source: <https://w3id.org/communique/id/source/> .
"""
TEXT = "Alpha met Beta in Gamma. Delta was mentioned. Leave a comment\n"
#       0         1         2         3         4         5
#       0123456789012345678901234567890123456789012345678901234567890


def claim(slug: str, name: str, start: int, end: int) -> str:
    return f"""
claim:{name} a cq:Claim ; rdfs:label "{name}" ;
    cq:evidence [ oa:hasSource source:{slug} ;
        oa:hasSelector [ a oa:TextPositionSelector ; oa:start {start} ; oa:end {end} ] ] .
"""


def make_project(root: Path, sources: dict[str, tuple[str, str]]) -> Path:
    """`sources`: slug → (text, claims in Turtle)."""
    (root / "ontology").mkdir(parents=True)
    (root / "graph" / "sources").mkdir(parents=True)
    for slug, (text, claims) in sources.items():
        (root / "graph" / "sources" / f"{slug}.txt").write_text(text, encoding="utf-8")
        (root / "graph" / "sources" / f"{slug}.ttl").write_text(PREFIXES + claims, encoding="utf-8")
    return root


def communique(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(COMMUNIQUE), *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def partial(tmp_path: Path) -> Path:
    return make_project(tmp_path, {"article": (TEXT, claim("article", "meeting", 10, 14))})


def test_unanchored_sentence_is_listed(partial: Path) -> None:
    [coverage] = measure_coverage(partial)
    assert coverage.slug == "article"
    assert coverage.source == "https://w3id.org/communique/id/source/article"
    assert [s.text for s in coverage.fact_bearing] == [
        "Alpha met Beta in Gamma.",
        "Delta was mentioned.",
    ]
    assert [s.text for s in coverage.anchored] == ["Alpha met Beta in Gamma."]
    [missing] = coverage.unanchored
    assert (missing.start, missing.end, missing.text) == (25, 45, "Delta was mentioned.")
    assert coverage.share == 0.5
    assert not coverage.complete


def test_a_span_touching_a_sentence_edge_does_not_anchor_it(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"article": (TEXT, claim("article", "edge", 0, 25))})
    [coverage] = measure_coverage(project)
    assert [s.text for s in coverage.unanchored] == ["Delta was mentioned."]


def test_full_coverage(tmp_path: Path) -> None:
    claims = claim("article", "one", 0, 24) + claim("article", "two", 30, 35)
    [coverage] = measure_coverage(make_project(tmp_path, {"article": (TEXT, claims)}))
    assert coverage.share == 1.0
    assert coverage.complete


def test_evidence_for_another_source_does_not_count(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"article": (TEXT, claim("elsewhere", "one", 0, 45))})
    [coverage] = measure_coverage(project)
    assert coverage.share == 0.0


def test_offsets_that_are_not_integers_and_literal_sources_are_ignored(tmp_path: Path) -> None:
    claims = claim("article", "one", 0, 24).replace("oa:end 24", 'oa:end "24"^^<urn:x:t>')
    claims += claim("article", "two", 30, 35).replace(
        "oa:start 30", "oa:start <<( claim:a claim:b claim:c )>>"
    )
    claims += claim("article", "three", 0, 60).replace(
        "oa:hasSource source:article", 'oa:hasSource "article"'
    )
    [coverage] = measure_coverage(make_project(tmp_path, {"article": (TEXT, claims)}))
    assert coverage.share == 0.0


def test_a_second_source_is_picked_up(partial: Path) -> None:
    sources = partial / "graph" / "sources"
    (sources / "second.txt").write_text("Only one fact here.", encoding="utf-8")
    (sources / "second.ttl").write_text(PREFIXES + claim("second", "fact", 0, 4))
    coverages = {c.slug: c for c in measure_coverage(partial)}
    assert set(coverages) == {"article", "second"}
    assert coverages["second"].complete
    assert coverages["second"].source == "https://w3id.org/communique/id/source/second"


def test_a_text_nobody_modelled_is_measured_at_zero(partial: Path) -> None:
    (partial / "graph" / "sources" / "new.txt").write_text("A new fact.\n", encoding="utf-8")
    coverages = {c.slug: c for c in measure_coverage(partial)}
    assert coverages["new"].share == 0.0


def test_missing_source_text_is_a_data_error(partial: Path) -> None:
    (partial / "graph" / "sources" / "article.txt").unlink()
    with pytest.raises(DataError, match=r"article\.txt is missing"):
        measure_coverage(partial)


def test_a_folder_that_is_not_a_project_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a Communiqué project"):
        measure_coverage(tmp_path)


# The command


def test_cli_incomplete_coverage_exits_1(partial: Path) -> None:
    result = communique("coverage", "--root", str(partial))
    assert result.returncode == 1, result.stderr
    assert "article <https://w3id.org/communique/id/source/article>: 1 of 2" in result.stdout
    assert "(50.0%)" in result.stdout
    assert "  unanchored 25-45: Delta was mentioned." in result.stdout


def test_cli_json(partial: Path) -> None:
    result = communique("coverage", "--root", str(partial), "--format", "json")
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert document["complete"] is False
    [source] = document["sources"]
    assert (source["fact_bearing"], source["anchored"], source["boilerplate"]) == (2, 1, 1)
    assert source["unanchored"] == [{"start": 25, "end": 45, "text": "Delta was mentioned."}]


def test_cli_complete_coverage_exits_0(tmp_path: Path) -> None:
    claims = claim("article", "one", 0, 24) + claim("article", "two", 30, 35)
    project = make_project(tmp_path, {"article": (TEXT, claims)})
    result = communique("coverage", "--root", str(project))
    assert result.returncode == 0, result.stderr
    assert "Coverage: 1 of 1 sources complete" in result.stdout


def test_cli_unreadable_exits_2(partial: Path) -> None:
    (partial / "graph" / "sources" / "article.ttl").write_text("not turtle", encoding="utf-8")
    result = communique("coverage", "--root", str(partial))
    assert result.returncode == 2
    assert "article.ttl:1:" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_explain_prints_the_rule() -> None:
    result = communique("coverage", "--explain")
    assert result.returncode == 0, result.stderr
    assert result.stdout == BOILERPLATE_RULE


def test_cli_bundled_project_reports_every_source() -> None:
    result = communique("coverage", "--root", str(PROJECT_ROOT), "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    document = json.loads(result.stdout)
    slugs = {path.stem for path in (PROJECT_ROOT / "graph" / "sources").glob("*.txt")}
    assert {source["slug"] for source in document["sources"]} == slugs
    assert document["complete"] is (result.returncode == 0)
