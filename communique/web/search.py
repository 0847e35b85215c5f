"""``GET /search``: finding resources by label, as JSON for autocompletion or as a page.

Parameters: ``q`` (the text, required, at most 200 characters: `search_index.MAX_QUERY_CHARS`),
``limit`` (1 to `MAX_WEB_LIMIT`, default `DEFAULT_LIMIT`), ``type`` (repeatable: an IRI or a
prefixed name such as ``schema:Country``; hits must have one of them), ``lang`` (labels in that
language only).
JSON when the client asks for it (``Accept: application/json`` or ``format=json``)::

    {"query": "thai", "results": [{"iri": "...", "label": "Thailand", "matched": "Thailand",
      "page": "/page/id/thailand", "types": ["https://schema.org/Country"], "score": 76.25}]}

``page`` is null for a resource that has no page here. Otherwise an HTML page of results. A
missing, empty or too long ``q`` is a 400: the usual JSON error, or the search page with the
message. The index (`communique.search_index`) is built once per publication version in each
process; `label_index()` gives it to other modules (reconciliation uses it too).
"""

import re
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    json,
    render_template,
    request,
)

from communique.errors import BadRequest
from communique.labels import fallback_label
from communique.namespaces import PREFIXES
from communique.negotiation import choose_format
from communique.search_index import (
    Hit,
    IndexCache,
    LabelIndex,
    checked_query_key,
)
from communique.urls import UrlBuilder
from communique.web.conditional import cacheable, client_has_current, etag_for, not_modified
from communique.web.page_support import page_store, site_path, url_builder
from communique.web.state import current_state

EXTENSION_KEY = "communique.search"
JSON_MEDIA_TYPE = "application/json"
SEARCH_FORMATS = ("html", "json")
DEFAULT_LIMIT = 10
MAX_WEB_LIMIT = 50
MAX_TYPES = 16
_PREFIXED_NAME = re.compile(r"(?P<prefix>[A-Za-z][\w.-]*):(?P<local>.*)")

blueprint = Blueprint("search", __name__)


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = IndexCache()
    app.register_blueprint(blueprint)


def label_index() -> LabelIndex:
    """The label index of the publication being served (built on first use)."""
    publication = current_state().publication
    cache: IndexCache = current_app.extensions[EXTENSION_KEY]
    return cache.index_for(publication.version, page_store())


@blueprint.route("/search")
def search() -> Response:
    format_name = choose_format(
        request.headers.get("Accept"),
        SEARCH_FORMATS,
        default="html",
        format_param=request.args.getlist("format"),
    )
    if format_name == "json":
        return _json_answer()
    return _html_answer()


def _json_answer() -> Response:
    query, limit, types, lang = _read_parameters()
    etag = etag_for("search", "json", query, limit, types, lang)
    if client_has_current(etag):
        return not_modified(etag)
    urls = url_builder()
    hits = label_index().search(query, limit, types, lang)
    body = {"query": query, "results": [_hit_json(hit, urls) for hit in hits]}
    response = Response(json.dumps(body, ensure_ascii=False), 200, mimetype=JSON_MEDIA_TYPE)
    return cacheable(response, etag)


def _html_answer() -> Response:
    query = request.args.get("q", "")
    try:
        query, limit, types, lang = _read_parameters()
    except BadRequest as error:
        page = render_template("search.html", search_query=query, error=error.message)
        response = Response(page, 400, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        return response
    etag = etag_for("search", "html", query, limit, types, lang, request.script_root)
    if client_has_current(etag):
        return not_modified(etag)
    urls = url_builder()
    index = label_index()
    hits = index.search(query, limit, types, lang)
    page = render_template(
        "search.html",
        search_query=query,
        results=[_hit_view(hit, urls, index) for hit in hits],
        limit=limit,
        alternates=[_json_alternate()],
    )
    return cacheable(Response(page, 200, mimetype="text/html"), etag)


def _read_parameters() -> tuple[str, int, tuple[str, ...], str | None]:
    """``(q, limit, types, lang)`` from the query string.

    :raises BadRequest: a parameter is missing, repeated or malformed.
    """
    query = _single("q") or ""
    checked_query_key(query)
    limit_text = _single("limit") or str(DEFAULT_LIMIT)
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_WEB_LIMIT:
        raise BadRequest(f"'limit' must be a whole number from 1 to {MAX_WEB_LIMIT}")
    types = request.args.getlist("type")
    if len(types) > MAX_TYPES:
        raise BadRequest(f"give at most {MAX_TYPES} 'type' parameters")
    return query, int(limit_text), tuple(_type_iri(name) for name in types), _single("lang")


def _single(name: str) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        raise BadRequest(f"'{name}' was given {len(values)} times; give it once")
    return values[0] if values else None


def _type_iri(name: str) -> str:
    """A type given as an IRI or as a prefixed name of `PREFIXES`."""
    prefixed = _PREFIXED_NAME.fullmatch(name)
    if prefixed and prefixed.group("prefix") in PREFIXES:
        return PREFIXES[prefixed.group("prefix")] + prefixed.group("local")
    return name


def _page_of(iri: str, urls: UrlBuilder) -> str | None:
    return urls.page_url(iri) if urls.is_ours(iri) else None


def _hit_json(hit: Hit, urls: UrlBuilder) -> dict:
    return {
        "iri": hit.iri,
        "label": hit.label,
        "matched": hit.matched,
        "page": _page_of(hit.iri, urls),
        "types": list(hit.types),
        "score": hit.score,
    }


def _hit_view(hit: Hit, urls: UrlBuilder, index: LabelIndex) -> dict:
    return {
        "iri": hit.iri,
        "label": hit.label,
        "matched": hit.matched if hit.matched != hit.label else None,
        "href": _page_of(hit.iri, urls),
        "types": [index.name_of(kind) or fallback_label(kind) for kind in hit.types],
    }


def _json_alternate() -> dict:
    pairs = [(k, v) for k, v in request.args.items(multi=True) if k != "format"]
    href = site_path("search.search") + "?" + urlencode([*pairs, ("format", "json")])
    return {"media_type": JSON_MEDIA_TYPE, "href": href, "title": "These results as JSON"}
