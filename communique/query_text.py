"""Cheap, safe pre-checks on SPARQL query text, before any parser sees it.

The engine must never see some queries: pyoxigraph crashes the whole process on a query nested a
few thousand groups deep and performs ``SERVICE`` calls itself, and rdflib fetches ``FROM`` and
``LOAD`` contents. `inspect_query` reads the text with a small lexer (one left-to-right pass of
possessive regular expressions, no backtracking, no recursion) and refuses what must not reach
an engine: too large, too deep, unbalanced, SPARQL Update, ``SERVICE`` outside the allow-list,
``FROM`` outside the dataset.

Codepoint escapes (``\\u0053``) are decoded first, as SPARQL 1.1 §19.2 says, so the checks see
what a spec-conforming parser sees. Engines differ here (pyoxigraph decodes escapes only inside
strings and IRIs), so an escape that decodes to a character which changes how the text is split
into tokens (quotes, backslash, angle brackets, braces, white space, control characters) is
refused: the decoded text and the text as written then tokenize alike. Evaluate
`QueryInfo.text`, the decoded text.

pyoxigraph also accepts keywords run together with other letters (``SERVICESILENT``,
``trueSERVICE``, ``SERVICE:x``, ``ASKFROM``). The spec reads each of those as one name, so a
bare word or a prefix name that contains ``SERVICE`` or ``FROM`` without being that keyword is
refused rather than guessed at.
"""

import re
from bisect import bisect_left
from collections.abc import Collection
from dataclasses import dataclass, field
from urllib.parse import urljoin

from communique.errors import BadRequest, ForbiddenOperation, PayloadTooLarge, QuerySyntaxError

QUERY_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
UPDATE_KEYWORDS = frozenset(
    {"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"}
)
GUARDED_KEYWORDS = ("SERVICE", "FROM")
"""Keywords that make an engine reach outside the dataset; they must stand alone as tokens."""


@dataclass(frozen=True)
class QueryLimits:
    max_bytes: int = 65536
    max_depth: int = 256
    max_tokens: int = 200_000


DEFAULT_LIMITS = QueryLimits()


@dataclass(frozen=True)
class ServiceClause:
    """One ``SERVICE`` clause; offsets are into `QueryInfo.text`."""

    endpoint: str
    silent: bool
    start: int
    end: int
    body: str


@dataclass(frozen=True)
class QueryInfo:
    """What `inspect_query` learnt about a query.

    `services` holds the outermost ``SERVICE`` clauses only: a clause nested in another one's
    body travels to the outer endpoint as part of that body.
    """

    form: str
    text: str
    prologue: str
    services: tuple[ServiceClause, ...]
    from_graphs: tuple[str, ...]
    from_named_graphs: tuple[str, ...]
    depth: int


def inspect_query(
    text: str,
    limits: QueryLimits = DEFAULT_LIMITS,
    *,
    allowed_services: Collection[str] = (),
    dataset_graphs: Collection[str] | None = None,
) -> QueryInfo:
    """Check `text` before any SPARQL parser sees it, and say what kind of query it is.

    `allowed_services` are the endpoint IRIs ``SERVICE`` may name (exact match);
    `dataset_graphs`, when not None, the only IRIs ``FROM`` and ``FROM NAMED`` may name.

    >>> inspect_query("PREFIX ex: <http://example.org/> ASK { ex:a ?p ?o }").form
    'ASK'

    :raises PayloadTooLarge: the text is longer than `limits.max_bytes` in UTF-8.
    :raises BadRequest: nesting deeper than `limits.max_depth`, too many tokens, an invalid
        codepoint escape.
    :raises QuerySyntaxError: unbalanced brackets, an unterminated string or IRI, no query form.
    :raises ForbiddenOperation: SPARQL Update, a ``SERVICE`` or ``FROM`` that is not allowed.
    """
    _check_size(text, limits.max_bytes)
    lexed = _lex(_decode_escapes(text), limits)
    _refuse_update(lexed)
    prologue = _read_prologue(lexed)
    form = _read_form(lexed, prologue.token_end)
    _refuse_run_together_keywords(lexed, prologue.token_end)
    services = _read_services(lexed, prologue, frozenset(allowed_services))
    from_graphs, from_named_graphs = _read_dataset_clauses(lexed, prologue, dataset_graphs)
    return QueryInfo(
        form=form,
        text=lexed.source.text,
        prologue=lexed.source.text[: prologue.text_end],
        services=services,
        from_graphs=from_graphs,
        from_named_graphs=from_named_graphs,
        depth=lexed.depth,
    )


