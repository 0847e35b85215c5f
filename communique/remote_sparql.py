"""Requests to another organisation's SPARQL service, for ``communique enrich`` and ``push``.

`RemoteSparql` sends SELECT queries and updates with SPARQLWrapper, and Graph Store Protocol
``PUT``s with urllib. Each request has one time limit (connection to last byte) and a size cap
on what it reads; HTTP 429, 502, 503 and 504 are retried politely, after the ``Retry-After`` the
server gives (seconds or an HTTP date, at most `MAX_WAIT_SECONDS`) or else after an exponential
backoff; anything else that goes wrong is one `UpstreamError` naming the endpoint. Credentials
are sent with HTTP Basic authentication and never appear in a message.
"""

import base64
import email.utils
import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pyoxigraph as ox
from SPARQLWrapper import BASIC, JSON, POST, POSTDIRECTLY, SELECT, URLENCODED, SPARQLWrapper

from communique import __version__
from communique.errors import UpstreamError
from communique.store import Solutions, read_out

USER_AGENT = f"Communique/{__version__} (https://w3id.org/communique/)"
"""Sent with every request (Wikidata's query service asks clients to name themselves)."""
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_WAIT_SECONDS = 300.0
BACKOFF_SECONDS = 1.0
READ_CHUNK_BYTES = 65536
ERROR_SNIPPET_BYTES = 500
RESULTS_ACCEPT = "application/sparql-results+json, application/sparql-results+xml;q=0.9"
UPDATE_TYPE = "INSERT"
"""Any update keyword makes SPARQLWrapper send the text to the update endpoint."""


class _RetryLater(Exception):
    def __init__(self, status: int, reason: str, wait: float | None):
        super().__init__(status)
        self.status = status
        self.reason = reason
        self.wait = wait


class _Wrapper(SPARQLWrapper):
    """SPARQLWrapper that lets every HTTP error through as it is (the stock one reads the whole
    error body, without a bound, into an exception that drops the headers)."""

    def _query(self) -> tuple[http.client.HTTPResponse, str]:
        return urllib.request.urlopen(
            self._createRequest(), timeout=self.timeout
        ), self.returnFormat


