"""Serialise query answers: SPARQL results (JSON, XML, CSV, TSV) and RDF graphs, under a cap.

Formats are named here; `RESULTS_MEDIA_TYPES` and `RDF_MEDIA_TYPES` map each name to its media
type (``communique.negotiation`` maps requests to these names).

The result cap is never applied silently. `serialize_answer` writes at most ``max_rows``
solutions (SELECT) or distinct triples (CONSTRUCT, DESCRIBE), reads one more to learn whether the
answer was longer, and when it was:

* sets ``SerializedAnswer.truncated``;
* SPARQL JSON results get ``"link": [RESULT_CAP_LINK]`` in ``head``;
* SPARQL XML results get ``<link href="RESULT_CAP_LINK"/>`` in ``<head>``;
* the HTTP layer adds a response header saying so, for every format (CSV, TSV and RDF bodies
  have no place for the signal).

SPARQL JSON, CSV and TSV are the bytes pyoxigraph's own writers give (tests compare them), but
for one thing: pyoxigraph does not quote an IRI holding a comma in CSV. Given a way to evaluate
the query again (``evaluate_again``), `serialize_answer` lets pyoxigraph write the solutions of
a pyoxigraph store in JSON and TSV, and graphs in N-Triples (each distinct triple once), without
a Python object per row and term, then counts the rows in what it wrote and cuts them at the
cap, adding the signal. When the rows cannot be counted for certain (a JSON row with no
binding), or pyoxigraph wrote `NATIVE_BYTES` before the row past the cap, the query is
evaluated again and written here.

Booleans (ASK) in CSV and TSV: the CSV/TSV specification defines no boolean form; as Oxigraph
does (and its parser reads back), the body is the bare word ``true`` or ``false``. (Jena writes a
one-column table ``_askResult`` instead.)

An answer that a format cannot carry faithfully is refused with NotAcceptable (406), naming the
formats that can: characters XML 1.0 forbids (e.g. U+0001) in the XML formats, a predicate IRI
with no XML local name or a carriage return (XML readers turn it into a line feed) in RDF/XML,
RDF 1.2 triple terms in JSON-LD.
"""

import json
import re
import traceback
import xml.parsers.expat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring as _json_string
from types import MappingProxyType

import pyoxigraph
from pyoxigraph import BlankNode, Literal, NamedNode, Quad, QueryResultsFormat, RdfFormat, Triple

from communique.errors import NotAcceptable
from communique.namespaces import XSD
from communique.negotiation import FORMAT_TO_MEDIA_TYPE, GRAPH_FORMATS, SOLUTIONS_FORMATS

RESULT_CAP_LINK = "https://w3id.org/communique/docs/limits#result-cap"
"""The page explaining the result cap; linked from every truncated answer."""

RESULTS_MEDIA_TYPES: Mapping[str, str] = MappingProxyType(
    {
        name: FORMAT_TO_MEDIA_TYPE[name]
        + ("; charset=utf-8" if FORMAT_TO_MEDIA_TYPE[name].startswith("text/") else "")
        for name in SOLUTIONS_FORMATS
    }
)
"""SPARQL results format name -> media type (answers to SELECT and ASK)."""

RDF_MEDIA_TYPES: Mapping[str, str] = MappingProxyType(
    {name: FORMAT_TO_MEDIA_TYPE[name] for name in GRAPH_FORMATS}
)
"""RDF format name -> media type (answers to CONSTRUCT and DESCRIBE)."""

_RDF_FORMAT_OF_NAME = MappingProxyType(
    {
        "turtle": RdfFormat.TURTLE,
        "ntriples": RdfFormat.N_TRIPLES,
        "nquads": RdfFormat.N_QUADS,
        "trig": RdfFormat.TRIG,
        "jsonld": RdfFormat.JSON_LD,
        "rdfxml": RdfFormat.RDF_XML,
    }
)
PREFIXED_RDF_FORMATS = frozenset({"turtle", "trig", "rdfxml"})
"""RDF formats that abbreviate IRIs with the prefixes they are given."""

