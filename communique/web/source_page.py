"""The page of a source document: its text with every claim's evidence span highlighted.

The text is cut at every span boundary; each piece covered by at least one span becomes a
``<mark>`` linking to the list entry of the shortest span covering it, which lists that span's
claims. ``?highlight=START-END`` (the link from an evidence quote) marks that span with a
distinct class and the id ``span-START-END``, so the browser scrolls to it. A summary says how
much of the text claims cover (`communique.coverage`: sentences, boilerplate, spans).
"""

import itertools
import re
from dataclasses import dataclass

from communique.coverage import SourceCoverage, covered_spans, overlaps, split_sentences
from communique.describe import Anchor, Description, read_anchors, read_claims, read_labels
from communique.errors import BadRequest
from communique.namespaces import SCHEMA
from communique.store import Store
from communique.urls import UrlBuilder
from communique.web.page_support import accept_language
from communique.web.views import BadgeView, Namer, TermView

TEXT_PROPERTY = str(SCHEMA.text)
MAX_OFFSET = 100_000_000
_HIGHLIGHT = re.compile(r"(\d{1,9})-(\d{1,9})")


@dataclass(frozen=True)
class Segment:
    """A piece of the text between two span boundaries."""

    text: str
    start: int
    end: int
    target: str | None
    """The id of the evidence entry this piece links to; None when no claim covers it."""
    claims: int
    highlighted: bool
    anchor_id: str | None
    """``span-START-END`` on the first piece of the highlighted span."""


@dataclass(frozen=True)
class EvidenceEntry:
    id: str
    start: int
    end: int
    quote: str
    matches: bool
    """True when the text at the offsets is the quote the selector states."""
    href: str
    claims: tuple[tuple[TermView, BadgeView | None], ...]


def is_source(description: Description) -> bool:
    """True for a document with a text (a quotation claim's ``schema:text`` is not one)."""
    return description.own_claim is None and description.literal(TEXT_PROPERTY) is not None


def highlight_parameter(raw: str | None) -> tuple[int, int] | None:
    """``(start, end)`` from ``?highlight=START-END``.

    :raises BadRequest: the value is not two offsets with start below end.
    """
    if raw is None:
        return None
    match = _HIGHLIGHT.fullmatch(raw)
    if match is None or int(match.group(1)) >= int(match.group(2)):
        raise BadRequest(f"'highlight' must be START-END character offsets, not {raw!r}")
    return int(match.group(1)), int(match.group(2))


def source_context(
    store: Store, urls: UrlBuilder, description: Description, highlight: tuple[int, int] | None
) -> dict:
    text = description.literal(TEXT_PROPERTY) or ""
    anchors = [a for a in read_anchors(store, description.iri) if 0 <= a.start < a.end <= len(text)]
    claims = read_claims(store, sorted({a.claim for a in anchors}))
    statuses = {c.status for c in claims.values() if c.status}
    labels = read_labels(store, [*claims, *statuses])
    namer = Namer(urls, labels, accept_language())
    page_href = urls.page_url(description.iri)
    return {
        "segments": segments(text, anchors, highlight),
        "evidence_entries": evidence_entries(text, anchors, claims, namer, page_href),
        "coverage": coverage_summary(description.iri, text, anchors),
        "highlight": highlight,
    }


def segments(text: str, anchors: list[Anchor], highlight: tuple[int, int] | None) -> list[Segment]:
    spans = sorted({(a.start, a.end) for a in anchors})
    cuts = {0, len(text), *(p for span in spans for p in span)}
    if highlight:
        cuts |= {min(p, len(text)) for p in highlight}
    points = sorted(cuts)
    pieces, anchored = [], False
    for start, end in itertools.pairwise(points):
        covering = [s for s in spans if s[0] <= start and end <= s[1]]
        shortest = min(covering, key=lambda s: s[1] - s[0]) if covering else None
        lit = bool(highlight) and highlight[0] <= start and end <= highlight[1]
        anchor_id = f"span-{highlight[0]}-{highlight[1]}" if lit and not anchored else None
        anchored = anchored or lit
        pieces.append(
            Segment(
                text[start:end],
                start,
                end,
                f"evidence-{shortest[0]}-{shortest[1]}" if shortest else None,
                sum(1 for a in anchors if a.start <= start and end <= a.end),
                lit,
                anchor_id,
            )
        )
    return pieces


def evidence_entries(text, anchors, claims, namer: Namer, page_href: str) -> list[EvidenceEntry]:
    by_span: dict[tuple[int, int], list[Anchor]] = {}
    for anchor in anchors:
        by_span.setdefault((anchor.start, anchor.end), []).append(anchor)
    entries = []
    for (start, end), found in sorted(by_span.items()):
        quote = text[start:end]
        listed = tuple(
            (
                namer.iri(a.claim),
                namer.status_badge(claims[a.claim].status if a.claim in claims else None),
            )
            for a in sorted(found, key=lambda a: a.claim)
        )
        entries.append(
            EvidenceEntry(
                f"evidence-{start}-{end}",
                start,
                end,
                quote,
                all(a.exact is None or a.exact == quote for a in found),
                f"{page_href}?highlight={start}-{end}#span-{start}-{end}",
                listed,
            )
        )
    return entries


def coverage_summary(document: str, text: str, anchors: list[Anchor]) -> dict:
    merged = covered_spans(text, [(a.start, a.end) for a in anchors])
    sentences = tuple(split_sentences(text))
    coverage = SourceCoverage(
        document,
        document.rsplit("/", 1)[-1],
        sentences,
        tuple(overlaps(sentence, merged) for sentence in sentences),
    )
    characters = sum(end - start for start, end in merged)
    return {
        "spans": len({(a.start, a.end) for a in anchors}),
        "claims": len({a.claim for a in anchors}),
        "characters": characters,
        "length": len(text),
        "character_share": characters / len(text) if text else 1.0,
        "anchored": len(coverage.anchored),
        "fact_bearing": len(coverage.fact_bearing),
        "sentence_share": coverage.share,
        "unanchored": coverage.unanchored,
    }
