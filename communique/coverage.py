"""Coverage: which fact-bearing sentences of each source text at least one claim anchors.

A sentence is anchored when the character span of some claim's evidence
(``cq:evidence/oa:hasSelector`` with an ``oa:TextPositionSelector``) overlaps it. Sentences that
are page furniture or stand-alone credits (see `BOILERPLATE_RULE`) are not required.
"""

import itertools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from communique.dataset import read_quads
from communique.layout import Layout, Source
from communique.namespaces import sparql_prologue
from communique.validation import open_layout


@dataclass(frozen=True)
class Sentence:
    """A sentence of a source text: ``text == source[start:end]`` (Python str indices)."""

    start: int
    end: int
    text: str
    boilerplate: bool


# Sentence splitting

LINE = re.compile(r"[^\r\n\u2028\u2029]+")
"""Paragraphs are lines: a sentence never runs across a line break."""
SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)")
"""Terminal punctuation, with any closing quotes or brackets, followed by a space."""
OPENING_QUOTES = "\"'“‘«(["
ABBREVIATIONS = frozenset(
    {
        # titles and ranks
        *("Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "St.", "Gen.", "Lt.", "Col.", "Capt.", "Sgt."),
        *("Adm.", "Sen.", "Rep.", "Gov.", "Pres.", "Amb.", "Rev.", "Jr.", "Sr."),
        # months
        *("Jan.", "Feb.", "Mar.", "Apr.", "Jun.", "Jul.", "Aug.", "Sep.", "Sept.", "Oct."),
        *("Nov.", "Dec."),
        # companies, numbering and Latin
        *("Inc.", "Ltd.", "Corp.", "Co.", "No.", "Nos.", "Mt.", "vs.", "e.g.", "i.e."),
    }
)
"""Words whose final period does not end a sentence (case-sensitive: "no." may end one)."""
INITIALS = re.compile(r"(?:[A-Z]\.)+")
"""Single initials and dotted abbreviations: "J.", "U.S.", "U.N."."""


def split_sentences(text: str) -> list[Sentence]:
    """Split a source text into sentences, line by line.

    Within a line a sentence ends at ``.``, ``!``, ``?`` or ``…`` (plus closing quotes) followed
    by a space and a capital letter or an opening quote, except after an abbreviation or an
    initial. A number such as ``20.5`` never splits (no space follows its period). Each span is
    stripped of surrounding whitespace.

    >>> [s.text for s in split_sentences("Kim met Mr. Trump in June 2018. Photo: AFP")]
    ['Kim met Mr. Trump in June 2018.', 'Photo: AFP']
    """
    sentences = []
    for line in LINE.finditer(text):
        bounds = [line.start(), *sentence_cuts(text, line.start(), line.end()), line.end()]
        for start, end in itertools.pairwise(bounds):
            start, end = strip_span(text, start, end)
            if start < end:
                piece = text[start:end]
                sentences.append(Sentence(start, end, piece, is_boilerplate(piece)))
    return sentences


def sentence_cuts(text: str, start: int, end: int) -> list[int]:
    """Offsets inside ``text[start:end]`` where one sentence ends and the next begins."""
    cuts = []
    for match in SENTENCE_END.finditer(text, start, end):
        following = next_visible(text, match.end(), end)
        if following is None:
            continue
        starts_sentence = text[following].isupper() or text[following] in OPENING_QUOTES
        if starts_sentence and not ends_abbreviation(text, start, match):
            cuts.append(match.end())
    return cuts


def next_visible(text: str, position: int, end: int) -> int | None:
    while position < end and text[position].isspace():
        position += 1
    return position if position < end else None


def ends_abbreviation(text: str, line_start: int, match: re.Match) -> bool:
    """Whether a single period closes an abbreviation or initial rather than a sentence."""
    if match.group() != ".":
        return False
    word_start = match.start()
    while word_start > line_start and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start : match.end()].lstrip(OPENING_QUOTES)
    return word in ABBREVIATIONS or INITIALS.fullmatch(word) is not None


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# Boilerplate