XSD_STRING = str(XSD.string)
_RESULTS_XML_NAMESPACE = "http://www.w3.org/2005/sparql-results#"
_ITS_NAMESPACE = "http://www.w3.org/2005/11/its"
"""Internationalization Tag Set: SPARQL 1.2 results write a literal's base direction with it."""


@dataclass(frozen=True)
class SerializedAnswer:
    """One query answer, written in one format."""

    kind: str
    """"solutions" (SELECT), "boolean" (ASK) or "graph" (CONSTRUCT, DESCRIBE)."""
    format: str
    media_type: str
    body: bytes
    count: int
    """Solutions or triples written; 1 for a boolean."""
    truncated: bool
    """True when the answer had more than max_rows and was cut at max_rows."""
    duration: float = 0.0
    """Seconds spent evaluating and writing, when whoever ran the query measured it."""


def serialize_answer(
    result: object,
    *,
    results_format: str,
    graph_format: str,
    max_rows: int,
    prefixes: Mapping[str, str] | None = None,
    evaluate_again: Callable[[], object] | None = None,
) -> SerializedAnswer:
    """Write `result`, what `Store.query` returns, in the format for its kind.

    A boolean is an ASK answer, anything with ``variables`` (and iterating solutions) a SELECT
    answer, any other iterable holds the triples of a CONSTRUCT or DESCRIBE answer.

    Solutions and booleans use `results_format`, graphs `graph_format`; `prefixes` (name ->
    namespace) abbreviate IRIs in Turtle, TriG and RDF/XML, where only the used ones are declared.
    `evaluate_again` returns a fresh `result`: with it, solutions and N-Triples graphs may be
    written by pyoxigraph (see the module's note).

    :raises NotAcceptable: the chosen format cannot carry this answer faithfully.
    :raises ValueError: an unknown format name or a negative `max_rows`.
    """
    if max_rows < 0:
        raise ValueError(f"max_rows must not be negative, not {max_rows}")
    try:
        if isinstance(result, bool | pyoxigraph.QueryBoolean):
            return _boolean_answer(bool(result), results_format)
        if hasattr(result, "variables"):
            return _solutions_answer(result, results_format, max_rows, evaluate_again)
        return _graph_answer(result, graph_format, max_rows, prefixes or {}, evaluate_again)
    except BaseException as error:
        # A refusal midway must not keep a streamed pyoxigraph iterator in its traceback: it
        # may only be dropped on this thread (see `store.Store.query`).
        traceback.clear_frames(error.__traceback__)
        raise
    finally:
        del result


class _Capped:
    """Iterates at most `limit` items; reads one more to set `truncated` if there was more."""

    def __init__(self, items: Iterable, limit: int):
        self._items = items
        self._limit = limit
        self.count = 0
        self.truncated = False

    def __iter__(self) -> Iterator:
        for item in self._items:
            if self.count == self._limit:
                self.truncated = True
                return
            self.count += 1
            yield item


def _media_type(table: Mapping[str, str], name: str) -> str:
    if name not in table:
        raise ValueError(f"unknown format {name!r}; known: {', '.join(table)}")
    return table[name]


# --- ASK ----------------------------------------------------------------------------------------


def _boolean_answer(value: bool, format_name: str) -> SerializedAnswer:
    media_type = _media_type(RESULTS_MEDIA_TYPES, format_name)
    word = "true" if value else "false"
    if format_name == "json":
        body = f'{{"head":{{}},"boolean":{word}}}'
    elif format_name == "xml":
        body = f"{_XML_START}<head></head><boolean>{word}</boolean></sparql>"
    else:
        body = word
    return SerializedAnswer("boolean", format_name, media_type, body.encode(), 1, False)


# --- SELECT -------------------------------------------------------------------------------------


