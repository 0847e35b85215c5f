"""SERVICE to allow-listed endpoints, done safely: fetched here, then inlined as VALUES.

pyoxigraph would call a ``SERVICE`` endpoint itself, with no address check. Instead, before
evaluation, `inline_services` fetches the solutions of each allow-listed clause and puts them in
the query text as an inline ``VALUES`` block. SPARQL 1.1 Federated Query evaluates the group of
``SERVICE <e> { P }`` on its own and joins its solutions, so the clause is equivalent to
``VALUES (?v1 ...) { (t11 ...) ... }`` holding the answer of ``SELECT * WHERE { P }`` at `e`
(sent with the query's prologue). An unbound value becomes ``UNDEF``; an answer with no
variables keeps its cardinality as ``VALUES () { () ... }``. A ``SERVICE SILENT`` whose call
fails becomes ``{}``, one empty solution, as the spec says; an endpoint whose address the policy
refuses stays an error even under SILENT (the server's configuration fails, not the endpoint).

VALUES cannot hold blank nodes, so each blank node of a remote answer becomes an IRI under
`SKOLEM_PREFIX`: the same label within one answer gives the same IRI, two answers never share
one. Results therefore show these IRIs where the remote endpoint had blank nodes.

The calls go through SPARQLWrapper with a guarded opener: only http and https; the host is
resolved once, every address is checked (no loopback, private, link-local, multicast, reserved
or cloud-metadata target unless the policy allows private targets), and the connection goes to
those checked addresses, so a second DNS answer cannot redirect it (no rebinding). Redirects and
proxies are not followed. The whole call, connection to last byte, has one deadline, and the
answer is read up to a size cap.
"""

import contextlib
import functools
import http.client
import ipaddress
import json
import re
import socket
import ssl
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from SPARQLWrapper import JSON, POST, SELECT, SPARQLWrapper

from communique.errors import ForbiddenOperation, UpstreamError
from communique.query_text import QueryInfo, ServiceClause

SKOLEM_PREFIX = "urn:communique:bnode:"
"""Blank nodes of remote answers become IRIs under this prefix (VALUES cannot hold them)."""

SILENT_FAILURE = "{}"
"""What a failed ``SERVICE SILENT`` clause becomes: a group with one empty solution."""

CLOUD_METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
NAT64_NETWORK = ipaddress.ip_network("64:ff9b::/96")
_URI_SAFE = "/?#[]@!$&'()*+,;=:%~"


@dataclass(frozen=True)
class ServicePolicy:
    allowed: frozenset[str]
    """Endpoint IRIs that SERVICE may call, matched exactly."""
    allow_private: bool = False
    """Let endpoints resolve to loopback, private, link-local or metadata addresses."""
    timeout: float = 5.0
    """Seconds for one remote call, from connecting to the last byte."""
    max_bytes: int = 10 * 1024 * 1024
    max_rows: int = 10000


def inline_services(info: QueryInfo, policy: ServicePolicy) -> str:
    """`info.text` with every (outermost) SERVICE clause replaced by the solutions it names.

    :raises ForbiddenOperation: an endpoint outside the allow-list or at a refused address.
    :raises UpstreamError: a call that is not SILENT failed; the message names the endpoint.
    """
    pieces: list[str] = []
    cursor = 0
    for clause in info.services:
        pieces += (info.text[cursor : clause.start], _replacement(clause, info.prologue, policy))
        cursor = clause.end
    pieces.append(info.text[cursor:])
    return "".join(pieces)


def _replacement(clause: ServiceClause, prologue: str, policy: ServicePolicy) -> str:
    if clause.endpoint not in policy.allowed:
        raise ForbiddenOperation(
            f"SERVICE <{clause.endpoint}> is not allowed: federation is limited to the "
            "endpoints on the operator's allow-list"
        )
    query = f"{prologue}\nSELECT * WHERE {{\n{clause.body}\n}}\n"
    try:
        return _values_block(_fetch_solutions(clause.endpoint, query, policy))
    except UpstreamError:
        if clause.silent:
            return SILENT_FAILURE
        raise


# --- endpoint addresses --------------------------------------------------------------------


