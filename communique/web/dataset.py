"""Describing the dataset and the site: VoID/DCAT, dumps, the sitemap, robots.txt, the icon.

* ``GET /.well-known/void``: the VoID and DCAT description (`communique.dataset_description`),
  Turtle by default, any RDF format by Accept or ``format``, a page for browsers.
* ``GET /dumps/dataset.trig.gz`` (also ``.nq.gz``, ``.ttl.gz``): the whole dataset, built once
  per version (`communique.dumps`), sent as an ``application/gzip`` file download (no
  ``Content-Encoding``: the file is the gzip stream, so the app's gzip hook leaves it alone),
  with a strong ``ETag`` (its SHA-256), ``Last-Modified``, 304s and byte ranges.
* ``GET /sitemap.xml``: the page of every IRI subject in our namespaces, plus the home page, the
  ontology, the query page and the description; as a sitemap index over ``/sitemaps/<n>.xml``
  past 50,000 URLs.
* ``GET /robots.txt``: points crawlers to the sitemap and away from query and search URLs.
* ``GET /favicon.ico``: the site's icon (browsers ask for it on every site).

Absolute URLs use ``--public-url`` when set, else the host the client reached.
"""

import atexit
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    render_template,
    request,
    send_file,
    send_from_directory,
)

from communique import sitemap
from communique.dataset_description import (
    DATASET_DESCRIPTION,
    DatasetSummary,
    Download,
    SiteLinks,
    describe_dataset,
    summarize_dataset,
)
from communique.dumps import (
    DUMP_FORMATS,
    FILENAME_TO_DUMP_FORMAT,
    GZIP_MEDIA_TYPE,
    DumpCache,
    DumpFile,
    DumpFormat,
)
from communique.errors import NotFound
from communique.external_links import EXTERNAL_DATASETS
from communique.labels import fallback_label
from communique.namespaces import CQ, PREFIXES, rebase
from communique.negotiation import FORMAT_TO_MEDIA_TYPE, GRAPH_FORMATS, choose_format
from communique.service_description import serialize_description
from communique.urls import UrlBuilder
from communique.web.conditional import cacheable, client_has_current, etag_for, not_modified
from communique.web.page_support import page_store, url_builder
from communique.web.query_page import FORMAT_TO_TITLE
from communique.web.search import label_index
from communique.web.sparql import endpoint_url
from communique.web.state import current_state
from communique.web.store_access import RenderCache

EXTENSION_KEY = "communique.dataset"
DESCRIPTION_PATH = ".well-known/void"
DESCRIPTION_FORMATS = (*GRAPH_FORMATS, "html")
DUMP_MAX_AGE_SECONDS = 300
CACHED_ENTRIES = 16
TEXT_SUFFIX = "; charset=utf-8"
FAVICON_FILE = "favicon.png"
FAVICON_MAX_AGE = 86400
ROBOTS_DISALLOWED = ("sparql?", "search", "lookup", "reconcile")
"""Paths (under the root) that crawlers are asked to leave alone: answers, not pages."""

blueprint = Blueprint("dataset", __name__)


@dataclass
class DatasetState:
    """Per-process state at ``app.extensions["communique.dataset"]``."""

    dumps: DumpCache
    cache: RenderCache


def init_app(app: Flask) -> None:
    dumps = DumpCache.in_temporary_directory()
    owner = os.getpid()
    atexit.register(lambda: os.getpid() == owner and dumps.remove())
    app.extensions[EXTENSION_KEY] = DatasetState(dumps, RenderCache(CACHED_ENTRIES))
    app.register_blueprint(blueprint)


def _state() -> DatasetState:
    return current_app.extensions[EXTENSION_KEY]


# --- absolute URLs ------------------------------------------------------------------------------


def site_origin() -> str:
    """``scheme://host[:port]`` of this site: from --public-url, else as the client reached it."""
    public_url = current_state().settings.public_url
    if public_url:
        parts = urlsplit(public_url)
        return f"{parts.scheme}://{parts.netloc}"
    return request.host_url.rstrip("/")