def _solutions_answer(
    solutions: object,
    format_name: str,
    max_rows: int,
    evaluate_again: Callable[[], object] | None,
) -> SerializedAnswer:
    media_type = _media_type(RESULTS_MEDIA_TYPES, format_name)
    if (
        evaluate_again is not None
        and format_name in _NATIVE_CUTS
        and isinstance(solutions, pyoxigraph.QuerySolutions)
    ):
        written = _written_by_pyoxigraph(solutions, format_name, max_rows)
        if written is not None:
            body, count, truncated = written
            return SerializedAnswer("solutions", format_name, media_type, body, count, truncated)
        solutions = evaluate_again()
    names = [variable.value for variable in solutions.variables]
    rows = _Capped(solutions, max_rows)
    body = _SOLUTIONS_WRITERS[format_name](names, rows)
    return SerializedAnswer(
        "solutions", format_name, media_type, body.encode(), rows.count, rows.truncated
    )


NATIVE_BYTES = 4 * 1024 * 1024
"""How much of an answer pyoxigraph writes before it is cut at the cap (or, holding fewer rows
than the cap, written again here)."""


def _written_by_pyoxigraph(
    solutions: pyoxigraph.QuerySolutions, format_name: str, max_rows: int
) -> tuple[bytes, int, bool] | None:
    """(body, rows, truncated) as pyoxigraph writes `solutions` (consuming them), cut after
    `max_rows` rows; None when its rows cannot be counted for certain, or when it wrote
    `NATIVE_BYTES` before the cap's row."""
    body, complete = _pyoxigraph_output(solutions, _PYOXIGRAPH_RESULTS_FORMATS[format_name])
    return _NATIVE_CUTS[format_name](body, max_rows, complete)


def _pyoxigraph_output(answer: object, output_format: object) -> tuple[bytes, bool]:
    """The first `NATIVE_BYTES` pyoxigraph writes of `answer` (consuming it), and whether
    that is all of it."""
    sink = _BoundedSink(NATIVE_BYTES)
    try:
        answer.serialize(sink, format=output_format)
    except _OverBudget:
        return b"".join(sink.parts), False
    return b"".join(sink.parts), True


class _OverBudget(Exception):
    """pyoxigraph wrote more than a `_BoundedSink` takes."""


class _BoundedSink:
    """A binary file-like object that keeps the first `limit` bytes written to it, and raises
    `_OverBudget` at the first write past them."""

    def __init__(self, limit: int):
        self.parts: list[bytes] = []
        self._room = limit

    def write(self, data: bytes) -> int:
        kept = bytes(data[: self._room])
        self.parts.append(kept)
        self._room -= len(kept)
        if len(kept) < len(data):
            raise _OverBudget
        return len(data)

    def flush(self) -> None:
        pass


_JSON_HEAD = b'{"head":{"vars":['
_JSON_BINDINGS = b'"bindings":['
_JSON_END = b"]}}"
_JSON_NEXT_ROW = re.compile(rb'\},\{"[^"\\]*":\{')
"""The end of a row and the start of the next: ``},{"name":{`` (a string may end with ``},{``
and then its closing quote, but a name cannot hold a quote)."""


def _json_cut(body: bytes, max_rows: int, complete: bool) -> tuple[bytes, int, bool] | None:
    """pyoxigraph's SPARQL JSON `body` (the start of it unless `complete`), at most `max_rows`
    rows kept; None for a row with no binding (``{}``, which a string may also hold)."""
    start = body.find(_JSON_BINDINGS) + len(_JSON_BINDINGS)
    if not body.startswith(_JSON_HEAD) or start < len(_JSON_BINDINGS):
        return None
    if complete and not body.endswith(_JSON_END):
        return None
    if b"{}" in body[start:]:
        return None
    if body[start:] == _JSON_END:
        return body, 0, False
    ends = [found.start() + 1 for found in _JSON_NEXT_ROW.finditer(body, start)]
    rows = 1 + len(ends)  # the last may be partly written, but it exists
    if rows <= max_rows:
        return (body, rows, False) if complete else None
    cut = ends[max_rows - 1] if max_rows else start
    head_end = body.index(b"]", len(_JSON_HEAD)) + 1
    link = b',"link":' + _json_text([RESULT_CAP_LINK]).encode()
    return body[:head_end] + link + body[head_end:cut] + _JSON_END, max_rows, True


