"""The Store interface: one way to ask SPARQL queries, of an embedded or a remote engine.

`EmbeddedStore` wraps a pyoxigraph store (in memory or on disk); `RemoteStore` asks any SPARQL 1.1
endpoint over the protocol. Both take the same arguments and give the same answers:
``pyoxigraph.QuerySolutions`` (or an object with the same ``variables`` and iteration),
``pyoxigraph.QueryBoolean``, or an iterable of ``pyoxigraph.Triple``.

The default graph. With ``union_default_graph=True`` (Communiqué's default) a query without a
dataset sees the union of all graphs as its default graph; with ``False`` it sees only the triples
outside named graphs (standard RDF dataset semantics). A ``FROM``/``FROM NAMED`` clause in the
query, or a `QueryDataset` from the protocol, replaces that default as SPARQL says (the protocol's
dataset wins over ``FROM``).

Neither store evaluates ``SERVICE``: federation (``communique.federation``) inlines allow-listed
endpoints before a query gets here, so a ``SERVICE`` that reaches a store is refused rather than
turned into an outbound request.
"""

import abc
import ast
import contextlib
import functools
import http.client
import re
import threading
import traceback
import urllib.error
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyoxigraph
from SPARQLWrapper import JSON, POST, SELECT, URLENCODED, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import (
    EndPointInternalError,
    EndPointNotFound,
    QueryBadFormed,
    SPARQLWrapperException,
    Unauthorized,
    URITooLong,
)

from communique.errors import (
    BadRequest,
    DataError,
    ForbiddenOperation,
    QuerySyntaxError,
    ServiceUnavailable,
    UpstreamError,
)

QueryAnswer = pyoxigraph.QuerySolutions | pyoxigraph.QueryBoolean | Iterable[pyoxigraph.Triple]
"""What `Store.query` returns: solutions (SELECT), a boolean (ASK), triples (the graph forms)."""


@dataclass(frozen=True)
class Solutions:
    """A SELECT answer read into memory, with the `variables` and iteration of pyoxigraph's.

    pyoxigraph's solution and triple iterators must be dropped on the thread that made them (a
    cyclic garbage collection on another thread raises there), so answers that a threaded web
    worker keeps are read out at once; only worker processes stream.
    """

    variables: list[pyoxigraph.Variable]
    rows: list[pyoxigraph.QuerySolution]

    def __iter__(self) -> Iterator[pyoxigraph.QuerySolution]:
        return iter(self.rows)


def read_out(answer: QueryAnswer) -> "Solutions | bool | list[pyoxigraph.Triple]":
    """`answer` read into memory (see `Solutions`)."""
    if isinstance(answer, bool | pyoxigraph.QueryBoolean):
        return bool(answer)
    if hasattr(answer, "variables"):
        return Solutions(list(answer.variables), list(answer))
    return list(answer)


UPDATE_KEYWORDS = frozenset(
    {"INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH"}
)
"""Words that start a SPARQL Update operation; a store only answers queries."""


@dataclass(frozen=True)
class QueryDataset:
    """The RDF dataset of one query, from the protocol's default-graph-uri / named-graph-uri.

    Both empty: the store's own default dataset. Otherwise (SPARQL 1.1 Protocol §2.1.4) the dataset
    is exactly the given graphs: the default graph is the merge of `default_graphs` (empty when
    none is given) and the named graphs are `named_graphs` (none when none is given). It overrides
    ``FROM`` and ``FROM NAMED`` in the query.
    """

    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()

    @property
    def given(self) -> bool:
        """True when the request named at least one graph."""
        return bool(self.default_graphs or self.named_graphs)


UNSUPPORTED_FUNCTION = "The custom function "
"""How pyoxigraph starts the message refusing an extension function it does not know."""


