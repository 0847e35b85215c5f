"""Names for things: the best label in the reader's language, and names for IRIs without one.

A resource's labels come from `LABEL_PROPERTIES`, the first listed property winning within one
language. `best_label` picks a language by RFC 4647 lookup over the ``Accept-Language`` ranges
(most preferred first; ``zh-Hant-TW`` falls back to ``zh-Hant`` and ``zh``), then a tag the range
is a prefix of (``en`` finds ``en-GB``), then English, then an untagged label, then any label.

>>> best_label({"en": "North Korea", "ko": "조선민주주의인민공화국"}, "ko-KR, en;q=0.5")
('조선민주주의인민공화국', 'ko')
>>> best_label({"": "Asia Times", "fr": "Asia Times (fr)"}, "de")
('Asia Times', '')
"""

import re
from collections.abc import Mapping
from urllib.parse import unquote

from communique.namespaces import PREFIXES

LABEL_PROPERTIES = (
    "http://www.w3.org/2004/02/skos/core#prefLabel",
    "http://www.w3.org/2000/01/rdf-schema#label",
    "https://schema.org/name",
    "http://xmlns.com/foaf/0.1/name",
    "http://purl.org/dc/terms/title",
)
"""Properties that give a resource's label, in order of preference."""
LABEL_PROPERTY_RANK = {iri: rank for rank, iri in enumerate(LABEL_PROPERTIES)}

WELL_KNOWN_LABELS = {
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#type": "type",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#subject": "subject",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#predicate": "predicate",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#object": "object",
    "http://www.w3.org/2000/01/rdf-schema#label": "label",
    "http://www.w3.org/2000/01/rdf-schema#comment": "comment",
    "http://www.w3.org/2000/01/rdf-schema#seeAlso": "see also",
    "http://www.w3.org/2000/01/rdf-schema#subClassOf": "subclass of",
    "http://www.w3.org/2000/01/rdf-schema#subPropertyOf": "subproperty of",
    "http://www.w3.org/2000/01/rdf-schema#domain": "domain",
    "http://www.w3.org/2000/01/rdf-schema#range": "range",
    "http://www.w3.org/2002/07/owl#sameAs": "same as",
    "http://www.w3.org/2004/02/skos/core#prefLabel": "preferred label",
    "http://www.w3.org/2004/02/skos/core#altLabel": "alternative label",
    "http://www.w3.org/2004/02/skos/core#hiddenLabel": "hidden label",
    "http://www.w3.org/2004/02/skos/core#definition": "definition",
}
"""Labels for common vocabulary terms, which the published data does not describe."""

KNOWN_SOURCES = {
    "http://www.wikidata.org/entity/": "Wikidata",
    "https://www.wikidata.org/wiki/": "Wikidata",
    "https://sws.geonames.org/": "GeoNames",
    "http://sws.geonames.org/": "GeoNames",
}
"""Namespaces of identifiers that `owl:sameAs` links to, and the name of who issues them."""

ENGLISH = "en"
UNTAGGED = ""
MAX_LANGUAGE_RANGES = 32
_LANGUAGE_RANGE = re.compile(r"\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_QUALITY = re.compile(r"q=(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)", re.IGNORECASE)


def parse_accept_language(header: str | None) -> list[str]:
    """The language ranges of an Accept-Language header, most preferred first (lower-cased);
    ranges with ``q=0`` and malformed ones are left out.

    >>> parse_accept_language("fr-CH, fr;q=0.9, en;q=0.8, de;q=0, *;q=0.5")
    ['fr-ch', 'fr', 'en', '*']
    """
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:MAX_LANGUAGE_RANGES]):
        name, _, parameters = part.partition(";")
        name = name.strip()
        if not _LANGUAGE_RANGE.fullmatch(name):
            continue
        quality = _quality(parameters)
        if quality is not None and quality > 0:
            weighted.append((-quality, position, name.lower()))
    return [name for _, _, name in sorted(weighted)]


def _quality(parameters: str) -> float | None:
    parameters = parameters.strip()
    if not parameters:
        return 1.0
    match = _QUALITY.fullmatch(parameters.replace(" ", ""))
    return float(match.group(1)) if match else None


def best_label(
    labels_by_lang: Mapping[str, str], accept_language: str | list[str] | None
) -> tuple[str, str] | None:
    """``(text, language tag)`` of the label to show, or None when there is none.

    `labels_by_lang` maps a language tag (``""`` for none) to that language's label;
    `accept_language` is the header or its parsed ranges (`parse_accept_language`).
    """
    if not labels_by_lang:
        return None
    tag = best_language(labels_by_lang.keys(), accept_language)
    return labels_by_lang[tag], tag


def best_language(tags, accept_language: str | list[str] | None) -> str:
    """The tag among `tags` (not empty) that the ranges choose, with the fallbacks above."""
    by_lower = {tag.lower(): tag for tag in sorted(tags)}
    ranges = (
        parse_accept_language(accept_language)
        if accept_language is None or isinstance(accept_language, str)
        else accept_language
    )
    for language_range in ranges:
        chosen = _lookup(language_range, by_lower)
        if chosen is not None:
            return chosen
    for fallback in (ENGLISH, UNTAGGED):
        if fallback in by_lower:
            return by_lower[fallback]
    return by_lower[min(by_lower)]


def _lookup(language_range: str, by_lower: Mapping[str, str]) -> str | None:
    if language_range == "*":
        return None
    candidate = language_range
    while candidate:
        if candidate in by_lower:
            return by_lower[candidate]
        candidate = _truncate(candidate)
    prefixed = sorted(tag for tag in by_lower if tag.startswith(language_range + "-"))
    return by_lower[prefixed[0]] if prefixed else None


def _truncate(tag: str) -> str:
    """RFC 4647 §3.4: drop the last subtag, and a single-character subtag left before it."""
    head, _, _ = tag.rpartition("-")
    if len(head) >= 2 and head[-2] == "-":
        head = head[:-2]
    return head


PREFIXES_LONGEST_FIRST = sorted(PREFIXES.items(), key=lambda item: -len(item[1]))


def prefixed_name(iri: str) -> str | None:
    """``cq:Claim`` for an IRI in a known namespace, else None.

    >>> prefixed_name("https://w3id.org/communique/ontology/Claim")
    'cq:Claim'
    """
    for prefix, namespace in PREFIXES_LONGEST_FIRST:
        if iri.startswith(namespace) and len(iri) > len(namespace):
            return f"{prefix}:{iri[len(namespace) :]}"
    return None


def local_name(iri: str) -> str:
    """The last segment of an IRI, after ``#`` or ``/``, percent-decoded; the IRI when empty.

    >>> local_name("https://w3id.org/communique/id/north-korea")
    'north-korea'
    """
    name = re.split(r"[#/]", iri.rstrip("/#"))[-1]
    return unquote(name) if name else iri


def fallback_label(iri: str, *, ours: bool = False) -> str:
    """A name for an IRI with no label: a well-known label, the local name of our own IRIs,
    an identifier with who issues it, a prefixed name, or else the IRI itself.

    >>> fallback_label("https://sws.geonames.org/1873107/")
    'GeoNames 1873107'
    """
    if iri in WELL_KNOWN_LABELS:
        return WELL_KNOWN_LABELS[iri]
    if ours:
        return local_name(iri)
    for namespace, issuer in KNOWN_SOURCES.items():
        if iri.startswith(namespace) and len(iri) > len(namespace):
            return f"{issuer} {local_name(iri)}"
    return prefixed_name(iri) or iri
