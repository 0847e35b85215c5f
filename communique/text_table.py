"""SPARQL JSON results as an aligned plain-text table, for people at a terminal.

IRIs are shortened with the project's prefixes (``cq:Claim``) when the rest is a plain name,
literals show their text (``@lang`` added), blank nodes ``_:label``, unbound cells stay empty.
"""

import re
from collections.abc import Mapping
from typing import Any

from communique.namespaces import PREFIXES

COLUMN_GAP = "  "
_LOCAL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_CONTROL_CHARACTERS = str.maketrans({"\n": "\\n", "\r": "\\r", "\t": "\\t"})


def solutions_table(results: Mapping[str, Any]) -> str:
    """The table for a parsed ``application/sparql-results+json`` document of a SELECT.

    >>> print(solutions_table({"head": {"vars": ["x", "label"]}, "results": {"bindings": [
    ...     {"x": {"type": "uri", "value": "http://www.w3.org/2002/07/owl#Thing"},
    ...      "label": {"type": "literal", "value": "thing", "xml:lang": "en"}}]}}))
    x          label
    ---------  ----------
    owl:Thing  "thing"@en
    (1 row)
    """
    variables = list(results["head"].get("vars", []))
    bindings = results["results"]["bindings"]
    rows = [[render_term(binding.get(name)) for name in variables] for binding in bindings]
    widths = [max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(variables)]
    lines = [
        _line(variables, widths),
        _line(["-" * width for width in widths], widths),
        *(_line(row, widths) for row in rows),
        f"({len(rows)} row{'' if len(rows) == 1 else 's'})",
    ]
    return "\n".join(lines)


def render_term(term: Mapping[str, Any] | None) -> str:
    """One RDF term of SPARQL JSON results, written compactly on one line."""
    if term is None:
        return ""
    kind = term["type"]
    if kind == "uri":
        return compact_iri(term["value"])
    if kind == "bnode":
        return f"_:{term['value']}"
    if kind == "triple":
        parts = term["value"]
        inner = " ".join(render_term(parts[key]) for key in ("subject", "predicate", "object"))
        return f"<< {inner} >>"
    text = term["value"].translate(_CONTROL_CHARACTERS)
    language = term.get("xml:lang")
    return f'"{text}"@{language}' if language else text


def compact_iri(iri: str) -> str:
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace) and _LOCAL_NAME.fullmatch(iri[len(namespace) :]):
            return f"{prefix}:{iri[len(namespace) :]}"
    return f"<{iri}>"


def _line(cells: list[str], widths: list[int]) -> str:
    return COLUMN_GAP.join(
        cell.ljust(width) for cell, width in zip(cells, widths, strict=True)
    ).rstrip()