class Store(abc.ABC):
    """A SPARQL query engine over the published data."""

    union_default_graph: bool
    """True: the default graph is the union of all graphs; False: only triples outside graphs."""

    def query(
        self,
        sparql: str,
        dataset: QueryDataset | None = None,
        *,
        base_iri: str | None = None,
        stream: bool = False,
    ) -> QueryAnswer:
        """Evaluate `sparql` (a query, never an update) over `dataset` or the default dataset.

        The answer is read into memory (`read_out`) unless `stream` is true, which only a
        single-threaded process that consumes it at once should ask for (the query workers).

        :raises QuerySyntaxError: the query does not parse (with line and column when known).
        :raises ForbiddenOperation: the text is an update or uses ``SERVICE``.
        :raises UpstreamError: a remote engine failed or answered garbage.
        """
        answer = self._evaluate(sparql, dataset, base_iri=base_iri)
        if stream:
            return answer
        try:
            return read_out(answer)
        except BaseException as error:
            # The traceback's frames hold the pyoxigraph iterator, which must be dropped on
            # this thread, not on whichever thread later collects the error.
            traceback.clear_frames(error.__traceback__)
            raise
        finally:
            del answer

    @abc.abstractmethod
    def _evaluate(
        self, sparql: str, dataset: QueryDataset | None, *, base_iri: str | None
    ) -> QueryAnswer:
        """The engine's answer to `sparql`, streamed."""

    @abc.abstractmethod
    def named_graphs(self) -> list[str]:
        """IRIs of the named graphs, sorted."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the store; later calls raise ServiceUnavailable."""


class EmbeddedStore(Store):
    """A pyoxigraph store in this process, in memory or on disk (`path`)."""

    def __init__(
        self,
        store: pyoxigraph.Store,
        *,
        union_default_graph: bool = True,
        path: str | None = None,
    ):
        self._store: pyoxigraph.Store | None = store
        self.union_default_graph = union_default_graph
        self.path = path

    @classmethod
    def open_read_only(cls, path: str, *, union_default_graph: bool = True) -> "EmbeddedStore":
        """Open the on-disk store at `path` for reading; other processes may read it too.

        :raises DataError: there is no readable store at `path`.
        """
        try:
            store = pyoxigraph.Store.read_only(path)
        except OSError as error:
            raise DataError(f"{path}: cannot open the store: {error}") from error
        return cls(store, union_default_graph=union_default_graph, path=path)

    def reopened_for_this_process(self) -> "EmbeddedStore":
        """A handle that is safe to use in this (possibly forked) process.

        In memory: this store, which a forked child shares copy-on-write. On disk: a new read-only
        handle, since a RocksDB handle must not be used across ``fork()``.
        """
        if self.path is None:
            return self
        return EmbeddedStore.open_read_only(self.path, union_default_graph=self.union_default_graph)

    @property
    def oxigraph(self) -> pyoxigraph.Store:
        """The wrapped pyoxigraph store, for loading data into it."""
        if self._store is None:
            raise ServiceUnavailable("the store is closed")
        return self._store

    def _evaluate(
        self, sparql: str, dataset: QueryDataset | None, *, base_iri: str | None
    ) -> QueryAnswer:
        outline = QueryOutline.of(sparql)
        outline.refuse_non_queries()
        options = self._dataset_options(outline, dataset)
        try:
            return self.oxigraph.query(sparql, base_iri=base_iri, **options)
        except SyntaxError as error:
            raise query_syntax_error(str(error)) from error
        except RuntimeError as error:
            if not str(error).startswith(UNSUPPORTED_FUNCTION):
                raise
            raise BadRequest(
                f"the query calls a function this endpoint does not support: {error}"
            ) from error

    def _dataset_options(self, outline: "QueryOutline", dataset: QueryDataset | None) -> dict:
        if dataset is not None and dataset.given:
            return {
                "default_graph": [absolute_iri(iri) for iri in dataset.default_graphs],
                "named_graphs": [absolute_iri(iri) for iri in dataset.named_graphs],
            }
        # pyoxigraph's union flag would also override FROM, which must win over a service default.
        if self.union_default_graph and not outline.has_dataset_clause:
            return {"use_default_graph_as_union": True}
        return {}

    def named_graphs(self) -> list[str]:
        graphs = self.oxigraph.named_graphs()
        return sorted(graph.value for graph in graphs if isinstance(graph, pyoxigraph.NamedNode))

    def close(self) -> None:
        self._store = None