# --- the text: size, codepoint escapes, positions ------------------------------------------


def _check_size(text: str, max_bytes: int) -> None:
    try:
        size = len(text) if len(text) > max_bytes else len(text.encode("utf-8"))
    except UnicodeEncodeError as error:
        line, column = _line_and_column(text, error.start)
        raise BadRequest(
            f"the query text holds a lone surrogate (U+{ord(text[error.start]):04X}) "
            f"at line {line}, column {column}, which is not a Unicode character"
        ) from None
    if size > max_bytes:
        raise PayloadTooLarge(f"the query is longer than {max_bytes} bytes")


@dataclass(frozen=True)
class _Source:
    """The decoded text, and how to find a position of it in the text as written."""

    text: str
    written: str
    escape_positions: tuple[int, ...] = ()
    """Positions in `text` of the characters that were written as escapes."""
    extra_lengths: tuple[int, ...] = ()
    """For each escape, the characters it added up to and including it (5 or 9 each)."""

    def location(self, position: int) -> str:
        line, column = _line_and_column(self.written, self._written_position(position))
        return f"line {line}, column {column}"

    def syntax_error(self, message: str, position: int) -> QuerySyntaxError:
        line, column = _line_and_column(self.written, self._written_position(position))
        return QuerySyntaxError(
            f"{message} at line {line}, column {column}", line=line, column=column
        )

    def _written_position(self, position: int) -> int:
        before = bisect_left(self.escape_positions, position)
        return position + (self.extra_lengths[before - 1] if before else 0)


def _line_and_column(text: str, position: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, position) + 1
    return text.count("\n", 0, position) + 1, position - line_start + 1


_CODEPOINT_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_TOKEN_CHANGING = frozenset("<>\"'{}|^`\\" + "".join(map(chr, range(0x21))) + "\x7f")
"""Characters an escape may not produce: they would split the text into other tokens."""


def _decode_escapes(written: str) -> _Source:
    if "\\u" not in written and "\\U" not in written:
        return _Source(written, written)
    pieces: list[str] = []
    positions: list[int] = []
    extra_lengths: list[int] = []
    decoded_length = extra = cursor = 0
    for match in _CODEPOINT_ESCAPE.finditer(written):
        character = _escaped_character(match, written)
        pieces.append(written[cursor : match.start()])
        pieces.append(character)
        decoded_length += match.start() - cursor
        positions.append(decoded_length)
        decoded_length += 1
        extra += len(match.group()) - 1
        extra_lengths.append(extra)
        cursor = match.end()
    pieces.append(written[cursor:])
    return _Source("".join(pieces), written, tuple(positions), tuple(extra_lengths))


def _escaped_character(match: re.Match[str], written: str) -> str:
    codepoint = int(match.group(1) or match.group(2), 16)
    if codepoint > 0x10FFFF or 0xD800 <= codepoint <= 0xDFFF:
        where = _escape_location(match, written)
        raise BadRequest(f"the codepoint escape {where} is not a Unicode character")
    character = chr(codepoint)
    if character in _TOKEN_CHANGING:
        where = _escape_location(match, written)
        raise BadRequest(
            f"the codepoint escape {where} stands for U+{codepoint:04X}, a character that would "
            "change where strings, IRIs and names end; write a string escape (such as \\n, "
            '\\" or \\\\) or the character itself instead'
        )
    return character


