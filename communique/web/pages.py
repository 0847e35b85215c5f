"""Linked-data pages: every IRI of ours dereferences, for people (HTML) and machines (RDF).

* ``/id/…``, ``/graph/…``, ``/ontology/…``, ``/shapes/…`` (the IRIs themselves, under this
  server's root): ``303 See Other`` to the page or to an RDF document, chosen by Accept.
* ``/page/<path>``: the HTML page, built from `communique.describe`.
* ``/data/<path>.ttl|.nt|.jsonld|.rdf``: the RDF document (the suffix decides the format):
  the concise bounded description, as SPARQL ``DESCRIBE`` gives it; when a description is
  larger or deeper than `communique.describe` reads, ``Communique-Result-Truncated: true``.
* ``/``, ``/classes``, ``/classes/instances?class=…``: the home page and class listings.

Unknown IRIs get a 404 page with suggestions (JSON for clients that prefer it); paths with dot
segments, encoded slashes, backslashes or control characters are 404 too; a redirect only ever
points to a path on this server (its ``Location`` is root-relative). Pages and documents carry
``ETag``/``Last-Modified`` (the dataset version), ``Vary`` and ``Link: rel="alternate"``
headers, and answer revalidations with 304.
"""

import re
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, render_template, request

from communique.describe import (
    Description,
    describe,
    read_labels,
    resource_exists,
    similar_resources,
)
from communique.errors import BadRequest, NotAcceptable, NotFound
from communique.namespaces import CQ, DCTERMS, PREFIXES, RDFS, SCHEMA, SKOS
from communique.negotiation import FORMAT_TO_MEDIA_TYPE, choose_format
from communique.overview import class_counts, instances
from communique.results import serialize_answer
from communique.urls import DOCUMENT_FORMATS, UrlBuilder
from communique.web import home_page, ontology_pages, source_page
from communique.web.conditional import (
    add_vary_and_links,
    cacheable,
    client_has_current,
    etag_for,
    not_modified,
)
from communique.web.page_support import (
    EXTENSION_KEY,
    accept_language,
    cache,
    html_response,
    language_ranges,
    listing_href,
    new_state,
    offset_parameter,
    page_store,
    site_path,
    url_builder,
)
from communique.web.state import current_state
from communique.web.views import Namer, json_ld, neighbourhood_picture, pager

blueprint = Blueprint("pages", __name__)

SITE_NAME = "Communiqué"
PAGE_FORMATS = ("html", *DOCUMENT_FORMATS)
FORMAT_TITLES = {
    "html": "HTML page",
    "turtle": "Turtle",
    "ntriples": "N-Triples",
    "jsonld": "JSON-LD",
    "rdfxml": "RDF/XML",
}
SUMMARY_PROPERTIES = (str(SKOS.definition), str(SCHEMA.description), str(RDFS.comment))
LICENCE_PROPERTY = str(DCTERMS.license)
KNOWN_LICENCES = {
    "https://creativecommons.org/licenses/by/4.0/": "CC BY 4.0",
    "http://creativecommons.org/licenses/by/4.0/": "CC BY 4.0",
    "https://creativecommons.org/publicdomain/zero/1.0/": "CC0 1.0",
}
ONTOLOGY_IRI = str(CQ)
INSTANCES_PAGE = 50
REDIRECT_CACHE_CONTROL = "public, max-age=300"
ENCODED_SEPARATOR = re.compile(r"%(?:2f|5c|00)", re.IGNORECASE)
"""Percent-encoded ``/``, ``\\`` and NUL in a request path: never part of one of our URLs."""
SUGGESTION_WORD = re.compile(r"[^\W_]{3,}")


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = new_state()
    app.register_blueprint(blueprint)
    app.register_blueprint(ontology_pages.blueprint)
    app.context_processor(site_context)
    app.add_template_global(site_path)


# --- what every page needs --------------------------------------------------------------------