@dataclass(frozen=True)
class RemoteSparql:
    timeout: float = 30.0
    """Seconds for one request, from connecting to the last byte."""
    max_retries: int = 4
    credentials: tuple[str, str] | None = None
    """(user, password) for HTTP Basic authentication."""
    max_bytes: int = 256 * 1024 * 1024
    on_wait: Callable[[str], None] | None = None
    """Told why and how long the client waits before a retry."""
    sleep: Callable[[float], None] = time.sleep

    def select(self, endpoint: str, query: str) -> Solutions:
        """The solutions of a SELECT query.

        :raises UpstreamError: unreachable, timed out, an HTTP error (after the retries), or an
            answer that is not SPARQL results.
        """
        wrapper = self._wrapper(endpoint)
        wrapper.setRequestMethod(URLENCODED)
        wrapper.queryString = query
        wrapper.queryType = SELECT
        wrapper.addCustomHttpHeader("Accept", RESULTS_ACCEPT)
        body, media_type = self._send(endpoint, lambda: wrapper.query().response)
        results_format = ox.QueryResultsFormat.from_media_type(media_type)
        try:
            answer = ox.parse_query_results(body, results_format or ox.QueryResultsFormat.JSON)
            if not isinstance(answer, ox.QuerySolutions):
                raise UpstreamError(f"{endpoint} answered a boolean to a SELECT query")
            return read_out(answer)  # rows are parsed as they are read
        except (SyntaxError, ValueError) as error:
            raise UpstreamError(
                f"{endpoint} answered something that is not SPARQL query results "
                f"({media_type or 'no media type'}): {error}"
            ) from None

    def update(self, endpoint: str, update: str) -> None:
        """Run a SPARQL Update (sent as ``application/sparql-update``).

        :raises UpstreamError: as for `select`.
        """
        wrapper = self._wrapper(endpoint)
        wrapper.updateEndpoint = endpoint
        wrapper.setRequestMethod(POSTDIRECTLY)
        wrapper.queryString = update
        wrapper.queryType = UPDATE_TYPE
        self._send(endpoint, lambda: wrapper.query().response)

    def put(self, url: str, body: bytes, media_type: str) -> None:
        """Replace what `url` names with `body` (SPARQL 1.1 Graph Store HTTP Protocol ``PUT``).

        :raises UpstreamError: as for `select`.
        """
        headers = {"Content-Type": media_type, "User-Agent": USER_AGENT}
        if self.credentials:
            token = base64.b64encode(":".join(self.credentials).encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        request = urllib.request.Request(url, data=body, headers=headers, method="PUT")
        self._send(url, lambda: urllib.request.urlopen(request, timeout=self.timeout))

    def _wrapper(self, endpoint: str) -> _Wrapper:
        wrapper = _Wrapper(endpoint, agent=USER_AGENT)
        wrapper.setMethod(POST)
        wrapper.setOnlyConneg(True)
        wrapper.setReturnFormat(JSON)
        wrapper.timeout = self.timeout
        if self.credentials:
            wrapper.setHTTPAuth(BASIC)
            wrapper.setCredentials(*self.credentials)
        return wrapper

    def _send(
        self, endpoint: str, open_response: Callable[[], http.client.HTTPResponse]
    ) -> tuple[bytes, str]:
        """(body, media type) of the answer, retrying when the server asks to."""
        for attempt in range(self.max_retries + 1):
            try:
                return self._answer(endpoint, open_response)
            except _RetryLater as later:
                if attempt == self.max_retries:
                    raise UpstreamError(
                        f"{endpoint} still answered HTTP {later.status} {later.reason} after "
                        f"{self.max_retries} retries"
                    ) from None
                wait = later.wait if later.wait is not None else BACKOFF_SECONDS * 2**attempt
                if self.on_wait:
                    self.on_wait(
                        f"{endpoint} answered HTTP {later.status} {later.reason}; "
                        f"retrying in {wait:g} s"
                    )
                self.sleep(wait)
        raise AssertionError("unreachable")

    def _answer(
        self, endpoint: str, open_response: Callable[[], http.client.HTTPResponse]
    ) -> tuple[bytes, str]:
        deadline = time.monotonic() + self.timeout
        try:
            response = open_response()
        except urllib.error.HTTPError as error:
            raise self._http_error(endpoint, error) from None
        except (OSError, http.client.HTTPException) as error:
            raise _connection_error(endpoint, error, self.timeout) from None
        with response:
            media_type = response.headers.get_content_type() if response.headers else ""
            try:
                return self._read(endpoint, response, deadline), media_type
            except (OSError, http.client.HTTPException) as error:
                raise _connection_error(endpoint, error, self.timeout) from None

    def _read(self, endpoint: str, response: http.client.HTTPResponse, deadline: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while chunk := response.read(READ_CHUNK_BYTES):
            size += len(chunk)
            if size > self.max_bytes:
                raise UpstreamError(f"{endpoint} answered more than {self.max_bytes} bytes")
            if time.monotonic() > deadline:
                raise UpstreamError(
                    f"{endpoint} did not finish its answer within {self.timeout:g} s"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _http_error(self, endpoint: str, error: urllib.error.HTTPError) -> Exception:
        with error:
            if error.code in RETRY_STATUSES:
                return _RetryLater(error.code, error.reason, retry_after(error.headers))
            snippet = error.read(ERROR_SNIPPET_BYTES).decode("utf-8", "replace").strip()
        detail = f": {' '.join(snippet.split())}" if snippet else ""
        return UpstreamError(f"{endpoint} answered HTTP {error.code} {error.reason}{detail}")


def retry_after(headers: object) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or an HTTP date), capped."""
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_WAIT_SECONDS)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), MAX_WAIT_SECONDS)


def _connection_error(endpoint: str, error: BaseException, timeout: float) -> UpstreamError:
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, TimeoutError):
        return UpstreamError(f"{endpoint} did not answer within {timeout:g} s")
    if isinstance(error, urllib.error.URLError):
        return UpstreamError(f"{endpoint} is unreachable: {reason}")
    return UpstreamError(f"{endpoint} broke off its answer: {type(error).__name__} {error}")
