"""The SPARQL 1.1 Protocol endpoint at ``/sparql``: queries, and the service description.

Reading a request (SPARQL 1.1 Protocol, section 2.1):

* ``GET``/``HEAD`` with ``?query=``; without one, the service description is returned.
* ``POST`` ``application/x-www-form-urlencoded``: parameters from the body and the URL.
* ``POST`` ``application/sparql-query``: the body is the query (UTF-8), parameters from the URL.

Exactly one ``query``; ``format`` (a short name or media type, see `communique.negotiation`)
overrides Accept. ``default-graph-uri`` and ``named-graph-uri`` (repeatable) set the dataset:
it replaces ``FROM``/``FROM NAMED`` of the query, which are then not checked against the
published graphs (they are not used); without it, ``FROM`` may only name published graphs.
Protocol graph IRIs that are not published are empty graphs (nothing is ever fetched). The
endpoint is read-only: any update (``update=``, ``application/sparql-update``, or update text
as ``query``) is refused with 400 and changes nothing. Status codes: 400 for a malformed request
(repeated or missing ``query``, bytes that are not UTF-8, a syntax error with its line and
column), 405 for methods other than GET, HEAD, POST and OPTIONS, 413 over the query length
limit, 415 for a POST body that is neither form nor query (or not UTF-8 by its charset).

Answers carry a weak ``ETag`` over the publication version and the request's meaning (query,
dataset, base, format), so ``If-None-Match`` gives 304 before any evaluation; and always
``Communique-Result-Limit`` (the row cap), plus ``Communique-Result-Truncated: true`` when the
cap cut the answer.
"""

import hashlib
import json
from dataclasses import dataclass

from flask import Blueprint, Response, request, url_for
from werkzeug.datastructures import MultiDict

from communique.errors import BadRequest, ForbiddenOperation, UnsupportedMediaType
from communique.federation import inline_services
from communique.namespaces import PREFIXES
from communique.negotiation import (
    FORM_TO_FORMATS,
    FORMAT_TO_MEDIA_TYPE,
    GRAPH_FORMATS,
    GRAPH_FORMS,
    SOLUTIONS_FORMATS,
    choose_format,
)
from communique.query_text import QueryInfo
from communique.querying import check_query
from communique.results import PREFIXED_RDF_FORMATS
from communique.service_description import describe_service, serialize_description
from communique.store import QueryDataset
from communique.web.conditional import stamp_validators
from communique.web.http import add_vary
from communique.web.query_page import render_query_page
from communique.web.replay import do_not_keep
from communique.web.request import parse_parameters
from communique.web.state import AppState, current_state
from communique.workers import QueryJob

blueprint = Blueprint("sparql", __name__)

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
QUERY_MEDIA_TYPE = "application/sparql-query"
UPDATE_MEDIA_TYPE = "application/sparql-update"
ACCEPTED_POST_MEDIA_TYPES = (FORM_MEDIA_TYPE, QUERY_MEDIA_TYPE)
UTF8_CHARSETS = frozenset({"utf-8", "utf8"})

DESCRIPTION_FORMATS = (*GRAPH_FORMATS, "html")
TEXT_MEDIA_TYPE_SUFFIX = "; charset=utf-8"

CACHE_CONTROL = "public, max-age=60"
RESULT_LIMIT_HEADER = "Communique-Result-Limit"
RESULT_TRUNCATED_HEADER = "Communique-Result-Truncated"
INSPECTION_BYTES_PER_CHARACTER = 3
"""What a kept `QueryInfo` holds per character of its query: the text, the checked text, the
prologue."""
READ_ONLY_MESSAGE = "this endpoint is read-only: SPARQL Update is not accepted"


@dataclass(frozen=True)
class QueryOperation:
    """A query operation as the protocol delivered it."""

    query: str
    default_graphs: tuple[str, ...]
    named_graphs: tuple[str, ...]
    format_values: tuple[str, ...]

    @property
    def dataset(self) -> QueryDataset | None:
        """The protocol dataset, or None when the query's own (or the default) applies."""
        if not self.default_graphs and not self.named_graphs:
            return None
        return QueryDataset(self.default_graphs, self.named_graphs)