def absolute(root_relative: str) -> str:
    return site_origin() + root_relative


def _site_links(urls: UrlBuilder, dumps: list[DumpFile]) -> SiteLinks:
    return SiteLinks(
        description=absolute(urls.root + DESCRIPTION_PATH),
        homepage=absolute(urls.root),
        ontology=absolute(urls.page_url(str(CQ))),
        sparql_endpoint=endpoint_url(current_state()),
        downloads=[
            Download(
                absolute(urls.root + "dumps/" + dump.dump_format.filename),
                dump.dump_format.title,
                dump.dump_format.media_type,
                dump.size,
            )
            for dump in dumps
        ],
    )


# --- the description ----------------------------------------------------------------------------


def dataset_summary() -> DatasetSummary:
    """The counts of the publication being served (once per version and process)."""
    publication = current_state().publication
    return _state().cache.get_or_build(
        ("summary", publication.version),
        lambda: summarize_dataset(page_store(), base=publication.settings.base),
    )


@blueprint.route("/.well-known/void")
def description() -> Response:
    format_name = choose_format(
        request.headers.get("Accept"),
        DESCRIPTION_FORMATS,
        default=GRAPH_FORMATS[0],
        format_param=request.args.getlist("format"),
    )
    urls = url_builder()
    etag = etag_for("void", format_name, site_origin(), urls.root)
    if client_has_current(etag):
        return not_modified(etag)
    publication = current_state().publication
    summary = dataset_summary()
    site = _site_links(urls, [_dump_file(dump) for dump in DUMP_FORMATS])
    if format_name == "html":
        page = render_template("dataset.html", **_page_context(summary, site, urls))
        return cacheable(Response(page, 200, mimetype="text/html"), etag)
    graph = describe_dataset(
        summary,
        site,
        base=publication.settings.base,
        published_at=publication.published_at,
        version=publication.version,
    )
    body = serialize_description(graph, format_name)
    return cacheable(Response(body, 200, content_type=_content_type(format_name)), etag)


def _content_type(format_name: str) -> str:
    media_type = FORMAT_TO_MEDIA_TYPE[format_name]
    return media_type + TEXT_SUFFIX if media_type.startswith("text/") else media_type


def _page_context(summary: DatasetSummary, site: SiteLinks, urls: UrlBuilder) -> dict:
    index = label_index()

    def term(iri: str) -> dict:
        return {
            "iri": iri,
            "text": index.name_of(iri) or fallback_label(iri, ours=urls.is_ours(iri)),
            "href": urls.page_url(iri) if urls.is_ours(iri) else None,
        }

    description_url = urls.root + DESCRIPTION_PATH
    return {
        "description": DATASET_DESCRIPTION,
        "summary": summary,
        "links": site,
        "graphs": [
            {"term": term(name), "title": summary.graph_titles[name], "triples": triples}
            for name, triples in sorted(summary.graph_triples.items())
        ],
        "linksets": [
            {"title": target.title, "homepage": target.homepage, "links": summary.links[target.key]}
            for target in EXTERNAL_DATASETS
        ],
        "classes": [
            {"term": term(iri), "entities": count}
            for iri, count in sorted(summary.class_entities.items(), key=lambda i: (-i[1], i[0]))
        ],
        "properties": [
            {"term": term(iri), "triples": count}
            for iri, count in sorted(summary.property_triples.items(), key=lambda i: (-i[1], i[0]))
        ],
        "examples": [term(iri) for iri in summary.example_resources],
        "formats": [
            {"title": FORMAT_TO_TITLE[name], "href": f"{description_url}?format={name}"}
            for name in GRAPH_FORMATS
        ],
        "alternates": [
            {
                "media_type": FORMAT_TO_MEDIA_TYPE[name],
                "href": f"{description_url}?format={name}",
                "title": f"This description in {FORMAT_TO_TITLE[name]}",
            }
            for name in GRAPH_FORMATS
        ],
    }


