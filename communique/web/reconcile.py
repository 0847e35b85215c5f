"""The Reconciliation Service API at ``/reconcile`` (the answers come from
`communique.reconciliation`).

* ``GET /reconcile``: the service manifest; with ``queries=`` (GET or a form POST) a
  reconciliation result batch; with ``extend=`` a data extension response.
* ``GET /reconcile/suggest/entity|type|property?prefix=…&cursor=…``: suggestions.
* ``GET /reconcile/view?id=…``: a redirect (303) to the entity's page (the manifest's view).
* ``GET /reconcile/preview?id=…``: a small HTML page to show in an iframe. It is the one page
  that other sites may frame (``frame-ancestors *``): OpenRefine shows previews that way.
* ``GET /reconcile/properties?type=…&limit=…``: properties to extend entities of a type with.

Every answer is JSON (but the preview), with CORS from `communique.web.http`; errors take the
app's one error shape.
"""

import json
from typing import Any
from urllib.parse import urljoin

from flask import Blueprint, Flask, Response, current_app, redirect, render_template, request

from communique.errors import BadRequest, NotFound
from communique.labels import best_label
from communique.reconciliation import (
    MAX_CURSOR,
    Reconciler,
    ReconcilerCache,
    ServiceUrls,
    parse_extension_query,
    parse_query_batch,
)
from communique.urls import UrlBuilder, is_linkable, root_path
from communique.web.search import label_index
from communique.web.state import current_state
from communique.web.store_access import store_for_this_process

EXTENSION_KEY = "communique.reconcile"
JSON_MEDIA_TYPE = "application/json"
PREVIEW_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors *"
)
"""The site's policy, except that any site may frame the preview (and it runs no script)."""
MAX_PROPOSED_PROPERTIES = 100

blueprint = Blueprint("reconcile", __name__, url_prefix="/reconcile")


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = ReconcilerCache()
    app.register_blueprint(blueprint)


def current_reconciler() -> Reconciler:
    """The reconciler of the publication being served (built once per version and process,
    on the label index the search pages use)."""
    state = current_state()
    publication = state.publication
    cache: ReconcilerCache = current_app.extensions[EXTENSION_KEY]
    store = store_for_this_process(publication.store)
    return cache.reconciler_for(publication.version, store, state.settings.base, label_index())


@blueprint.route("", methods=["GET", "POST"])
def service() -> Response:
    queries = request.values.get("queries")
    extend = request.values.get("extend")
    if queries is not None and extend is not None:
        raise BadRequest("send either queries= or extend=, not both")
    reconciler = current_reconciler()
    if queries is not None:
        batch = parse_query_batch(queries, reconciler.identifiers)
        return json_response(reconciler.reconcile(batch))
    if extend is not None:
        extension = parse_extension_query(extend, reconciler.identifiers)
        return json_response(reconciler.extend(extension))
    if request.method == "POST":
        raise BadRequest(
            "a POST to /reconcile carries queries= (a reconciliation query batch) or extend= "
            "(a data extension query) as application/x-www-form-urlencoded form fields"
        )
    return json_response(reconciler.manifest(service_urls()))


@blueprint.get("/suggest/<any(entity, type, property):kind>")
def suggest(kind: str) -> Response:
    prefix = required_parameter("prefix")
    cursor = integer_parameter("cursor", default=0, low=0, high=MAX_CURSOR)
    reconciler = current_reconciler()
    answer = {
        "entity": reconciler.suggest_entities,
        "type": reconciler.suggest_types,
        "property": reconciler.suggest_properties,
    }[kind](prefix, cursor)
    return json_response(answer)


@blueprint.get("/properties")
def properties() -> Response:
    type_identifier = required_parameter("type")
    limit = integer_parameter("limit", default=None, low=1, high=MAX_PROPOSED_PROPERTIES)
    return json_response(current_reconciler().propose_properties(type_identifier, limit))


@blueprint.get("/view")
def view() -> Response:
    """303 to the entity's page (a query parameter carries any identifier, escaped or not)."""
    iri = current_reconciler().identifiers.entity_iri(required_parameter("id"))
    urls = UrlBuilder(current_state().settings.base, site_root())
    if not urls.is_ours(iri):
        raise NotFound(f"{iri[:100]!r} is not an entity of this dataset")
    return redirect(urls.page_url(iri), code=303)


@blueprint.get("/preview")
def preview() -> Response:
    entity = current_reconciler().preview(required_parameter("id"))
    languages = request.headers.get("Accept-Language")
    name, language = best_label(entity.names, languages) or (entity.id, "")
    description = best_label(entity.descriptions, languages)
    urls = UrlBuilder(current_state().settings.base, site_root())
    body = render_template(
        "reconcile/preview.html",
        entity=entity,
        name=name,
        language=language,
        description=description,
        page_url=urljoin(request.host_url, urls.page_url(entity.iri)),
        links=[iri for iri in entity.same_as if is_linkable(iri)],
    )
    response = Response(body, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PREVIEW_CONTENT_SECURITY_POLICY
    response.vary.add("Accept-Language")
    return response


def service_urls() -> ServiceUrls:
    """Where clients reach this service: from ``--public-url`` when set, else the request."""
    public_url = current_state().settings.public_url
    root = public_url.rstrip("/") + "/" if public_url else request.url_root
    return ServiceUrls(root=root, service=root + blueprint.url_prefix.lstrip("/"))


def site_root() -> str:
    return root_path(current_state().settings.public_url, request.script_root)


def required_parameter(name: str) -> str:
    value = request.args.get(name)
    if value is None:
        raise BadRequest(f"the {name} parameter is missing")
    return value


def integer_parameter(name: str, *, default: int | None, low: int, high: int) -> int | None:
    text = request.args.get(name)
    if text is None or text == "":
        return default
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise BadRequest(f"the {name} parameter must be an integer from {low} to {high}")
    return int(text)


def json_response(document: Any) -> Response:
    return Response(json.dumps(document, ensure_ascii=False), mimetype=JSON_MEDIA_TYPE)