class RemoteStore(Store):
    """Any SPARQL 1.1 endpoint (Virtuoso, Fuseki, GraphDB, QLever, Oxigraph server...).

    Queries go by POST (URL-encoded form). The union default graph is asked for by sending every
    named graph of the endpoint (listed once, then cached) as both ``default-graph-uri`` and
    ``named-graph-uri``; triples the endpoint keeps outside any named graph are then not part of
    the union (Communiqué publishes every triple in a named graph).
    """

    ACCEPT = "application/sparql-results+json, application/n-triples;q=0.8, text/turtle;q=0.7"
    """Every query asks for either kind of answer; the response's Content-Type says which came.
    No XML: pyoxigraph's XML parsers expand internal entities, so XML from a remote is refused."""

    def __init__(self, endpoint: str, *, union_default_graph: bool = True, timeout: float = 30.0):
        self.endpoint = endpoint
        self.union_default_graph = union_default_graph
        self.timeout = timeout
        self._graphs: list[str] | None = None
        self._graphs_lock = threading.Lock()
        self._closed = False

    def _evaluate(
        self, sparql: str, dataset: QueryDataset | None, *, base_iri: str | None
    ) -> QueryAnswer:
        outline = QueryOutline.of(sparql)
        outline.refuse_non_queries()
        parameters = self._dataset_parameters(outline, dataset)
        if base_iri is None:
            return self._send(sparql, parameters)
        absolute_iri(base_iri, "base IRI")
        return self._send(f"BASE <{base_iri}>\n{sparql}", parameters, line_offset=1)

    def _dataset_parameters(
        self, outline: "QueryOutline", dataset: QueryDataset | None
    ) -> list[tuple[str, str]]:
        if dataset is not None and dataset.given:
            return [("default-graph-uri", iri) for iri in dataset.default_graphs] + [
                ("named-graph-uri", iri) for iri in dataset.named_graphs
            ]
        if self.union_default_graph and not outline.has_dataset_clause:
            graphs = self.named_graphs()
            return [("default-graph-uri", iri) for iri in graphs] + [
                ("named-graph-uri", iri) for iri in graphs
            ]
        return []

    def named_graphs(self) -> list[str]:
        with self._graphs_lock:
            if self._graphs is None:
                answer = self._send("SELECT DISTINCT ?g WHERE { GRAPH ?g {} }", [])
                found = (solution["g"] for solution in answer)
                self._graphs = sorted(
                    {graph.value for graph in found if isinstance(graph, pyoxigraph.NamedNode)}
                )
            return list(self._graphs)

    def close(self) -> None:
        self._closed = True
        self._graphs = None

    def _send(
        self, sparql: str, parameters: list[tuple[str, str]], *, line_offset: int = 0
    ) -> QueryAnswer:
        if self._closed:
            raise ServiceUnavailable("the store is closed")
        try:
            response = self._request(sparql, parameters).query().response
        except QueryBadFormed as error:
            raise query_syntax_error(_remote_message(error), line_offset=line_offset) from error
        except SPARQLWrapperException as error:
            status = _WRAPPER_ERROR_STATUS.get(type(error), "an error")
            raise self._failure(f"answered HTTP {status}: {_remote_message(error)}") from error
        except urllib.error.HTTPError as error:
            raise self._failure(f"answered HTTP {error.code}: {error.reason}") from error
        except (OSError, http.client.HTTPException) as error:
            raise self._failure(f"cannot be reached ({_reason(error)})") from error
        return self._read_answer(response)

    def _request(self, sparql: str, parameters: list[tuple[str, str]]) -> SPARQLWrapper:
        wrapper = SPARQLWrapper(self.endpoint)
        wrapper.setMethod(POST)
        wrapper.setRequestMethod(URLENCODED)
        wrapper.setOnlyConneg(True)
        wrapper.setReturnFormat(JSON)
        # Set directly: setTimeout() truncates to whole seconds (0.5 would mean no timeout), and
        # setQuery() would guess the form with a regex, warn on unusual text and send
        # update-looking text to the update operation. Text sent here is always a query.
        wrapper.timeout = self.timeout
        wrapper.queryString = sparql
        wrapper.queryType = SELECT
        wrapper.addCustomHttpHeader("Accept", self.ACCEPT)
        for name, value in parameters:
            wrapper.addParameter(name, value)
        return wrapper

    def _read_answer(self, response: http.client.HTTPResponse) -> QueryAnswer:
        """The answer in `response`, read lazily: only the rows asked for are read."""
        media_type = response.headers.get_content_type()
        results_format = pyoxigraph.QueryResultsFormat.from_media_type(media_type)
        rdf_format = pyoxigraph.RdfFormat.from_media_type(media_type)
        stream = UpstreamStream(response, self.endpoint, media_type)
        if media_type.endswith(("/xml", "+xml")):
            stream.close()
            raise self._failure(
                f"answered {media_type}; only SPARQL JSON, N-Triples or Turtle are read"
            )
        if results_format is not None and results_format != pyoxigraph.QueryResultsFormat.CSV:
            with stream.reading():
                parsed = pyoxigraph.parse_query_results(response, results_format)
            if isinstance(parsed, pyoxigraph.QueryBoolean):
                stream.close()
                return parsed
            return UpstreamSolutions(parsed, stream)
        if rdf_format is not None and not rdf_format.supports_datasets:
            quads = pyoxigraph.parse(response, rdf_format)
            return UpstreamTriples((quad.triple for quad in quads), stream)
        stream.close()
        raise self._failure(f"answered {media_type}, which is not a SPARQL query answer")

    def _failure(self, what: str) -> UpstreamError:
        return upstream_failure(self.endpoint, what)