@blueprint.route("/sparql", methods=["GET", "POST"])
@blueprint.route("/sparql/", methods=["GET", "POST"], endpoint="endpoint_with_slash")
def endpoint() -> Response:
    parameters = read_parameters()
    if request.method in ("GET", "HEAD") and "query" not in parameters:
        return describe_endpoint(parameters)
    return answer_query(read_query_operation(parameters))


# --- reading the protocol request -------------------------------------------------------------


def read_parameters() -> MultiDict:
    """URL parameters, plus the body's for a form POST; refuses updates and bad encodings."""
    parameters = MultiDict(request.args.items(multi=True))
    if request.method == "POST":
        media_type = request.mimetype
        if media_type == UPDATE_MEDIA_TYPE:
            raise ForbiddenOperation(READ_ONLY_MESSAGE)
        if media_type not in ACCEPTED_POST_MEDIA_TYPES:
            raise _unsupported_media_type(media_type)
        if media_type == FORM_MEDIA_TYPE:
            body = parse_parameters(request.get_data(), "form body")
            parameters = MultiDict([*body, *parameters.items(multi=True)])
    if "update" in parameters:
        raise ForbiddenOperation(READ_ONLY_MESSAGE)
    return parameters


def read_query_operation(parameters: MultiDict) -> QueryOperation:
    if request.method == "POST" and request.mimetype == QUERY_MEDIA_TYPE:
        if "query" in parameters:
            raise BadRequest(
                "a query sent as the request body cannot also have a 'query' parameter"
            )
        query = _query_from_body()
    else:
        query = _single(parameters, "query", required=True)
    if not query.strip():
        raise BadRequest("the query is empty")
    return QueryOperation(
        query,
        tuple(parameters.getlist("default-graph-uri")),
        tuple(parameters.getlist("named-graph-uri")),
        tuple(parameters.getlist("format")),
    )


def _query_from_body() -> str:
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in UTF8_CHARSETS:
        raise UnsupportedMediaType(
            f"a {QUERY_MEDIA_TYPE} body must be UTF-8, not {charset!r}",
            headers={"Accept-Post": _accept_post()},
        )
    try:
        return request.get_data().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest("the query is not valid UTF-8") from None


def _single(parameters: MultiDict, name: str, *, required: bool = False) -> str | None:
    values = parameters.getlist(name)
    if len(values) > 1:
        raise BadRequest(f"'{name}' was given {len(values)} times; give it once")
    if not values and required:
        raise BadRequest(f"missing '{name}' parameter")
    return values[0] if values else None


def _unsupported_media_type(media_type: str) -> UnsupportedMediaType:
    sent = f"Content-Type {media_type!r}" if media_type else "no Content-Type"
    return UnsupportedMediaType(
        f"a SPARQL query POST needs Content-Type {FORM_MEDIA_TYPE} or {QUERY_MEDIA_TYPE}; "
        f"the request has {sent}",
        headers={"Accept-Post": _accept_post()},
    )


def _accept_post() -> str:
    return ", ".join(ACCEPTED_POST_MEDIA_TYPES)


# --- answering --------------------------------------------------------------------------------


def answer_query(operation: QueryOperation) -> Response:
    state = current_state()
    info = _inspect(state, operation)
    offered = FORM_TO_FORMATS[info.form]
    format_name = choose_format(
        request.headers.get("Accept"),
        offered,
        default=offered[0],
        format_param=operation.format_values,
    )
    base_iri = endpoint_url(state)
    etag = _etag(
        state.publication.version,
        "query",
        operation.query,
        operation.default_graphs,
        operation.named_graphs,
        base_iri,
        format_name,
    )
    if _client_has_current(etag):
        return _not_modified(state, etag)
    query = info.text
    if info.services:
        query = inline_services(info, state.service_policy)
        do_not_keep()  # other endpoints' data may change at any time
    answer = state.pool.run(_job(state, query, operation.dataset, info.form, format_name, base_iri))
    response = Response(answer.body, 200, content_type=answer.media_type)
    response.headers[RESULT_LIMIT_HEADER] = str(state.settings.max_rows)
    if answer.truncated:
        response.headers[RESULT_TRUNCATED_HEADER] = "true"
    return _cacheable(response, state, etag)