def _tsv_cut(body: bytes, max_rows: int, complete: bool) -> tuple[bytes, int, bool] | None:
    """pyoxigraph's TSV `body` (the start of it unless `complete`), at most `max_rows` rows
    kept (one per line: TSV writes line breaks in literals as ``\\n``)."""
    rows = body.count(b"\n") - 1  # the lines written to the end, after the header
    if rows <= max_rows:
        return (body, rows, False) if complete else None
    end = -1
    for _ in range(max_rows + 1):
        end = body.index(b"\n", end + 1)
    return body[: end + 1], max_rows, True


_NATIVE_CUTS: Mapping[str, Callable[[bytes, int, bool], tuple[bytes, int, bool] | None]] = (
    MappingProxyType({"json": _json_cut, "tsv": _tsv_cut})
)
_PYOXIGRAPH_RESULTS_FORMATS = MappingProxyType(
    {"json": QueryResultsFormat.JSON, "tsv": QueryResultsFormat.TSV}
)


def _bindings(names: list[str], solution: Iterable) -> Iterator[tuple[str, object]]:
    """(variable name, term) for the bound variables of `solution`, in projection order."""
    return ((name, term) for name, term in zip(names, solution, strict=True) if term is not None)


def _json_solutions(names: list[str], rows: _Capped) -> str:
    """SPARQL JSON results, written as text (the bytes `json.dumps` would give, without
    building a dict per row and per term)."""
    keys = [_json_string(name) + ":" for name in names]
    bindings = ",".join(
        "{"
        + ",".join(
            key + _json_term(term) for key, term in zip(keys, row, strict=True) if term is not None
        )
        + "}"
        for row in rows
    )
    head: dict[str, list[str]] = {"vars": names}
    if rows.truncated:
        head["link"] = [RESULT_CAP_LINK]
    return f'{{"head":{_json_text(head)},"results":{{"bindings":[{bindings}]}}}}'


def _json_text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_term(term: object) -> str:
    if isinstance(term, NamedNode):
        return '{"type":"uri","value":' + _json_string(term.value) + "}"
    if isinstance(term, BlankNode):
        return '{"type":"bnode","value":' + _json_string(term.value) + "}"
    if isinstance(term, Triple):
        return (
            '{"type":"triple","value":{"subject":' + _json_term(term.subject)
            + ',"predicate":' + _json_term(term.predicate)
            + ',"object":' + _json_term(term.object) + "}}"
        )  # fmt: skip
    written = '{"type":"literal","value":' + _json_string(term.value)
    if term.language:
        written += ',"xml:lang":' + _json_string(term.language)
        if term.direction is not None:
            written += ',"its:dir":' + _json_string(term.direction.value)
    elif term.datatype.value != XSD_STRING:
        written += ',"datatype":' + _json_string(term.datatype.value)
    return written + "}"


_XML_START = f'<?xml version="1.0"?><sparql xmlns="{_RESULTS_XML_NAMESPACE}">'
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;", "\t": "&#9;"}
)


def _xml_solutions(names: list[str], rows: _Capped) -> str:
    results = "".join(
        "<result>"
        + "".join(
            f'<binding name="{name}">{_xml_term(term)}</binding>'
            for name, term in _bindings(names, row)
        )
        + "</result>"
        for row in rows
    )
    head = "".join(f'<variable name="{name}"/>' for name in names)
    if rows.truncated:
        head += f'<link href="{_xml_escape(RESULT_CAP_LINK)}"/>'
    return f"{_XML_START}<head>{head}</head><results>{results}</results></sparql>"


_XML_EDGE_WHITESPACE = re.compile(r"^[ \n]+|[ \n]+$")


def _xml_text(text: str) -> str:
    """Escaped text content whose leading and trailing white space survives trimming readers."""
    return _XML_EDGE_WHITESPACE.sub(
        lambda found: "".join(f"&#{ord(character)};" for character in found.group()),
        _xml_escape(text),
    )


def _xml_escape(text: str) -> str:
    if _XML_FORBIDDEN.search(text):
        raise NotAcceptable(
            "the answer holds a character that XML 1.0 cannot carry; ask for JSON, CSV or TSV",
            offered=[RESULTS_MEDIA_TYPES[name] for name in ("json", "csv", "tsv")],
        )
    return text.translate(_XML_ESCAPES)