def _escape_location(match: re.Match[str], written: str) -> str:
    line, column = _line_and_column(written, match.start())
    return f"{match.group()} at line {line}, column {column}"


# --- the lexer -----------------------------------------------------------------------------

_PN_CHARS_BASE = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_PN_CHARS_U = _PN_CHARS_BASE + "_"
_VARNAME_CHARS = _PN_CHARS_U + "0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PN_CHARS = _VARNAME_CHARS + "\\-"
_LOCAL_ESCAPE = r"\\[_~.\-!$&'()*+,;=/?#@%]"
_IRI_CHARS = r'[^<>"{}|^`\\\x00-\x20]'

_TOKEN = re.compile(
    r"(?:\s++|\#[^\n\r]*+)*+"  # white space and comments, skipped
    r"(?:"
    rf"(?P<iri><{_IRI_CHARS}*+>)"
    r"|(?P<string>"
    r'"""(?:(?:""?+)?+(?:[^"\\]|\\[\s\S]))*+"""'
    r"|'''(?:(?:''?+)?+(?:[^'\\]|\\[\s\S]))*+'''"
    r'|"(?!"")(?:[^"\\\n\r]|\\[^\n\r])*+"'
    r"|'(?!'')(?:[^'\\\n\r]|\\[^\n\r])*+')"
    r"|(?P<open_string>\"\"\"|'''|[\"'])"
    rf"|(?P<var>[?$][{_VARNAME_CHARS}]++)"
    r"|(?P<langtag>@[A-Za-z]++(?:-[A-Za-z0-9]++)*+)"
    r"|(?P<number>[0-9]++(?:\.[0-9]++)?+(?:[eE][+-]?+[0-9]++)?+|\.[0-9]++(?:[eE][+-]?+[0-9]++)?+)"
    rf"|(?P<name>[{_PN_CHARS_U}:](?:[{_PN_CHARS}.:%]|{_LOCAL_ESCAPE})*+)"
    r"|(?P<open>[{(\[])"
    r"|(?P<close>[})\]])"
    r"|(?P<other>[\s\S])"
    r")"
)
_LETTERS = re.compile(r"[A-Za-z]++")
_UNTERMINATED_IRI = re.compile(rf"[A-Za-z][A-Za-z0-9+.\-]*+://{_IRI_CHARS}*+")
_CLOSER_OF = {"{": "}", "(": ")", "[": "]"}

_WORD, _PNAME, _VAR, _IRI, _STRING, _OPEN = "word", "pname", "var", "iri", "string", "open"
_KINDS_KEPT_AS_IS = frozenset({_VAR, _IRI, _STRING, "number", "langtag"})


@dataclass
class _Lexed:
    source: _Source
    tokens: list[tuple[str, int, int]] = field(default_factory=list)
    """(kind, start, end); a bare word is split into its runs of letters."""
    notable: list[int] = field(default_factory=list)
    """Indexes of the tokens the checks read: words that are or hold an update or guarded
    keyword, prefixed names whose prefix holds a guarded keyword."""
    closing_brace: dict[int, int] = field(default_factory=dict)
    depth: int = 0

    def value(self, index: int) -> str:
        _kind, start, end = self.tokens[index]
        return self.source.text[start:end]

    def is_word(self, index: int, *words: str) -> bool:
        if index >= len(self.tokens) or self.tokens[index][0] != _WORD:
            return False
        return self.value(index).upper() in words

    def syntax_error_at(self, index: int, message: str) -> QuerySyntaxError:
        if index < len(self.tokens):
            return self.source.syntax_error(message, self.tokens[index][1])
        return self.source.syntax_error(message, len(self.source.text))