BOILERPLATE_PATTERNS: tuple[tuple[str, str], ...] = (
    # (1) page furniture: prompts and notices of the web page, not of the article
    (r"(?:leave|post|add|write) a (?:comment|reply)", "comment prompt"),
    (r"your email address will not be published", "comment form notice"),
    (r"required fields are marked(?: \*)?", "comment form notice"),
    (r"share (?:this|on [\w ]+)(?: (?:article|story|page|post))?", "sharing buttons"),
    (r"(?:sign up|subscribe) (?:for|to) (?:our|the) newsletter", "newsletter prompt"),
    (r"(?:read more|related (?:articles?|stories|posts)|advertisement)", "page navigation"),
    (r"(?:©|copyright) .*|all rights reserved", "copyright notice"),
    # (2) photo and image credits standing alone (the caption before them is a fact)
    (r"(?:photo|photograph|image|picture|illustration|video)s?: .+", "credit: 'Photo: AFP/…'"),
    (r"(?:photo |image )?credits?: .+", "credit: 'Credit: …', 'Photo credit: …'"),
    (r"(?:photos?|images?) (?:by|courtesy of) .+", "credit: 'Photo by …'"),
)
"""(pattern, what it is): each pattern must match a whole sentence, case-insensitively, allowing
trailing punctuation."""
BOILERPLATE = re.compile(
    "(?:" + "|".join(pattern for pattern, _ in BOILERPLATE_PATTERNS) + r")[\s.!:*…]*",
    re.IGNORECASE,
)

BOILERPLATE_RULE = (
    "A sentence is boilerplate, and not required to be anchored by a claim, when the whole\n"
    "sentence (ignoring case and trailing punctuation) is either\n"
    "  (1) page furniture: a comment prompt or form notice, a sharing or newsletter prompt,\n"
    "      page navigation or a copyright notice, e.g. 'Leave a comment', 'Your email address\n"
    "      will not be published.'; or\n"
    "  (2) a photo or image credit standing alone, e.g. 'Photo: AFP/Saul Loeb' after a caption.\n"
    "      Captions are facts and must be anchored; credits may still be modelled, but are not\n"
    "      required.\n"
    "Every other sentence is fact-bearing. The patterns:\n"
    + "".join(f"  {pattern}    ({what})\n" for pattern, what in BOILERPLATE_PATTERNS)
)


def is_boilerplate(sentence_text: str) -> bool:
    """Whether a whole sentence is page furniture or a stand-alone credit (`BOILERPLATE_RULE`).

    >>> is_boilerplate("Leave a comment"), is_boilerplate("Photo: AFP/Saul Loeb")
    (True, True)
    >>> is_boilerplate("Kim made a surprise visit to Beijing.")
    False
    """
    return BOILERPLATE.fullmatch(sentence_text.strip()) is not None


# Evidence spans

EVIDENCE_SPANS_QUERY = (
    sparql_prologue(("cq", "oa"))
    + """
SELECT DISTINCT ?document ?start ?end WHERE {
  ?claim cq:evidence ?evidence .
  ?evidence oa:hasSource ?document ; oa:hasSelector ?selector .
  ?selector oa:start ?start ; oa:end ?end .
}
"""
)
"""Every evidence span, by the document it anchors in (the default graph is the union)."""
INTEGER_DATATYPES = frozenset(
    "http://www.w3.org/2001/XMLSchema#" + name
    for name in (
        "integer",
        "nonNegativeInteger",
        "positiveInteger",
        "long",
        "int",
        "short",
        "byte",
        "unsignedLong",
        "unsignedInt",
        "unsignedShort",
        "unsignedByte",
    )
)
"""xsd:integer and the types derived from it that an offset may reasonably use."""