class UpstreamStream:
    """An HTTP response being parsed: closed once read, dropped or failed; a parse or read
    error becomes an UpstreamError naming the endpoint."""

    def __init__(self, response: http.client.HTTPResponse, endpoint: str, media_type: str):
        self._endpoint = endpoint
        self._media_type = media_type
        self.close = weakref.finalize(self, response.close)

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        try:
            yield
        except (SyntaxError, OSError) as error:
            self.close()
            what = f"answered malformed {self._media_type}: {error}"
            raise upstream_failure(self._endpoint, what) from error

    def items(self, parsed: Iterable) -> Iterator:
        """Iterate `parsed`, closing the response at the end."""
        try:
            with self.reading():
                yield from parsed
        finally:
            self.close()


class UpstreamSolutions:
    """Solutions streamed from a remote endpoint (same `variables` and iteration as pyoxigraph)."""

    def __init__(self, solutions: pyoxigraph.QuerySolutions, stream: UpstreamStream):
        self.variables = solutions.variables
        self._solutions = solutions
        self._stream = stream

    def __iter__(self) -> Iterator[pyoxigraph.QuerySolution]:
        return self._stream.items(self._solutions)


class UpstreamTriples:
    """Triples streamed from a remote endpoint."""

    def __init__(self, triples: Iterator[pyoxigraph.Triple], stream: UpstreamStream):
        self._triples = triples
        self._stream = stream

    def __iter__(self) -> Iterator[pyoxigraph.Triple]:
        return self._stream.items(self._triples)


def upstream_failure(endpoint: str, what: str) -> UpstreamError:
    """An UpstreamError whose message names the endpoint, e.g. "... answered HTTP 500"."""
    return UpstreamError(f"the SPARQL endpoint {endpoint} {what}")


# --- the few facts a store needs from the query text -------------------------------------------

_LEXEME = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'  # long strings
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n\r]|\\.)*"'  # short strings
    r"|'(?:[^'\\\n\r]|\\.)*'"
    r'|<[^<>"{}|^`\\\x00-\x20]*>'  # IRIs
    r"|#[^\n\r]*"  # comments
    r"|(?P<word>[?$@]?(?:[\w:.%-]|\\.)+)"  # names, variables, language tags, keywords
    r"|.",
    re.DOTALL,
)