def _lex(source: _Source, limits: QueryLimits) -> _Lexed:
    lexed = _Lexed(source)
    text, tokens = source.text, lexed.tokens
    open_brackets: list[int] = []
    position = 0
    while match := _TOKEN.match(text, position):
        kind = match.lastgroup
        start, position = match.start(kind), match.end()
        if kind in _KINDS_KEPT_AS_IS:
            tokens.append((kind, start, position))
        elif kind == "name":
            position = _add_name(lexed, start, position)
        elif kind == "open":
            open_brackets.append(start)
            if len(open_brackets) > limits.max_depth:
                raise BadRequest(
                    f"the query nests brackets more than {limits.max_depth} deep "
                    f"(at {source.location(start)})"
                )
            tokens.append((_OPEN, start, position))
            lexed.depth = max(lexed.depth, len(open_brackets))
        elif kind == "close":
            _close_bracket(lexed, open_brackets, start)
            tokens.append((kind, start, position))
        elif kind == "open_string":
            raise source.syntax_error("unterminated string", start)
        else:
            if text[start] == "<":
                _refuse_unterminated_iri(source, start)
            tokens.append((kind, start, position))
        if len(tokens) > limits.max_tokens:
            raise BadRequest(f"the query has more than {limits.max_tokens} tokens")
    if open_brackets:
        start = open_brackets[-1]
        raise source.syntax_error(f"'{text[start]}' is never closed", start)
    return lexed


def _add_name(lexed: _Lexed, start: int, end: int) -> int:
    """Add a prefixed name, or the letter runs of a bare word; return where the next token starts.

    A prefixed name cannot end with an unescaped '.', which is then the triple terminator.
    """
    text, tokens = lexed.source.text, lexed.tokens
    if ":" not in text[start:end]:
        for run in _LETTERS.finditer(text, start, end):
            word = run.group().upper()
            if word in UPDATE_KEYWORDS or _guarded_keyword_in(word):
                lexed.notable.append(len(tokens))
            tokens.append((_WORD, *run.span()))
        return end
    while text[end - 1] == "." and text[end - 2] != "\\":
        end -= 1
    if _guarded_keyword_in(text[start : text.index(":", start)]):
        lexed.notable.append(len(tokens))
    tokens.append((_PNAME, start, end))
    return end


def _close_bracket(lexed: _Lexed, open_brackets: list[int], start: int) -> None:
    text, source = lexed.source.text, lexed.source
    if not open_brackets:
        raise source.syntax_error(f"'{text[start]}' has no opening bracket", start)
    opened = open_brackets.pop()
    if _CLOSER_OF[text[opened]] != text[start]:
        raise source.syntax_error(
            f"'{text[start]}' cannot close '{text[opened]}' (opened at {source.location(opened)})",
            start,
        )
    if text[opened] == "{":
        lexed.closing_brace[opened] = start


def _refuse_unterminated_iri(source: _Source, start: int) -> None:
    """'<' is a less-than operator unless it starts an IRI; an IRI cut short is an error."""
    match = _UNTERMINATED_IRI.match(source.text, start + 1)
    if match and (match.end() == len(source.text) or source.text[match.end()].isspace()):
        raise source.syntax_error("unterminated IRI: '>' expected before white space", start)


# --- reading the tokens --------------------------------------------------------------------


def _refuse_update(lexed: _Lexed) -> None:
    for index in lexed.notable:
        keyword = lexed.value(index).upper()
        if lexed.tokens[index][0] == _WORD and keyword in UPDATE_KEYWORDS:
            if keyword in ("INSERT", "DELETE") and lexed.is_word(index + 1, "DATA", "WHERE"):
                keyword = f"{keyword} {lexed.value(index + 1).upper()}"
            raise ForbiddenOperation(
                f"this endpoint is read-only: SPARQL Update ({keyword}) is not accepted"
            )


@dataclass
class _Prologue:
    token_end: int = 0
    """Index of the first token after the prologue."""
    text_end: int = 0
    base: str | None = None
    prefixes: dict[str, str] = field(default_factory=dict)


