"""Media types, done once: the Accept header, the ``format`` parameter and file suffixes.

Every route picks its output the same way, through `choose_format`: a route names the formats
it can produce (short names such as ``"json"`` or ``"turtle"``) and gets back one of them.

Precedence: a file suffix (``/id/x.ttl``) wins, then the ``format`` parameter, then Accept.
Accept follows RFC 9110 (q-values, ``type/*``, ``*/*``; the most specific range decides a
format's quality; ties go to the route's default, then to the route's order). Malformed ranges
are skipped rather than refused, and a header with no usable range counts as absent.

Aliases that mean different things for different answers resolve to the first format the route
offers: ``application/json`` is SPARQL JSON results or JSON-LD, ``application/xml`` and
``text/xml`` are SPARQL XML results or RDF/XML, and ``text/plain`` is N-Triples (its historic
media type) or, for solutions, TSV (a plain-text table).

A browser asks for HTML first and ranks XML above ``*/*``. When HTML is preferred but not
offered, the route's default is chosen: a browser opening a query URL gets JSON results or
Turtle, which it can display, instead of XML or a 406.
"""

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from communique.errors import NotAcceptable

FORMAT_TO_MEDIA_TYPE = {
    "json": "application/sparql-results+json",
    "xml": "application/sparql-results+xml",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "turtle": "text/turtle",
    "ntriples": "application/n-triples",
    "nquads": "application/n-quads",
    "trig": "application/trig",
    "jsonld": "application/ld+json",
    "rdfxml": "application/rdf+xml",
    "html": "text/html",
}
"""Format name -> its registered media type (without parameters)."""

SOLUTIONS_FORMATS = ("json", "xml", "csv", "tsv")
"""Formats of SELECT answers, the first being the default."""
BOOLEAN_FORMATS = ("json", "xml", "csv", "tsv")
"""Formats of ASK answers (in CSV and TSV, as Oxigraph writes it: the bare word)."""
GRAPH_FORMATS = ("turtle", "ntriples", "nquads", "trig", "jsonld", "rdfxml")
"""Formats of RDF answers (CONSTRUCT, DESCRIBE, pages), the first being the default."""
FORM_TO_FORMATS = {
    "SELECT": SOLUTIONS_FORMATS,
    "ASK": BOOLEAN_FORMATS,
    "CONSTRUCT": GRAPH_FORMATS,
    "DESCRIBE": GRAPH_FORMATS,
}
"""SPARQL query form -> the formats its answer can be written in, the default first."""
GRAPH_FORMS = frozenset({"CONSTRUCT", "DESCRIBE"})
"""Query forms whose answer is an RDF graph."""

MEDIA_TYPE_TO_FORMATS: dict[str, tuple[str, ...]] = {
    **{media_type: (name,) for name, media_type in FORMAT_TO_MEDIA_TYPE.items()},
    "application/json": ("json", "jsonld"),
    "application/xml": ("xml", "rdfxml"),
    "text/xml": ("xml", "rdfxml"),
    "text/plain": ("ntriples", "tsv"),
    "application/x-turtle": ("turtle",),
    "text/n3": ("turtle",),
    "application/x-trig": ("trig",),
    "text/x-nquads": ("nquads",),
    "application/xhtml+xml": ("html",),
}
"""Media type -> the formats it may name, in preference order (aliases have several)."""

FORMAT_PARAMETER_TO_FORMATS: dict[str, tuple[str, ...]] = {
    **{name: (name,) for name in FORMAT_TO_MEDIA_TYPE},
    "json": ("json", "jsonld"),
    "xml": ("xml", "rdfxml"),
    "ttl": ("turtle",),
    "nt": ("ntriples",),
    "n-triples": ("ntriples",),
    "nq": ("nquads",),
    "n-quads": ("nquads",),
    "json-ld": ("jsonld",),
    "rdf": ("rdfxml",),
    "rdf/xml": ("rdfxml",),
    "rdf+xml": ("rdfxml",),
    "n3": ("turtle",),
}
"""Short name accepted by ``?format=`` -> the formats it may name (media types work too)."""

