"""The ontology and its shapes as pages: the overview (at the ontology's IRI), a section on each
term's page, and the latest validation report (``/validation``, also ``.ttl`` and ``.json``).

The overview and term sections are called from `communique.web.pages` when it renders the page
of the ontology IRI or of a class, property, concept scheme or concept.
"""

from flask import Blueprint, Response, render_template, request, url_for

from communique.describe import Description, read_labels
from communique.errors import NotFound
from communique.namespaces import DCTERMS, OWL
from communique.negotiation import choose_format
from communique.store import Store
from communique.urls import UrlBuilder
from communique.validation import ValidationReport
from communique.vocabulary import TermSummary, overview, term_details, term_kind
from communique.web.conditional import cacheable, client_has_current, etag_for, not_modified
from communique.web.page_support import (
    accept_language,
    html_response,
    language_ranges,
    listing_href,
    page_store,
    url_builder,
)
from communique.web.state import current_state
from communique.web.views import Namer, TermView

blueprint = Blueprint("ontology_pages", __name__)

VANN_PREFIX = "http://purl.org/vocab/vann/preferredNamespacePrefix"
HEADER_PROPERTIES = {
    "title": str(DCTERMS.title),
    "description": str(DCTERMS.description),
    "version": str(OWL.versionInfo),
    "created": str(DCTERMS.created),
    "creator": str(DCTERMS.creator),
    "prefix": VANN_PREFIX,
}
REPORT_FORMATS = {
    "ttl": ("text/turtle; charset=utf-8", ValidationReport.to_turtle),
    "json": ("application/json", ValidationReport.to_json),
}
FORMAT_TO_REPORT_SUFFIX = {"turtle": "ttl", "json": "json"}
VALIDATION_FORMATS = ("html", *FORMAT_TO_REPORT_SUFFIX)


def overview_context(store: Store, urls: UrlBuilder, description: Description) -> dict:
    """What the ontology page adds to a resource page: header metadata and the term tables."""
    found = overview(store, description.iri)
    namer = Namer(urls, read_labels(store, found.iris()), accept_language())
    return {
        "ontology": {
            "header": header(description),
            "classes": [_term_row(namer, t) for t in found.classes],
            "properties": [_term_row(namer, t) for t in found.properties],
            "schemes": [
                {**_term_row(namer, s), "members": [_term_row(namer, m) for m in s.members]}
                for s in found.schemes
            ],
            "alignments": [
                {
                    "term": namer.iri(a.term),
                    "relation": namer.iri(a.relation),
                    "target": namer.iri(a.target),
                }
                for a in found.alignments
            ],
        }
    }


def header(description: Description) -> dict[str, str | None]:
    """The ontology's title, description, version, creation date, creator and prefix."""
    return {name: description.literal(iri) for name, iri in HEADER_PROPERTIES.items()}


def _term_row(namer: Namer, term: TermSummary) -> dict:
    return {
        "term": namer.iri(term.iri),
        "definition": term.definition,
        "parents": [namer.iri(p) for p in term.parents],
        "domains": [namer.iri(d) for d in term.domains],
        "ranges": [namer.iri(r) for r in term.ranges],
        "notation": term.notation,
    }


def term_context(
    store: Store, urls: UrlBuilder, namer: Namer, description: Description
) -> dict | None:
    """The term section of a class, property, scheme or concept page; None for other pages."""
    kind = term_kind(description.types)
    if kind is None:
        return None
    details = term_details(store, description.iri, kind)
    namer = Namer(urls, read_labels(store, details.iris()), accept_language())
    summary = details.summary
    return {
        "term": {
            "kind": kind,
            "definition": summary.definition,
            "notation": summary.notation,
            "parents": [namer.iri(p) for p in summary.parents],
            "children": [namer.iri(c) for c in details.children],
            "domains": [namer.iri(d) for d in summary.domains],
            "ranges": [namer.iri(r) for r in summary.ranges],
            "uses": details.uses,
            "listing": listing_href(description.iri) if kind == "class" else None,
            "shapes": [
                {
                    "shape": namer.iri(rule.shape),
                    "path": namer.iri(rule.path) if rule.path else None,
                    "message": rule.message,
                    "how": rule.how,
                }
                for rule in details.shapes
            ],
        }
    }


@blueprint.route("/validation")
def validation() -> Response:
    """The latest SHACL validation report of the published data: a page, or (as Accept asks)
    its Turtle or JSON document, whose own URL is then in ``Content-Location``."""
    chosen = choose_format(request.headers.get("Accept"), VALIDATION_FORMATS, default="html")
    if chosen != "html":
        suffix = FORMAT_TO_REPORT_SUFFIX[chosen]
        response = validation_document(suffix)
        response.headers["Content-Location"] = url_for(".validation_document", suffix=suffix)
        return response
    urls = url_builder()
    etag = etag_for("validation", language_ranges(), urls.root)

    def build() -> str:
        report = current_state().publication.report
        groups = []
        if report is not None:
            focus_nodes = [f.owner or f.focus for f in report.findings]
            namer = Namer(urls, read_labels(page_store(), _iris(focus_nodes)), accept_language())
            groups = [
                {
                    "shape": namer.iri(shape),
                    "findings": [
                        {"finding": f, "focus": _focus(namer, f.owner or f.focus)} for f in findings
                    ],
                }
                for shape, findings in report.by_shape().items()
            ]
        return render_template(
            "validation.html", title="Validation report", report=report, groups=groups
        )

    return html_response(etag, build)


@blueprint.route("/validation.<any(ttl, json):suffix>")
def validation_document(suffix: str) -> Response:
    """The report as Turtle (pyshacl's results graph) or JSON; 404 when there is none."""
    report = current_state().publication.report
    if report is None:
        raise NotFound("there is no validation report: the data was published without shapes")
    etag = etag_for("validation", suffix)
    if client_has_current(etag):
        return not_modified(etag)
    media_type, write = REPORT_FORMATS[suffix]
    return cacheable(Response(write(report), 200, content_type=media_type), etag)


def _iris(nodes: list[str]) -> list[str]:
    return [node for node in nodes if not node.startswith("_:")]


def _focus(namer: Namer, node: str) -> TermView | None:
    return None if node.startswith("_:") else namer.iri(node)