def _read_prologue(lexed: _Lexed) -> _Prologue:
    prologue = _Prologue()
    index = 0
    while lexed.is_word(index, "BASE", "PREFIX", "VERSION"):
        keyword = lexed.value(index).upper()
        if keyword == "BASE":
            prologue.base = _resolve(_iri_at(lexed, index + 1, "BASE"), prologue.base, lexed, index)
            index += 2
        elif keyword == "PREFIX":
            name = _prefix_name_at(lexed, index + 1)
            iri = _iri_at(lexed, index + 2, f"PREFIX {name}:")
            prologue.prefixes[name] = _resolve(iri, prologue.base, lexed, index + 2)
            index += 3
        else:
            if index + 1 >= len(lexed.tokens) or lexed.tokens[index + 1][0] != _STRING:
                raise lexed.syntax_error_at(index + 1, "a version string is expected after VERSION")
            index += 2
        prologue.token_end, prologue.text_end = index, lexed.tokens[index - 1][2]
    return prologue


def _iri_at(lexed: _Lexed, index: int, after: str) -> str:
    if index >= len(lexed.tokens) or lexed.tokens[index][0] != _IRI:
        raise lexed.syntax_error_at(index, f"an IRI in <...> is expected after {after}")
    return lexed.value(index)[1:-1]


def _prefix_name_at(lexed: _Lexed, index: int) -> str:
    if index < len(lexed.tokens) and lexed.tokens[index][0] == _PNAME:
        name = lexed.value(index)
        if name.index(":") == len(name) - 1:
            return name[:-1]
    raise lexed.syntax_error_at(index, "a prefix name such as 'ex:' is expected after PREFIX")


def _read_form(lexed: _Lexed, index: int) -> str:
    if lexed.is_word(index, *QUERY_FORMS):
        return lexed.value(index).upper()
    expected = "SELECT, ASK, CONSTRUCT or DESCRIBE is expected"
    if index >= len(lexed.tokens):
        raise lexed.syntax_error_at(index, f"the query ends early: {expected}")
    found = lexed.value(index)[:40]
    raise lexed.syntax_error_at(index, f"{expected}, not {found!r},")


def _refuse_run_together_keywords(lexed: _Lexed, first: int) -> None:
    for index in lexed.notable:
        kind, start, _end = lexed.tokens[index]
        if index < first:
            continue
        value = lexed.value(index)
        if kind == _WORD and value.upper() not in GUARDED_KEYWORDS:
            keyword = _guarded_keyword_in(value)
            if keyword:
                raise lexed.source.syntax_error(
                    f"{value[:40]!r} runs the keyword {keyword} together with other letters; "
                    "separate keywords with white space",
                    start,
                )
        elif kind == _PNAME:
            keyword = _guarded_keyword_in(value[: value.index(":")])
            if keyword:
                raise ForbiddenOperation(
                    f"the prefixed name {value[:60]!r} at {lexed.source.location(start)} has the "
                    f"keyword {keyword} in its prefix; such prefixes are not accepted here, as "
                    f"some engines read them as {keyword} (rename the prefix)"
                )


def _guarded_keyword_in(name: str) -> str | None:
    upper = name.upper()
    return next((keyword for keyword in GUARDED_KEYWORDS if keyword in upper), None)


def _read_services(
    lexed: _Lexed, prologue: _Prologue, allowed: frozenset[str]
) -> tuple[ServiceClause, ...]:
    clauses: list[ServiceClause] = []
    for index in lexed.notable:
        if index < prologue.token_end or not lexed.is_word(index, "SERVICE"):
            continue
        clause = _service_at(lexed, prologue, index)
        if clause.endpoint not in allowed:
            raise ForbiddenOperation(
                f"SERVICE <{clause.endpoint}> is not allowed: federation is limited to the "
                "endpoints on the operator's allow-list"
                + ("" if allowed else ", which is empty on this server")
            )
        if not clauses or clause.start >= clauses[-1].end:
            clauses.append(clause)
    return tuple(clauses)