def _inspect(state: AppState, operation: QueryOperation) -> QueryInfo:
    """`check_query` of the operation, once per text (a refused text is checked every time)."""
    key = (operation.query, operation.dataset is None)
    info = state.inspected.get(key)
    if info is None:
        graphs = None if operation.dataset else state.publication.graphs
        info = check_query(state.settings, operation.query, dataset_graphs=graphs)
        state.inspected.put(key, info, INSPECTION_BYTES_PER_CHARACTER * len(operation.query))
    return info


def _job(
    state: AppState,
    query: str,
    dataset: QueryDataset | None,
    form: str,
    format_name: str,
    base_iri: str,
) -> QueryJob:
    graph_answer = form in GRAPH_FORMS
    return QueryJob(
        query,
        dataset=dataset,
        results_format=SOLUTIONS_FORMATS[0] if graph_answer else format_name,
        graph_format=format_name if graph_answer else GRAPH_FORMATS[0],
        max_rows=state.settings.max_rows,
        base_iri=base_iri,
        # only the formats that abbreviate IRIs need them: not sent to the others
        prefixes=PREFIXES if graph_answer and format_name in PREFIXED_RDF_FORMATS else None,
    )


def describe_endpoint(parameters: MultiDict) -> Response:
    """The service description, in an RDF format or, for browsers, as a page."""
    state = current_state()
    format_name = choose_format(
        request.headers.get("Accept"),
        DESCRIPTION_FORMATS,
        default=GRAPH_FORMATS[0],
        format_param=parameters.getlist("format"),
    )
    endpoint = endpoint_url(state)
    etag = _etag(state.publication.version, "description", endpoint, format_name)
    if _client_has_current(etag):
        return _not_modified(state, etag)
    if format_name == "html":
        response = Response(service_page(endpoint), 200, mimetype="text/html")
    else:
        graph = describe_service(
            endpoint,
            settings=state.settings,
            sizes=state.dataset_sizes,
            union_default_graph=state.publication.store.union_default_graph,
            result_formats=(*SOLUTIONS_FORMATS, *GRAPH_FORMATS),
        )
        response = Response(
            serialize_description(graph, format_name),
            200,
            content_type=_content_type(format_name),
        )
    return _cacheable(response, state, etag)


def service_page(endpoint: str) -> str:
    """The query page, for people who open the endpoint in a browser."""
    return render_query_page(endpoint)


def endpoint_url(state: AppState) -> str:
    """The endpoint's absolute URL: under --public-url when set, else as the client reached it."""
    if state.settings.public_url:
        return state.settings.public_url.rstrip("/") + "/sparql"
    return url_for("sparql.endpoint", _external=True)


# --- caching ----------------------------------------------------------------------------------


def _etag(*identity: str | tuple[str, ...]) -> str:
    """A validator for what a response means: same identity, same bytes (up to gzip)."""
    digest = hashlib.sha256(json.dumps(identity).encode("utf-8")).hexdigest()
    return digest[:32]


def _client_has_current(etag: str) -> bool:
    return (
        "HTTP_IF_NONE_MATCH" in request.environ
        and request.method in ("GET", "HEAD")
        and request.if_none_match.contains_weak(etag)
    )


def _not_modified(state: AppState, etag: str) -> Response:
    return _cacheable(Response(status=304), state, etag)


def _cacheable(response: Response, state: AppState, etag: str) -> Response:
    stamp_validators(response, etag, state.publication.published_at, CACHE_CONTROL)
    add_vary(response, "Accept")
    return response


def _content_type(format_name: str) -> str:
    media_type = FORMAT_TO_MEDIA_TYPE[format_name]
    return media_type + TEXT_MEDIA_TYPE_SUFFIX if media_type.startswith("text/") else media_type