def _xml_term(term: object) -> str:
    if isinstance(term, NamedNode):
        return f"<uri>{_xml_escape(term.value)}</uri>"
    if isinstance(term, BlankNode):
        return f"<bnode>{_xml_escape(term.value)}</bnode>"
    if isinstance(term, Triple):
        return (
            f"<triple><subject>{_xml_term(term.subject)}</subject>"
            f"<predicate>{_xml_term(term.predicate)}</predicate>"
            f"<object>{_xml_term(term.object)}</object></triple>"
        )
    if term.language:
        attributes = f' xml:lang="{_xml_escape(term.language)}"'
        if term.direction is not None:
            attributes += (
                f' its:dir="{term.direction.value}" xmlns:its="{_ITS_NAMESPACE}" its:version="2.0"'
            )
    elif term.datatype.value != XSD_STRING:
        attributes = f' datatype="{_xml_escape(term.datatype.value)}"'
    else:
        attributes = ""
    return f"<literal{attributes}>{_xml_text(term.value)}</literal>"


def _csv_solutions(names: list[str], rows: _Capped) -> str:
    lines = [",".join(names)]
    lines.extend(",".join(_csv_field(term) for term in row) for row in rows)
    return "".join(line + "\r\n" for line in lines)


def _csv_field(term: object) -> str:
    if term is None:
        return ""
    text = _csv_text(term)
    if any(character in text for character in '",\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_text(term: object) -> str:
    """A term as the CSV format writes it: IRI, ``_:label`` or the literal's lexical form."""
    if isinstance(term, BlankNode):
        return "_:" + term.value
    if isinstance(term, Triple):
        return " ".join(_csv_text(part) for part in (term.subject, term.predicate, term.object))
    return term.value


def _tsv_solutions(names: list[str], rows: _Capped) -> str:
    lines = ["\t".join("?" + name for name in names)]
    lines.extend("\t".join("" if term is None else _tsv_term(term) for term in row) for row in rows)
    return "".join(line + "\n" for line in lines)


_BARE_TSV_LITERALS = {
    str(XSD.integer): re.compile(r"[+-]?[0-9]+", re.ASCII),
    str(XSD.decimal): re.compile(r"[+-]?[0-9]*\.[0-9]+", re.ASCII),
    str(XSD.double): re.compile(
        r"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)[eE][+-]?[0-9]+", re.ASCII
    ),
    str(XSD.boolean): re.compile(r"true|false"),
}
"""Datatype -> lexical forms that Turtle reads back as that very literal when written bare."""

_TURTLE_STRING_ESCAPES = str.maketrans(
    {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
)


def _tsv_term(term: object) -> str:
    """A term in Turtle syntax, as the TSV format writes it."""
    if isinstance(term, NamedNode):
        return f"<{term.value}>"
    if isinstance(term, BlankNode):
        return "_:" + term.value
    if isinstance(term, Triple):
        parts = (term.subject, term.predicate, term.object)
        return "<<( " + " ".join(_tsv_term(part) for part in parts) + " )>>"
    return _turtle_literal(term)


def _turtle_literal(literal: Literal) -> str:
    datatype = literal.datatype.value
    bare = _BARE_TSV_LITERALS.get(datatype)
    if bare is not None and bare.fullmatch(literal.value):
        return literal.value
    quoted = '"' + literal.value.translate(_TURTLE_STRING_ESCAPES) + '"'
    if literal.language:
        direction = "" if literal.direction is None else "--" + literal.direction.value
        return f"{quoted}@{literal.language}{direction}"
    if datatype == XSD_STRING:
        return quoted
    return f"{quoted}^^<{datatype}>"


_SOLUTIONS_WRITERS = {
    "json": _json_solutions,
    "xml": _xml_solutions,
    "csv": _csv_solutions,
    "tsv": _tsv_solutions,
}


# --- CONSTRUCT and DESCRIBE ---------------------------------------------------------------------


def _graph_answer(
    triples: Iterable[Triple],
    format_name: str,
    max_rows: int,
    prefixes: Mapping[str, str],
    evaluate_again: Callable[[], object] | None,
) -> SerializedAnswer:
    media_type = _media_type(RDF_MEDIA_TYPES, format_name)
    if (
        evaluate_again is not None
        and format_name == "ntriples"
        and isinstance(triples, pyoxigraph.QueryTriples)
    ):
        written = _ntriples_by_pyoxigraph(triples, max_rows)
        if written is not None:
            body, count, truncated = written
            return SerializedAnswer("graph", format_name, media_type, body, count, truncated)
        triples = evaluate_again()
    rdf_format = _RDF_FORMAT_OF_NAME[format_name]
    capped = _Capped(_distinct(triples), max_rows)
    graph = list(capped)
    used = _used_prefixes(graph, prefixes) if format_name in PREFIXED_RDF_FORMATS else None
    statements = [Quad(*triple) for triple in graph] if rdf_format.supports_datasets else graph
    try:
        body = pyoxigraph.serialize(statements, format=rdf_format, prefixes=used)
    except (OSError, ValueError) as error:
        raise _not_writable(format_name, str(error)) from error
    if format_name == "rdfxml":
        _check_rdfxml(graph, body)
    return SerializedAnswer("graph", format_name, media_type, body, capped.count, capped.truncated)


def _ntriples_by_pyoxigraph(
    triples: pyoxigraph.QueryTriples, max_rows: int
) -> tuple[bytes, int, bool] | None:
    """(body, triples, truncated) as pyoxigraph writes `triples` in N-Triples (consuming them),
    each distinct line once, cut after `max_rows`; None when it wrote `NATIVE_BYTES` before the
    line past the cap (one triple a line: N-Triples escapes line breaks in literals)."""
    body, complete = _pyoxigraph_output(triples, RdfFormat.N_TRIPLES)
    lines = body.split(b"\n")
    partial = lines.pop()  # after the last line break: empty once all is written
    if complete and partial:
        return None
    distinct = list(dict.fromkeys(lines))  # a DESCRIBE may give a triple once per graph
    if len(distinct) > max_rows:
        return b"".join(line + b"\n" for line in distinct[:max_rows]), max_rows, True
    if not complete:
        return None
    return b"".join(line + b"\n" for line in distinct), len(distinct), False


def _distinct(triples: Iterable[Triple]) -> Iterator[Triple]:
    seen: set[Triple] = set()
    for triple in triples:
        if triple not in seen:
            seen.add(triple)
            yield triple


def _used_prefixes(graph: list[Triple], prefixes: Mapping[str, str]) -> dict[str, str]:
    """The prefixes whose namespace starts at least one IRI of `graph`."""
    iris = {iri for triple in graph for iri in _iris(triple)}
    return {
        name: namespace
        for name, namespace in prefixes.items()
        if any(iri.startswith(namespace) for iri in iris)
    }


def _iris(term: object) -> Iterator[str]:
    if isinstance(term, Triple):
        for part in term:
            yield from _iris(part)
    elif isinstance(term, NamedNode):
        yield term.value
    elif isinstance(term, Literal) and not term.language and term.datatype.value != XSD_STRING:
        yield term.datatype.value


def _check_rdfxml(graph: list[Triple], body: bytes) -> None:
    """:raises NotAcceptable: the RDF/XML is not well-formed or would change a literal."""
    if any(isinstance(t.object, Literal) and "\r" in t.object.value for t in graph):
        raise _not_writable("rdfxml", "XML readers would turn a carriage return into a line feed")
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    try:
        parser.Parse(body, True)
    except xml.parsers.expat.ExpatError as error:
        raise _not_writable(
            "rdfxml",
            f"a predicate IRI has no XML local name or a character is not allowed ({error})",
        ) from error


def _not_writable(format_name: str, reason: str) -> NotAcceptable:
    others = [media for name, media in RDF_MEDIA_TYPES.items() if name != format_name]
    return NotAcceptable(
        f"this answer cannot be written as {RDF_MEDIA_TYPES[format_name]}: {reason}",
        offered=others,
    )