def _service_at(lexed: _Lexed, prologue: _Prologue, index: int) -> ServiceClause:
    start = lexed.tokens[index][1]
    silent = lexed.is_word(index + 1, "SILENT")
    target = index + 2 if silent else index + 1
    if target < len(lexed.tokens) and lexed.tokens[target][0] == _VAR:
        raise ForbiddenOperation(
            f"SERVICE {lexed.value(target)} (an endpoint chosen by a variable) is not accepted: "
            "federation is limited to the endpoints on the operator's allow-list"
        )
    endpoint = _graph_term_at(lexed, prologue, target, "SERVICE", None if silent else "SILENT")
    if target + 1 >= len(lexed.tokens) or lexed.value(target + 1) != "{":
        raise lexed.syntax_error_at(target + 1, "'{' is expected after the SERVICE endpoint")
    opened = lexed.tokens[target + 1][1]
    closed = lexed.closing_brace[opened]
    body = lexed.source.text[opened + 1 : closed]
    return ServiceClause(endpoint, silent, start, closed + 1, body)


def _read_dataset_clauses(
    lexed: _Lexed, prologue: _Prologue, dataset_graphs: Collection[str] | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    graphs: list[str] = []
    named_graphs: list[str] = []
    for index in lexed.notable:
        if index < prologue.token_end or not lexed.is_word(index, "FROM"):
            continue
        named = lexed.is_word(index + 1, "NAMED")
        clause = "FROM NAMED" if named else "FROM"
        target, modifier = (index + 2, None) if named else (index + 1, "NAMED")
        iri = _graph_term_at(lexed, prologue, target, clause, modifier)
        if dataset_graphs is not None and iri not in dataset_graphs:
            raise ForbiddenOperation(
                f"{clause} <{iri}> is not allowed: only the dataset's own graphs can be named"
            )
        (named_graphs if named else graphs).append(iri)
    return tuple(graphs), tuple(named_graphs)


def _graph_term_at(
    lexed: _Lexed, prologue: _Prologue, index: int, clause: str, modifier: str | None
) -> str:
    """The IRI (in <...> or as a prefixed name) that `clause` names, as an absolute IRI.

    A prefixed name whose prefix starts with `modifier` (SILENT, NAMED) is refused: pyoxigraph
    reads ``SERVICE SILENTex:e`` as ``SERVICE SILENT ex:e``.
    """
    kind = lexed.tokens[index][0] if index < len(lexed.tokens) else None
    if kind == _IRI:
        return _resolve(lexed.value(index)[1:-1], prologue.base, lexed, index)
    if kind != _PNAME:
        raise lexed.syntax_error_at(index, f"an IRI is expected after {clause}")
    name = lexed.value(index)
    prefix, local = name.split(":", 1)
    if modifier and prefix.upper().startswith(modifier):
        raise ForbiddenOperation(
            f"{clause} {name[:60]} at {lexed.source.location(lexed.tokens[index][1])} is "
            f"ambiguous: some engines read it as {clause} {modifier} {name[len(modifier) :]}; "
            "write it with white space or as a full IRI"
        )
    if prefix not in prologue.prefixes:
        raise lexed.syntax_error_at(index, f"the prefix '{prefix}:' is not declared")
    return prologue.prefixes[prefix] + re.sub(r"\\(.)", r"\1", local)


_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*+:")


def _resolve(iri: str, base: str | None, lexed: _Lexed, index: int) -> str:
    if base is None or _ABSOLUTE_IRI.match(iri):
        return iri
    try:
        return urljoin(base, iri)
    except ValueError as error:
        message = f"<{iri}> cannot be resolved against the BASE: {error}"
        raise lexed.syntax_error_at(index, message) from None