def check_endpoint_address(url: str, allow_private: bool) -> None:
    """Refuse an endpoint that is not http(s) or that resolves to a non-public address.

    >>> check_endpoint_address("http://127.0.0.1:7878/query", allow_private=True)

    :raises ForbiddenOperation: another scheme, no host, or (unless `allow_private`) any address
        of the host is loopback, private, link-local, multicast, reserved, unspecified or a
        cloud metadata address (IPv4 inside IPv6 is unwrapped first).
    :raises UpstreamError: the host cannot be resolved.
    """
    _checked_addresses(url, allow_private)


def _checked_addresses(url: str, allow_private: bool) -> list[tuple[str, int]]:
    """The (address, port) pairs `url` resolves to, each one checked."""
    host, port = _http_host_and_port(url)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as error:
        raise UpstreamError(f"SERVICE endpoint {url} cannot be resolved: {error}") from None
    addresses = [
        (sockaddr[0], sockaddr[1])
        for family, _type, _proto, _name, sockaddr in found
        if family in (socket.AF_INET, socket.AF_INET6)
    ]
    if not addresses:
        raise UpstreamError(f"SERVICE endpoint {url} has no IPv4 or IPv6 address")
    for address, _port in addresses:
        reason = None if allow_private else _non_public_reason(address)
        if reason:
            raise ForbiddenOperation(
                f"SERVICE endpoint {url} resolves to {address}, {reason}; federation only "
                "calls public addresses on this server"
            )
    return addresses