# --- dumps --------------------------------------------------------------------------------------


def _dump_file(dump_format: DumpFormat) -> DumpFile:
    publication = current_state().publication
    prefixes = {
        name: rebase(namespace, publication.settings.base) for name, namespace in PREFIXES.items()
    }
    return _state().dumps.dump(publication.version, page_store(), dump_format, prefixes)


@blueprint.route("/dumps/<name>")
def dump(name: str) -> Response:
    dump_format = FILENAME_TO_DUMP_FORMAT.get(name)
    if dump_format is None:
        available = ", ".join(f.filename for f in DUMP_FORMATS)
        raise NotFound(f"there is no dump called {name!r}; the dumps are {available}")
    built = _dump_file(dump_format)
    response = send_file(
        built.path,
        mimetype=GZIP_MEDIA_TYPE,
        as_attachment=True,
        download_name=f"communique-{name}",
        etag=built.sha256[:32],
        last_modified=current_state().publication.published_at,
        max_age=DUMP_MAX_AGE_SECONDS,
        conditional=True,
    )
    response.cache_control.public = True
    return response


# --- sitemap and robots.txt ---------------------------------------------------------------------


def _sitemap_plan(urls: UrlBuilder) -> sitemap.SitemapPlan:
    publication = current_state().publication

    def build() -> sitemap.SitemapPlan:
        fixed = [
            urls.root,
            urls.page_url(str(CQ)),
            urls.root + "sparql",
            urls.root + DESCRIPTION_PATH,
        ]
        pages = [
            urls.page_url(iri) for iri in sitemap.subject_iris(page_store()) if urls.is_ours(iri)
        ]
        return sitemap.plan_sitemap([absolute(url) for url in (*fixed, *pages)])

    key = ("sitemap", publication.version, site_origin(), urls.root)
    return _state().cache.get_or_build(key, build)


def _xml_response(body: bytes, etag: str) -> Response:
    return cacheable(Response(body, 200, content_type="application/xml; charset=utf-8"), etag)


@blueprint.route("/sitemap.xml")
def sitemap_document() -> Response:
    urls = url_builder()
    etag = etag_for("sitemap", site_origin(), urls.root)
    if client_has_current(etag):
        return not_modified(etag)
    plan = _sitemap_plan(urls)
    published_at = current_state().publication.published_at
    if plan.needs_index:
        pages = [
            absolute(f"{urls.root}sitemaps/{number}.xml")
            for number in range(1, len(plan.documents) + 1)
        ]
        return _xml_response(sitemap.sitemap_index_xml(pages, published_at), etag)
    return _xml_response(sitemap.urlset_xml(plan.documents[0], published_at), etag)


@blueprint.route("/sitemaps/<int:number>.xml")
def sitemap_part(number: int) -> Response:
    urls = url_builder()
    etag = etag_for("sitemap", number, site_origin(), urls.root)
    if client_has_current(etag):
        return not_modified(etag)
    plan = _sitemap_plan(urls)
    if not plan.needs_index or not 1 <= number <= len(plan.documents):
        raise NotFound(f"there is no sitemap number {number}; start from /sitemap.xml")
    published_at = current_state().publication.published_at
    return _xml_response(sitemap.urlset_xml(plan.documents[number - 1], published_at), etag)


@blueprint.route("/favicon.ico")
def favicon() -> Response:
    """The site's icon, where browsers look for it unasked (a 32×32 PNG)."""
    response = send_from_directory(
        current_app.static_folder, FAVICON_FILE, mimetype="image/png", max_age=FAVICON_MAX_AGE
    )
    response.cache_control.public = True
    return response


@blueprint.route("/robots.txt")
def robots() -> Response:
    urls = url_builder()
    lines = ["User-agent: *", *(f"Disallow: {urls.root}{path}" for path in ROBOTS_DISALLOWED)]
    lines += ["", f"Sitemap: {absolute(urls.root + 'sitemap.xml')}", ""]
    response = Response("\n".join(lines), 200, content_type="text/plain; charset=utf-8")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