def site_context() -> dict:
    """What base.html needs on every page, whichever blueprint renders it."""
    publication = current_state().publication
    licence = licence_of(publication.version)
    return {
        "site": {
            "name": SITE_NAME,
            "licence_url": licence,
            "licence_name": KNOWN_LICENCES.get(licence, licence) if licence else "not stated",
            "version": publication.version,
            "published_at": publication.published_at,
            "nav": navigation(),
        }
    }


def navigation() -> list[tuple[str, str]]:
    urls = url_builder()
    return [
        (site_path("pages.home"), "Home"),
        (site_path("pages.classes"), "Browse classes"),
        (urls.page_url(ONTOLOGY_IRI), "Ontology"),
        (site_path("sparql.endpoint"), "SPARQL"),
        (site_path("ontology_pages.validation"), "Validation"),
        (urls.root + ".well-known/void", "Dataset (VoID)"),
    ]


def licence_of(version: str) -> str | None:
    """The licence the ontology (or else some resource) declares; looked up once per version."""
    query = (
        f"SELECT ?licence WHERE {{ OPTIONAL {{ <{ONTOLOGY_IRI}> <{LICENCE_PROPERTY}> ?own }} "
        f"OPTIONAL {{ ?any <{LICENCE_PROPERTY}> ?other . FILTER(isIRI(?other)) }} "
        "BIND(COALESCE(?own, ?other) AS ?licence) } LIMIT 1"
    )

    def find() -> str | None:
        rows = list(page_store().query(query))
        licence = rows[0]["licence"] if rows else None
        return licence.value if licence is not None else None

    return cache().get_or_build(("licence", version), find)


# --- dereferencing ----------------------------------------------------------------------------


@blueprint.before_request
def refuse_encoded_separators() -> Response | None:
    """404 for a path that spells ``/``, ``\\`` or NUL with a percent escape (the server's
    decoded path no longer shows them)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    if ENCODED_SEPARATOR.search(raw.split("?", 1)[0]):
        return not_found_page(None, "")
    return None


@blueprint.route("/<any(id, graph, ontology, shapes):namespace>/<path:rest>", merge_slashes=False)
@blueprint.route("/<any(ontology, shapes):namespace>/", merge_slashes=False)
def resource(namespace: str, rest: str = "") -> Response:
    """The IRI itself: 303 to its page or document, by Accept."""
    urls = url_builder()
    iri = urls.iri_for_path(f"{namespace}/{rest}")
    if iri is None:
        return not_found_page(None, rest)
    format_name = choose_format(request.headers.get("Accept"), PAGE_FORMATS, default="html")
    if not resource_exists(page_store(), iri):
        return not_found_page(iri, rest)
    response = Response(status=303)
    response.headers["Location"] = (
        urls.page_url(iri) if format_name == "html" else urls.data_url(iri, format_name)
    )
    response.headers["Cache-Control"] = REDIRECT_CACHE_CONTROL
    add_vary_and_links(response, alternate_links(urls, iri))
    return response


@blueprint.route("/page/<path:path>", merge_slashes=False)
def page(path: str) -> Response:
    """The HTML page of the IRI `path` names."""
    urls = url_builder()
    iri = urls.iri_for_path(path)
    if iri is None:
        return not_found_page(None, path)
    incoming_offset = offset_parameter("incoming")
    claims_offset = offset_parameter("claims")
    highlight = source_page.highlight_parameter(request.args.get("highlight"))
    links = alternate_links(urls, iri)
    etag = etag_for(
        "page", iri, incoming_offset, claims_offset, highlight, language_ranges(), urls.root
    )
    if client_has_current(etag):
        return not_modified(etag, links)
    description = cached_description(iri, incoming_offset, claims_offset)
    if not description.exists:
        return not_found_page(iri, path)
    return html_response(etag, lambda: render_resource_page(urls, description, highlight), links)


@blueprint.route("/data/<path:path>", merge_slashes=False)
def document(path: str) -> Response:
    """The RDF document of an IRI: its concise bounded description, in the suffix's format."""
    urls = url_builder()
    found = urls.iri_for_data_path(path)
    if found is None:
        return not_found_page(None, path)
    iri, format_name = found
    links = alternate_links(urls, iri)
    etag = etag_for("data", iri, format_name)
    if client_has_current(etag):
        return not_modified(etag, links)
    description = cached_description(iri, 0, 0)
    if not description.exists:
        return not_found_page(iri, path)
    triples = description.to_triples()
    answer = serialize_answer(
        triples,
        results_format="json",
        graph_format=format_name,
        max_rows=len(triples),
        prefixes=PREFIXES,
    )
    response = Response(answer.body, 200, content_type=content_type(format_name))
    if description.outgoing_truncated or description.depth_exceeded:
        response.headers["Communique-Result-Truncated"] = "true"
    return cacheable(response, etag, links)