def _http_host_and_port(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ForbiddenOperation(f"SERVICE endpoint {url} is not a valid URL: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ForbiddenOperation(
            f"SERVICE endpoint {url} is refused: only http and https endpoints can be called"
        )
    if not parts.hostname:
        raise ForbiddenOperation(f"SERVICE endpoint {url} has no host")
    return parts.hostname, port or (443 if scheme == "https" else 80)


def _non_public_reason(address: str) -> str | None:
    """Why `address` may not be called (None when it is a public address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return next(filter(None, map(_address_reason, (ip, *_embedded_ipv4(ip)))), None)


def _embedded_ipv4(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses carried inside an IPv6 one (mapped, 6to4, Teredo, NAT64)."""
    if ip.version == 4:
        return []
    embedded = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
    if ip in NAT64_NETWORK:
        embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [address for address in embedded if address is not None]


def _address_reason(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    checks = (
        (ip in CLOUD_METADATA_ADDRESSES, "the cloud metadata address"),
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "not a public address"),
    )
    return next((reason for refused, reason in checks if refused), None)


# --- the call ------------------------------------------------------------------------------


def _fetch_solutions(endpoint: str, query: str, policy: ServicePolicy) -> "_Solutions":
    """Send the SELECT `query` to `endpoint` and return its solutions, rendered for VALUES.

    :raises ForbiddenOperation: the endpoint's address is refused by the policy.
    :raises UpstreamError: unreachable, timed out, an HTTP error, an answer too large or not
        SPARQL JSON results.
    """
    addresses = _checked_addresses(endpoint, policy.allow_private)
    with _Deadline(policy.timeout) as deadline:
        body = _read_answer(endpoint, query, addresses, deadline, policy)
    return _parse_results(body, endpoint, policy.max_rows)


class _Deadline:
    """Shuts down the call's sockets when its time is up (a per-read timeout alone would let a
    server that sends one byte at a time hold the call open indefinitely)."""

    def __init__(self, seconds: float):
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut_down(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut_down(sock)


def _shut_down(sock: socket.socket) -> None:
    """Wake any thread blocked on `sock` (plain or TLS) by shutting the connection down."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


@dataclass(frozen=True)
class _Route:
    """Where a call may connect: addresses checked in advance, under one deadline."""

    addresses: list[tuple[str, int]]
    deadline: _Deadline

    def open_socket(
        self, _address: object, timeout: float, source_address: object = None
    ) -> socket.socket:
        error: OSError = OSError("no address to connect to")
        for address in self.addresses:
            try:
                sock = socket.create_connection(address, timeout, source_address)
            except OSError as failure:
                error = failure
                continue
            self.deadline.watch(sock)
            return sock
        raise error


class _PinnedConnectionMixin:
    """An HTTP(S) connection that connects to the route's checked addresses, not to a fresh
    DNS answer for its host (the host name still goes in Host, SNI and certificate checks)."""

    def __init__(self, *args: Any, route: _Route, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._route = route
        self._create_connection = route.open_socket

    def connect(self) -> None:
        super().connect()
        self._route.deadline.watch(self.sock)


class _PinnedHTTPConnection(_PinnedConnectionMixin, http.client.HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnectionMixin, http.client.HTTPSConnection):
    pass


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, route: _Route):
        super().__init__()
        self._route = route

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(_PinnedHTTPConnection, route=self._route)
        return self.do_open(connection, req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, route: _Route):
        super().__init__(context=ssl.create_default_context())
        self._route = route

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(_PinnedHTTPSConnection, route=self._route)
        return self.do_open(connection, req, context=self._context)


def _guarded_opener(
    addresses: list[tuple[str, int]], deadline: _Deadline
) -> urllib.request.OpenerDirector:
    """An opener with pinned http/https, no proxies, no redirects, no other schemes."""
    route = _Route(addresses, deadline)
    opener = urllib.request.OpenerDirector()
    for handler in (
        _PinnedHTTPHandler(route),
        _PinnedHTTPSHandler(route),
        urllib.request.UnknownHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


class _GuardedSPARQLWrapper(SPARQLWrapper):
    """SPARQLWrapper sending its request through a given opener.

    Two internals are replaced: `_query` (the stock one uses the process-wide urllib opener
    and reads error bodies without a bound) and `_parseQueryType` (the stock one runs
    backtracking regular expressions over the whole text; the query here is always a SELECT).
    """

    def __init__(self, endpoint: str, opener: urllib.request.OpenerDirector):
        super().__init__(endpoint, returnFormat=JSON)
        self._opener = opener

    def _parseQueryType(self, query: str) -> str:
        return SELECT

    def _query(self) -> tuple[http.client.HTTPResponse, str]:
        return self._opener.open(self._createRequest(), timeout=self.timeout), self.returnFormat


def _read_answer(
    endpoint: str,
    query: str,
    addresses: list[tuple[str, int]],
    deadline: _Deadline,
    policy: ServicePolicy,
) -> bytes:
    client = _GuardedSPARQLWrapper(_as_uri(endpoint), _guarded_opener(addresses, deadline))
    client.setQuery(query)
    client.setMethod(POST)
    client.setOnlyConneg(True)
    client.timeout = policy.timeout  # not setTimeout, which rounds down to whole seconds
    try:
        response = client.query().response
        with response:
            body = response.read(policy.max_bytes + 1)
    except urllib.error.HTTPError as error:
        error.close()
        raise UpstreamError(
            f"SERVICE <{endpoint}> answered HTTP {error.code} {error.reason}"
            + (" (redirects are not followed)" if 300 <= error.code < 400 else "")
        ) from None
    except (OSError, http.client.HTTPException) as error:
        if deadline.expired or _is_timeout(error):
            raise _timed_out(endpoint, policy) from None
        if isinstance(error, urllib.error.URLError):
            raise UpstreamError(f"SERVICE <{endpoint}> is unreachable: {error.reason}") from None
        raise UpstreamError(
            f"SERVICE <{endpoint}> broke off its answer: {type(error).__name__} {error}"
        ) from None
    if deadline.expired:
        raise _timed_out(endpoint, policy)
    if len(body) > policy.max_bytes:
        raise UpstreamError(f"SERVICE <{endpoint}> answered more than {policy.max_bytes} bytes")
    return body


def _as_uri(iri: str) -> str:
    """`iri` with the non-ASCII characters after its host percent-encoded (RFC 3987 §3.1)."""
    parts = urlsplit(iri)
    authority_end = len(parts.scheme) + len("://") + len(parts.netloc)
    return iri[:authority_end] + quote(iri[authority_end:], safe=_URI_SAFE)


def _is_timeout(error: BaseException) -> bool:
    return isinstance(error, TimeoutError) or isinstance(
        getattr(error, "reason", None), TimeoutError
    )


def _timed_out(endpoint: str, policy: ServicePolicy) -> UpstreamError:
    return UpstreamError(f"SERVICE <{endpoint}> did not answer within {policy.timeout:g} s")


# --- the answer ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Solutions:
    """A remote answer, its terms already written in SPARQL syntax (None: unbound)."""

    variables: tuple[str, ...]
    rows: tuple[tuple[str | None, ...], ...]


class _UnusableAnswer(Exception):
    """A remote answer that is not SPARQL JSON results or cannot be written in SPARQL."""


_VARNAME = re.compile(
    "[A-Za-z_0-9\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff"
    "\u200c-\u200d\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd"
    "\U00010000-\U000effff\u00b7\u0300-\u036f\u203f-\u2040]+"
)
_LANGUAGE_TAG = re.compile(r"[A-Za-z]+(?:-[A-Za-z0-9]+)*")
_IRIREF_FORBIDDEN = re.compile(r'[<>"{}|^`\\\x00-\x20]')
_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})


def _parse_results(body: bytes, endpoint: str, max_rows: int) -> _Solutions:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise UpstreamError(
            f"SERVICE <{endpoint}> sent an answer that is not JSON: {error}"
        ) from None
    try:
        variables = _variables(document)
        bindings = _field(_field(document, "results", dict), "bindings", list)
        if len(bindings) > max_rows:
            raise _UnusableAnswer(f"it has more than {max_rows} rows")
        blank_nodes = _BlankNodeIris()
        rows = tuple(_row(binding, variables, blank_nodes) for binding in bindings)
    except _UnusableAnswer as error:
        raise UpstreamError(f"SERVICE <{endpoint}> sent an unusable answer: {error}") from None
    return _Solutions(variables, rows)


def _field(container: object, name: str, kind: type) -> Any:
    value = container.get(name) if isinstance(container, dict) else None
    if not isinstance(value, kind):
        raise _UnusableAnswer(f"'{name}' is missing or not a JSON {kind.__name__}")
    return value


def _variables(document: object) -> tuple[str, ...]:
    names = _field(_field(document, "head", dict), "vars", list)
    if not all(isinstance(name, str) and _VARNAME.fullmatch(name) for name in names):
        raise _UnusableAnswer("head.vars holds something that is not a variable name")
    if len(set(names)) != len(names):
        raise _UnusableAnswer("head.vars names a variable twice")
    return tuple(names)


def _row(
    binding: object, variables: tuple[str, ...], blank_nodes: "_BlankNodeIris"
) -> tuple[str | None, ...]:
    if not isinstance(binding, dict):
        raise _UnusableAnswer("a binding is not a JSON object")
    unknown = set(binding) - set(variables)
    if unknown:
        raise _UnusableAnswer(f"a binding has variables not in head.vars: {sorted(unknown)}")
    return tuple(
        _term(binding[name], blank_nodes) if name in binding else None for name in variables
    )


def _term(term: object, blank_nodes: "_BlankNodeIris") -> str:
    kind = _field(term, "type", str)
    value = _text(_field(term, "value", str))
    if kind == "uri":
        return _iri(value)
    if kind == "bnode":
        return _iri(blank_nodes.iri(value))
    if kind in ("literal", "typed-literal"):
        return _literal(value, term.get("xml:lang"), term.get("datatype"))
    raise _UnusableAnswer(f"a term has type {kind[:40]!r}, not uri, literal or bnode")


def _text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _UnusableAnswer("a value holds a lone surrogate") from None
    return value


def _iri(value: str) -> str:
    if _IRIREF_FORBIDDEN.search(value) or not _ABSOLUTE_IRI.match(value):
        raise _UnusableAnswer(f"the IRI {value[:80]!r} cannot be written in SPARQL")
    return f"<{value}>"


def _literal(value: str, language: object, datatype: object) -> str:
    quoted = '"' + value.translate(_STRING_ESCAPES) + '"'
    if language is not None:
        if not isinstance(language, str) or not _LANGUAGE_TAG.fullmatch(language):
            raise _UnusableAnswer(f"the language tag {str(language)[:40]!r} is not valid")
        return f"{quoted}@{language}"
    if datatype is not None:
        if not isinstance(datatype, str):
            raise _UnusableAnswer("a datatype is not a string")
        return f"{quoted}^^{_iri(_text(datatype))}"
    return quoted


class _BlankNodeIris:
    """Skolem IRIs for the blank nodes of one answer: same label, same IRI; fresh per answer."""

    def __init__(self) -> None:
        self._answer = uuid.uuid4().hex
        self._iris: dict[str, str] = {}

    def iri(self, label: str) -> str:
        if label not in self._iris:
            self._iris[label] = f"{SKOLEM_PREFIX}{self._answer}-{len(self._iris)}"
        return self._iris[label]


def _values_block(solutions: _Solutions) -> str:
    variables = " ".join(f"?{name}" for name in solutions.variables)
    return f"VALUES ({variables}) {{ {' '.join(_values_rows(solutions.rows))} }}"


def _values_rows(rows: Iterable[tuple[str | None, ...]]) -> Iterable[str]:
    for row in rows:
        yield "(" + " ".join("UNDEF" if term is None else term for term in row) + ")"