def evidence_spans(store: ox.Store) -> dict[str, list[tuple[int, int]]]:
    """Document IRI → the ``(start, end)`` character spans claims anchor in it. Offsets that are
    not integers are left out (the shapes report them)."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for row in store.query(EVIDENCE_SPANS_QUERY, use_default_graph_as_union=True):
        span = (integer(row["start"]), integer(row["end"]))
        if isinstance(row["document"], ox.NamedNode) and None not in span:
            spans.setdefault(row["document"].value, []).append(span)
    return spans


def integer(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> int | None:
    """The value of an xsd:integer (or derived type) literal, None for anything else."""
    if not isinstance(term, ox.Literal) or term.datatype.value not in INTEGER_DATATYPES:
        return None
    try:
        return int(term.value)
    except ValueError:
        return None


def covered_spans(text: str, spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans merged where they overlap or touch, clipped to `text`, in order.

    >>> covered_spans("abcdefghij", [(6, 20), (0, 2), (1, 4), (4, 5)])
    [(0, 5), (6, 10)]
    """
    merged: list[tuple[int, int]] = []
    for start, end in sorted((max(s, 0), min(e, len(text))) for s, e in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def overlaps(sentence: Sentence, spans: Sequence[tuple[int, int]]) -> bool:
    return any(start < sentence.end and end > sentence.start for start, end in spans)


# Coverage


@dataclass(frozen=True)
class SourceCoverage:
    """The sentences of one source text and which of them claims anchor."""

    source: str
    """The document IRI (``id/source/<slug>``)."""
    slug: str
    sentences: tuple[Sentence, ...]
    covered: tuple[bool, ...]
    """For each sentence, whether a claim's evidence overlaps it."""

    @property
    def fact_bearing(self) -> tuple[Sentence, ...]:
        return tuple(s for s in self.sentences if not s.boilerplate)

    @property
    def anchored(self) -> tuple[Sentence, ...]:
        return self._fact_bearing_where(covered=True)

    @property
    def unanchored(self) -> tuple[Sentence, ...]:
        return self._fact_bearing_where(covered=False)

    def _fact_bearing_where(self, *, covered: bool) -> tuple[Sentence, ...]:
        pairs = zip(self.sentences, self.covered, strict=True)
        return tuple(s for s, is_covered in pairs if is_covered == covered and not s.boilerplate)

    @property
    def share(self) -> float:
        """Anchored fact-bearing sentences / fact-bearing sentences (1.0 when there are none)."""
        return len(self.anchored) / len(self.fact_bearing) if self.fact_bearing else 1.0

    @property
    def complete(self) -> bool:
        return not self.unanchored


def measure_coverage(root: Path) -> list[SourceCoverage]:
    """Coverage of every source text of the project at `root`, by slug. A text without its data
    file is measured too (nothing anchors it yet).

    :raises DataError: not a project folder, an unreadable data file or source text.
    """
    layout = open_layout(root)
    store = ox.Store()
    store.extend([q for f in layout.data_files() for q in read_quads(f.path, f.graph)])
    spans = evidence_spans(store)
    return [
        source_coverage(source, spans.get(source.document, [])) for source in all_sources(layout)
    ]


def all_sources(layout: Layout) -> list[Source]:
    unmodelled = [Source(p.stem, p, p.with_suffix(".ttl")) for p in layout.orphan_texts()]
    return sorted([*layout.sources(), *unmodelled], key=lambda source: source.slug)


def source_coverage(source: Source, spans: Iterable[tuple[int, int]]) -> SourceCoverage:
    text = source.read_text()
    merged = covered_spans(text, spans)
    sentences = tuple(split_sentences(text))
    covered = tuple(overlaps(sentence, merged) for sentence in sentences)
    return SourceCoverage(source.document, source.slug, sentences, covered)


# Reports


def coverage_text(coverages: Sequence[SourceCoverage]) -> str:
    """Per source: the share anchored and the unanchored sentences with their offsets."""
    lines = []
    for coverage in coverages:
        boilerplate = len(coverage.sentences) - len(coverage.fact_bearing)
        lines.append(
            f"{coverage.slug} <{coverage.source}>: {len(coverage.anchored)} of "
            f"{len(coverage.fact_bearing)} fact-bearing sentences anchored "
            f"({coverage.share:.1%}); {boilerplate} boilerplate not counted"
        )
        lines += [f"  unanchored {s.start}-{s.end}: {s.text}" for s in coverage.unanchored]
    complete = sum(1 for coverage in coverages if coverage.complete)
    lines.append(f"Coverage: {complete} of {len(coverages)} sources complete")
    return "\n".join(lines) + "\n"


def coverage_json(coverages: Sequence[SourceCoverage]) -> str:
    document = {
        "complete": all(coverage.complete for coverage in coverages),
        "sources": [coverage_document(coverage) for coverage in coverages],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def coverage_document(coverage: SourceCoverage) -> dict:
    return {
        "source": coverage.source,
        "slug": coverage.slug,
        "sentences": len(coverage.sentences),
        "boilerplate": len(coverage.sentences) - len(coverage.fact_bearing),
        "fact_bearing": len(coverage.fact_bearing),
        "anchored": len(coverage.anchored),
        "share": coverage.share,
        "unanchored": [
            {"start": s.start, "end": s.end, "text": s.text} for s in coverage.unanchored
        ],
    }