@dataclass(frozen=True)
class QueryOutline:
    """What a lexical scan tells about a query: its form and the keywords it uses.

    Strings, IRIs and comments are skipped exactly as a SPARQL parser skips them, so a keyword
    cannot hide inside them; a prefixed name, variable or language tag is never a keyword.
    """

    form: str | None
    keywords: frozenset[str]

    @classmethod
    def of(cls, sparql: str) -> "QueryOutline":
        """The outline of `sparql`; a short text's is kept (a process answers the same queries
        again and again)."""
        if len(sparql) > OUTLINE_KEPT_CHARACTERS:
            return cls.scan(sparql)
        return _kept_outline(sparql)

    @classmethod
    def scan(cls, sparql: str) -> "QueryOutline":
        words = [
            word.upper()
            for match in _LEXEME.finditer(sparql)
            if (word := match.group("word")) and word.isascii() and word.isalpha()
        ]
        form = next((word for word in words if word not in ("PREFIX", "BASE")), None)
        return cls(form, frozenset(words))

    @property
    def has_dataset_clause(self) -> bool:
        """True when the query says FROM or FROM NAMED (only a dataset clause uses FROM)."""
        return "FROM" in self.keywords

    def refuse_non_queries(self) -> None:
        """:raises ForbiddenOperation: the text is an update, or it calls a SERVICE."""
        if self.form in UPDATE_KEYWORDS:
            raise ForbiddenOperation("SPARQL Update is not accepted; only queries are")
        if "SERVICE" in self.keywords:
            raise ForbiddenOperation(
                "SERVICE is not evaluated by the store; only allow-listed endpoints are federated"
            )


OUTLINE_KEPT_CHARACTERS = 16384
_kept_outline = functools.lru_cache(maxsize=128)(QueryOutline.scan)
"""At most 128 × 16 K characters (a few MiB) of query texts kept, least recently used out."""

_WRAPPER_ERROR_STATUS = {
    Unauthorized: 401,
    EndPointNotFound: 404,
    URITooLong: 414,
    EndPointInternalError: 500,
}
"""The HTTP status behind each SPARQLWrapper error (400 is QueryBadFormed, a syntax error)."""

_POSITION = re.compile(r"(error at |line )(\d+)(:|, column )(\d+)")


def query_syntax_error(message: str, *, line_offset: int = 0) -> QuerySyntaxError:
    """A QuerySyntaxError from an engine's message, with the line and column it names.

    Understands pyoxigraph's ``error at 3:17: ...`` and Jena's ``line 3, column 17``.
    `line_offset` lines were added in front of the user's text and are taken off again.
    """
    found = _POSITION.search(message)
    if found is None:
        return QuerySyntaxError(message)
    line = int(found.group(2)) - line_offset
    column = int(found.group(4))
    message = _POSITION.sub(
        lambda m: f"{m.group(1)}{int(m.group(2)) - line_offset}{m.group(3)}{m.group(4)}",
        message,
        count=1,
    )
    return QuerySyntaxError(message, line=line, column=column)


def absolute_iri(iri: str, what: str = "graph IRI") -> pyoxigraph.NamedNode:
    """:raises BadRequest: `iri` is not an absolute IRI (`what` names it in the message)."""
    try:
        return pyoxigraph.NamedNode(iri)
    except ValueError as error:
        raise BadRequest(f"not a valid {what}: {iri!r} ({error})") from error


def _remote_message(error: SPARQLWrapperException) -> str:
    """The endpoint's own words from a SPARQLWrapper error (it keeps them as a bytes repr)."""
    text = str(error)
    head, marker, body = text.partition("Response:\n")
    if not marker:
        return text
    try:
        raw = ast.literal_eval(body)
    except (ValueError, SyntaxError):
        return body.strip()
    remote = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return remote.strip()[:2000] or head.strip()


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None)
    return str(reason or error) or type(error).__name__