def cached_description(iri: str, incoming_offset: int, claims_offset: int) -> Description:
    version = current_state().publication.version
    return cache().get_or_build(
        ("description", version, iri, incoming_offset, claims_offset),
        lambda: describe(
            page_store(), iri, incoming_offset=incoming_offset, claims_offset=claims_offset
        ),
    )


def content_type(format_name: str) -> str:
    media_type = FORMAT_TO_MEDIA_TYPE[format_name]
    return media_type + "; charset=utf-8" if media_type.startswith("text/") else media_type


def alternates(urls: UrlBuilder, iri: str) -> list[dict[str, str]]:
    """The page and each document of `iri`, as ``media_type``, ``href`` and ``title``."""
    found = [{"media_type": "text/html", "href": urls.page_url(iri), "title": "HTML page"}]
    found += [
        {
            "media_type": FORMAT_TO_MEDIA_TYPE[name],
            "href": urls.data_url(iri, name),
            "title": FORMAT_TITLES[name],
        }
        for name in DOCUMENT_FORMATS
    ]
    return found


def alternate_links(urls: UrlBuilder, iri: str) -> list[str]:
    """``Link`` header values (RFC 8288) for the alternates of `iri`."""
    return [
        f'<{alternate["href"]}>; rel="alternate"; type="{alternate["media_type"]}"'
        for alternate in alternates(urls, iri)
    ]


# --- the resource page ------------------------------------------------------------------------


def render_resource_page(
    urls: UrlBuilder, description: Description, highlight: tuple[int, int] | None
) -> str:
    """The page: a source text, the ontology overview, a vocabulary term, or any resource."""
    namer = Namer(urls, description.labels, accept_language())
    context = resource_context(urls, namer, description)
    store = page_store()
    if source_page.is_source(description):
        context.update(source_page.source_context(store, urls, description, highlight))
        return render_template("source.html", **context)
    if description.iri == ONTOLOGY_IRI:
        context.update(ontology_pages.overview_context(store, urls, description))
        return render_template("ontology.html", **context)
    term = ontology_pages.term_context(store, urls, namer, description)
    if term is not None:
        context.update(term)
        return render_template("term.html", **context)
    return render_template("resource.html", **context)


def resource_context(urls: UrlBuilder, namer: Namer, description: Description) -> dict:
    iri = description.iri
    title, title_lang = namer.label(iri)
    summary = next(filter(None, map(description.literal, SUMMARY_PROPERTIES)), None)
    shown = tuple(g for g in description.properties if g.predicate != source_page.TEXT_PROPERTY)
    page_href = urls.page_url(iri)
    found = alternates(urls, iri)
    return {
        "iri": iri,
        "title": title,
        "title_lang": title_lang,
        "summary": summary,
        "types": [namer.iri(t) for t in description.types],
        "properties": namer.properties(shown),
        "same_as": [namer.iri(s) for s in description.same_as],
        "own_claim": namer.claim(description.own_claim) if description.own_claim else None,
        "claims": [namer.claim(c) for c in description.claims],
        "claims_pager": pager(
            description.claims_page, lambda offset: with_offset(page_href, "claims", offset)
        ),
        "incoming": namer.incoming(description.incoming),
        "incoming_pager": pager(
            description.incoming_page, lambda offset: with_offset(page_href, "incoming", offset)
        ),
        "picture": neighbourhood_picture(namer, description),
        "alternates": found,
        "documents": found[1:],
        "json_ld": json_ld(description, title, summary),
        "description": description,
    }