SUFFIX_TO_FORMATS: dict[str, tuple[str, ...]] = {
    ".ttl": ("turtle",),
    ".nt": ("ntriples",),
    ".nq": ("nquads",),
    ".trig": ("trig",),
    ".jsonld": ("jsonld",),
    ".rdf": ("rdfxml",),
    ".json": ("json", "jsonld"),
    ".xml": ("xml", "rdfxml"),
    ".csv": ("csv",),
    ".tsv": ("tsv",),
    ".html": ("html",),
}
"""File suffix -> the formats it may name."""

EXACT_MATCH = 3
HTML_MEDIA_TYPES = frozenset({"text/html", "application/xhtml+xml"})
MAX_MEDIA_RANGES = 64
"""Ranges read from one Accept header; the rest are ignored (a header is not a workload)."""

_TOKEN = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
_MEDIA_RANGE = re.compile(rf"\s*({_TOKEN})\s*/\s*({_TOKEN})\s*$")
_PARAMETER = re.compile(rf"\s*({_TOKEN})\s*=\s*(\"(?:[^\"\\]|\\.)*\"|{_TOKEN})?\s*$")
_QVALUE = re.compile(r"(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$")


@dataclass(frozen=True)
class MediaRange:
    """One entry of an Accept header: ``type/subtype`` (either may be ``*``) and its q-value."""

    type: str
    subtype: str
    quality: float

    @property
    def media_type(self) -> str:
        return f"{self.type}/{self.subtype}"

    def specificity(self, media_type: str) -> int:
        """How precisely this range names `media_type`: 3 exact, 2 ``type/*``, 1 ``*/*``, 0 not."""
        kind, _, subtype = media_type.partition("/")
        if self.type == "*":
            return 1
        if self.type != kind:
            return 0
        if self.subtype == "*":
            return 2
        return EXACT_MATCH if self.subtype == subtype else 0


def parse_accept(header: str | None) -> list[MediaRange]:
    """The usable media ranges of an Accept header, in the order given.

    >>> [r.media_type for r in parse_accept("text/html, application/xml;q=0.9, */*;q=0.8")]
    ['text/html', 'application/xml', '*/*']
    >>> parse_accept("garbage, text/turtle;q=2, ;;")
    []
    """
    if not header:
        return []
    parts = _split_outside_quotes(header, ",")[:MAX_MEDIA_RANGES]
    ranges = (_parse_media_range(part) for part in parts)
    return [media_range for media_range in ranges if media_range is not None]


def _parse_media_range(text: str) -> MediaRange | None:
    name, *parameters = _split_outside_quotes(text, ";")
    if name.strip() == "*":
        name = "*/*"
    match = _MEDIA_RANGE.match(name)
    if match is None:
        return None
    kind, subtype = (part.lower() for part in match.groups())
    if kind == "*" and subtype != "*":
        return None
    quality = 1.0
    for parameter in parameters:
        if not parameter.strip():
            continue
        parsed = _PARAMETER.match(parameter)
        if parsed is None:
            return None
        key, value = parsed.groups()
        if key.lower() == "q":
            if value is None or not _QVALUE.match(value):
                return None
            quality = float(value)
            break
    return MediaRange(kind, subtype, quality)


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    """`text` split at `separator`, except inside quoted strings (in one linear pass)."""
    parts, start, quoted, escaped = [], 0, False, False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def choose_format(
    accept: str | None,
    offered: Sequence[str],
    *,
    default: str,
    format_param: str | Sequence[str] | None = None,
    suffix: str | None = None,
) -> str:
    """The format, among `offered`, that a request asks for.

    `suffix` (``".ttl"``) and `format_param` (``"ttl"`` or ``"text/turtle"``) are explicit
    choices: one that names no offered format is refused. A repeated format parameter (some
    clients, SPARQLWrapper among them, send ``format=tsv&format=text/tab-separated-values``)
    is read in order. Otherwise Accept decides; without a usable Accept, `default` (which
    must be offered).

    :raises NotAcceptable: nothing offered fits; it lists the offered media types.

    >>> choose_format("application/json", GRAPH_FORMATS, default="turtle")
    'jsonld'
    >>> firefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    >>> choose_format(firefox, SOLUTIONS_FORMATS, default="json")
    'json'
    >>> choose_format(None, SOLUTIONS_FORMATS, default="json", format_param="csv")
    'csv'
    """
    if default not in offered:
        raise ValueError(f"default format {default!r} is not among {list(offered)}")
    if suffix is not None:
        return _explicit_choice(SUFFIX_TO_FORMATS.get(suffix.lower(), ()), suffix, offered)
    if format_param:
        values = [format_param] if isinstance(format_param, str) else list(format_param)
        named = tuple(name for value in values for name in formats_named_by(value))
        return _explicit_choice(named, ", ".join(values), offered)
    return _negotiated(accept or "", tuple(offered), default)


