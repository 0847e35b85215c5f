"""Evidence anchors for curators: from the exact words of a source to Web Annotation selectors.

`communique anchor <slug> "exact words"` prints the `cq:evidence` block to paste into a claim, so
nobody counts characters by hand. Offsets are Python string indices (code points), 0-based with an
exclusive end: the same count SPARQL's SUBSTR and the SHACL evidence check use.
"""

from dataclasses import dataclass

from communique.errors import DataError

CONTEXT_CHARACTERS = 32
"""Characters of prefix and suffix recorded around a quote."""


@dataclass(frozen=True)
class Anchor:
    exact: str
    start: int
    end: int
    prefix: str
    suffix: str


def find_anchor(text: str, exact: str, occurrence: int | None = None) -> Anchor:
    """The anchor of `exact` in `text`; `occurrence` (1-based) picks one of several.

    :raises DataError: the words do not occur, or occur more than once and no occurrence is given.

    >>> find_anchor("Alpha met Beta.", "Beta").start
    10
    """
    if not exact:
        raise DataError("the exact words of an anchor cannot be empty")
    starts = _occurrences(text, exact)
    if not starts:
        raise DataError(f"the source text does not contain {exact!r}")
    if occurrence is None and len(starts) > 1:
        raise DataError(
            f"{exact!r} occurs {len(starts)} times (at characters "
            f"{', '.join(map(str, starts))}): choose one with --occurrence 1..{len(starts)}"
        )
    index = (occurrence or 1) - 1
    if not 0 <= index < len(starts):
        raise DataError(f"{exact!r} occurs {len(starts)} times, not {occurrence}")
    start = starts[index]
    end = start + len(exact)
    return Anchor(
        exact,
        start,
        end,
        text[max(0, start - CONTEXT_CHARACTERS) : start],
        text[end : end + CONTEXT_CHARACTERS],
    )


def _occurrences(text: str, exact: str) -> list[int]:
    starts, position = [], text.find(exact)
    while position != -1:
        starts.append(position)
        position = text.find(exact, position + 1)
    return starts


def evidence_turtle(anchor: Anchor, document: str) -> str:
    """The `cq:evidence` property of a claim, as Turtle to paste into a source's .ttl file."""
    return (
        "cq:evidence [ a oa:SpecificResource ;\n"
        f"        oa:hasSource <{document}> ;\n"
        "        oa:hasSelector [ a oa:TextQuoteSelector ;\n"
        f"            oa:exact {turtle_string(anchor.exact)} ;\n"
        f"            oa:prefix {turtle_string(anchor.prefix)} ;\n"
        f"            oa:suffix {turtle_string(anchor.suffix)} ] ,\n"
        "          [ a oa:TextPositionSelector ;\n"
        f"            oa:start {anchor.start} ;\n"
        f"            oa:end {anchor.end} ] ]"
    )


def turtle_string(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'