def with_offset(href: str, name: str, offset: int) -> str:
    """`href` showing the page of `name` (``incoming``, ``claims``) that starts at `offset`."""
    query = "?" + urlencode({name: offset}) if offset else ""
    return f"{href}{query}#{name}"


# --- not found --------------------------------------------------------------------------------


def not_found_page(iri: str | None, path: str) -> Response:
    """404 with suggestions (resources whose labels contain words of the path's last segment)
    for browsers; the error handler's JSON for other clients.

    :raises NotFound: the client prefers JSON or RDF to HTML.
    """
    if not prefers_html():
        raise NotFound(f"nothing is published at {iri or request.path}")
    urls = url_builder()
    words = SUGGESTION_WORD.findall(path.rsplit("/", 1)[-1])[:3]
    found = similar_resources(page_store(), words) if words else {}
    namer = Namer(urls, found, accept_language())
    body = render_template(
        "not_found.html",
        iri=iri,
        words=" ".join(words),
        suggestions=[namer.iri(s) for s in found],
        title="Not found",
    )
    response = Response(body, 404, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    add_vary_and_links(response, ())
    return response


def prefers_html() -> bool:
    """True when the request's Accept ranks HTML at least as high as JSON."""
    try:
        chosen = choose_format(request.headers.get("Accept"), ("html", "json"), default="html")
    except NotAcceptable:
        return False
    return chosen == "html"


# --- home and class listings ------------------------------------------------------------------


@blueprint.route("/")
def home() -> Response:
    urls = url_builder()
    etag = etag_for("home", language_ranges(), urls.root)
    return html_response(
        etag, lambda: render_template("home.html", **home_page.home_context(page_store(), urls))
    )


@blueprint.route("/classes")
def classes() -> Response:
    urls = url_builder()
    etag = etag_for("classes", language_ranges(), urls.root)

    def build() -> str:
        store = page_store()
        counted = class_counts(store)
        namer = Namer(urls, read_labels(store, [c for c, _ in counted]), accept_language())
        rows = [
            {"term": namer.iri(cls), "count": count, "listing": listing_href(cls)}
            for cls, count in counted
        ]
        return render_template("classes.html", rows=rows, title="Classes")

    return html_response(etag, build)


@blueprint.route("/classes/instances")
def class_instances() -> Response:
    """One page of the instances of ``?class=`` (subclasses' instances included)."""
    urls = url_builder()
    class_iri = request.args.get("class", "")
    offset = offset_parameter("offset")
    etag = etag_for("instances", class_iri, offset, language_ranges(), urls.root)
    if client_has_current(etag):
        return not_modified(etag)
    store = page_store()
    try:
        members, window = instances(store, class_iri, offset, INSTANCES_PAGE)
    except ValueError:
        raise BadRequest(f"'class' must be the IRI of a class, not {class_iri!r}") from None

    def build() -> str:
        namer = Namer(urls, read_labels(store, [class_iri, *members]), accept_language())
        heading = namer.iri(class_iri)
        return render_template(
            "class.html",
            title=f"Instances of {heading.text}",
            cls=heading,
            members=[namer.iri(m) for m in members],
            pager=pager(window, lambda o: listing_href(class_iri, o)),
        )

    return html_response(etag, build)