@functools.lru_cache(maxsize=512)
def _negotiated(accept: str, offered: tuple[str, ...], default: str) -> str:
    """What Accept decides, kept for the last 512 headers: clients send the same few again and
    again, and a refusal (NotAcceptable) is not kept."""
    return _negotiate(parse_accept(accept), offered, default)


def formats_named_by(value: str) -> tuple[str, ...]:
    """The formats a ``format`` parameter value names: short names or media types, by commas.

    >>> formats_named_by("application/ld+json,application/x-json+ld")
    ('jsonld',)
    """
    named: list[str] = []
    for part in value.split(",")[:MAX_MEDIA_RANGES]:
        key = part.strip().lower()
        if key not in FORMAT_PARAMETER_TO_FORMATS:
            key = key.split(";", 1)[0].strip()
        named += FORMAT_PARAMETER_TO_FORMATS.get(key, MEDIA_TYPE_TO_FORMATS.get(key, ()))
    return tuple(named)


def offered_media_types(offered: Sequence[str]) -> list[str]:
    return [FORMAT_TO_MEDIA_TYPE[name] for name in offered]


def _explicit_choice(named: tuple[str, ...], asked: str, offered: Sequence[str]) -> str:
    for name in named:
        if name in offered:
            return name
    raise NotAcceptable(
        f"format {asked!r} is not available here; "
        f"available: {', '.join(offered_media_types(offered))}",
        offered=offered_media_types(offered),
    )


def _negotiate(ranges: list[MediaRange], offered: Sequence[str], default: str) -> str:
    if not ranges:
        return default
    qualities = {name: _quality(name, ranges) for name in offered}
    best = max(qualities.values())
    if best <= 0:
        raise NotAcceptable(
            "none of the requested media types is available; "
            f"available: {', '.join(offered_media_types(offered))}",
            offered=offered_media_types(offered),
        )
    if "html" not in offered and _prefers_html(ranges, best):
        return default
    preference = [default, *(name for name in offered if name != default)]
    return next(name for name in preference if qualities[name] == best)


def _quality(name: str, ranges: list[MediaRange]) -> float:
    """The q-value the most specific range matching `name` gives it.

    Wildcards match a format's own media type only; an alias counts when named exactly.
    """
    aliases = [t for t, names in MEDIA_TYPE_TO_FORMATS.items() if name in names]
    best_specificity, quality = 0, 0.0
    for media_range in ranges:
        specificity = media_range.specificity(FORMAT_TO_MEDIA_TYPE[name])
        if media_range.media_type in aliases:
            specificity = EXACT_MATCH
        if specificity > best_specificity or (
            specificity == best_specificity and specificity and media_range.quality > quality
        ):
            best_specificity, quality = specificity, media_range.quality
    return quality


def _prefers_html(ranges: list[MediaRange], best_offered: float) -> bool:
    """True when the client ranks HTML above everything this route offers."""
    html = [r.quality for r in ranges if r.media_type in HTML_MEDIA_TYPES]
    return bool(html) and max(html) > best_offered
