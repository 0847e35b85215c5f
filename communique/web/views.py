"""View objects for templates: RDF terms, properties and claims, labelled and linked.

`Namer` knows the labels of a description, the reader's languages and this server's URLs; it
turns IRIs, literals and blank nodes into `TermView`s, which ``_macros.html`` renders with one
macro. Our IRIs link to their pages here, external http(s) IRIs link out, and anything else (a
``javascript:`` IRI, a ``urn:``) is shown as text and never becomes an ``href``.
"""

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pyoxigraph as ox
from markupsafe import Markup

from communique import svg
from communique.describe import (
    ClaimSummary,
    Description,
    Evidence,
    IncomingGroup,
    Page,
    PropertyValues,
    Value,
)
from communique.labels import (
    LABEL_PROPERTY_RANK,
    best_label,
    fallback_label,
    parse_accept_language,
    prefixed_name,
)
from communique.namespaces import RDF, XSD
from communique.urls import UrlBuilder, is_linkable

RDF_TYPE = str(RDF.type)
PLAIN_DATATYPES = frozenset({str(XSD.string), str(RDF.langString)})
"""Datatypes not worth a badge (the language badge says it for rdf:langString)."""
_CSS_NAME = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class TermView:
    """One RDF term as a page shows it."""

    kind: str
    """"iri", "literal", "bnode" or "list" (an RDF list: `items`)."""
    text: str
    href: str | None = None
    external: bool = False
    title: str = ""
    lang: str | None = None
    datatype: "TermView | None" = None
    nested: tuple["PropertyView", ...] | None = None
    items: tuple["TermView", ...] = ()
    graphs: tuple["TermView", ...] = ()


@dataclass(frozen=True)
class PropertyView:
    predicate: TermView
    values: tuple[TermView, ...]
    more: str = ""
    """A note after the values (how many more there are, and where)."""
    count: int | None = None
    """How many values there are in all, when the page shows only some."""


@dataclass(frozen=True)
class BadgeView:
    slug: str
    """A CSS-safe name: ``status-<slug>`` styles the badge."""
    text: str
    href: str | None
    title: str


@dataclass(frozen=True)
class QuoteView:
    exact: str
    href: str | None
    cite: str
    source: TermView
    start: int | None
    end: int | None


@dataclass(frozen=True)
class ClaimView:
    anchor: str
    link: TermView
    status: BadgeView | None
    negated: bool
    kinds: tuple[TermView, ...]
    statement: tuple[TermView, ...]
    proposition: str | None
    attribution: tuple[TermView, ...]
    evidence: tuple[QuoteView, ...]


@dataclass(frozen=True)
class PagerView:
    first: int
    last: int
    total: int
    previous_href: str | None
    next_href: str | None


class Namer:
    """Labels and links for the terms of one page."""

    def __init__(
        self,
        urls: UrlBuilder,
        labels: Mapping[str, Mapping[str, str]],
        accept_language: str | None,
    ):
        self.urls = urls
        self.labels = labels
        self.languages = parse_accept_language(accept_language)
        self._views: dict[str, TermView] = {}

    def label(self, iri: str) -> tuple[str, str | None]:
        """``(text, language)`` of the best label; a fallback name has no language."""
        chosen = best_label(self.labels.get(iri, {}), self.languages)
        if chosen is not None:
            return chosen
        return fallback_label(iri, ours=self.urls.is_ours(iri)), None

    def iri(self, iri: str) -> TermView:
        """The view of an IRI: labelled, linked to its page here or out (http(s) only)."""
        if iri not in self._views:
            self._views[iri] = self._iri_view(iri)
        return self._views[iri]

    def _iri_view(self, iri: str) -> TermView:
        text, _ = self.label(iri)
        title = prefixed_name(iri) or iri
        if self.urls.is_ours(iri):
            return TermView("iri", text, self.urls.page_url(iri), False, title)
        if is_linkable(iri):
            return TermView("iri", text, iri, True, title)
        return TermView("iri", text, None, False, title)

    def term(self, term: ox.NamedNode | ox.BlankNode | ox.Literal) -> TermView:
        if isinstance(term, ox.NamedNode):
            return self.iri(term.value)
        if isinstance(term, ox.Literal):
            return self.literal(term)
        return TermView("bnode", "")

    def literal(self, literal: ox.Literal) -> TermView:
        datatype = literal.datatype.value
        badge = None
        if datatype not in PLAIN_DATATYPES:
            badge = TermView("iri", prefixed_name(datatype) or datatype, title=datatype)
        return TermView("literal", literal.value, lang=literal.language, datatype=badge)

    def value(self, value: Value) -> TermView:
        view = self.term(value.term)
        graphs = tuple(self.iri(graph) for graph in value.graphs)
        if value.items is not None:
            items = tuple(self.value(item) for item in value.items)
            return TermView("list", "", items=items, graphs=graphs)
        if isinstance(value.term, ox.BlankNode):
            nested = self.properties(value.nested) if value.nested is not None else None
            return TermView("bnode", "", nested=nested, graphs=graphs)
        return TermView(**{**view.__dict__, "graphs": graphs})

    def properties(self, groups: Sequence[PropertyValues]) -> tuple[PropertyView, ...]:
        """Views of `groups`: rdf:type and labels first, then by the shown property label."""
        keyed = []
        for position, group in enumerate(groups):
            view = PropertyView(
                self.iri(group.predicate), tuple(self.value(v) for v in group.values)
            )
            leading = group.predicate == RDF_TYPE or group.predicate in LABEL_PROPERTY_RANK
            keyed.append(((0, position, "") if leading else (1, 0, view.predicate.text), view))
        return tuple(view for _, view in sorted(keyed, key=lambda pair: pair[0]))

    def incoming(self, groups: Sequence[IncomingGroup]) -> tuple[PropertyView, ...]:
        views = []
        for group in groups:
            predicate = self.iri(group.predicate)
            if group.through_blank_node:
                text = predicate.text + " (of a nested node)"
                predicate = TermView(**{**predicate.__dict__, "text": text})
            subjects = tuple(self.iri(subject) for subject in group.subjects)
            hidden = group.count - len(subjects)
            more = f"{hidden} more on other pages of this list" if hidden else ""
            views.append(PropertyView(predicate, subjects, more, group.count))
        return tuple(views)

    def status_badge(self, status: str | None) -> BadgeView | None:
        if status is None:
            return None
        view = self.iri(status)
        slug = _CSS_NAME.sub("-", fallback_label(status, ours=True).lower()).strip("-")
        return BadgeView(slug or "unknown", view.text, view.href, view.title)

    def claim(self, claim: ClaimSummary) -> ClaimView:
        return ClaimView(
            anchor="claim-" + _CSS_NAME.sub("-", fallback_label(claim.iri, ours=True).lower()),
            link=self.iri(claim.iri),
            status=self.status_badge(claim.status),
            negated=claim.negated,
            kinds=tuple(self.iri(kind) for kind in claim.types),
            statement=tuple(self.term(part) for part in claim.statement),
            proposition=claim.proposition,
            attribution=tuple(self.iri(agent) for agent in claim.attribution),
            evidence=tuple(self.quote(e) for e in claim.evidence if e.exact is not None),
        )

    def quote(self, evidence: Evidence) -> QuoteView:
        source = self.iri(evidence.source) if evidence.source else TermView("iri", "(no source)")
        href = source.href
        if href and not source.external and evidence.start is not None:
            anchor = f"{evidence.start}-{evidence.end}"
            href = f"{href}?highlight={anchor}#span-{anchor}"
        return QuoteView(
            evidence.exact or "",
            href,
            evidence.source or "",
            source,
            evidence.start,
            evidence.end,
        )


def pager(page: Page, href_for_offset: Callable[[int], str]) -> PagerView:
    """Previous/next links for `page`; `href_for_offset(offset)` builds a link."""
    return PagerView(
        page.first,
        page.last,
        page.total,
        href_for_offset(page.previous_offset) if page.has_previous else None,
        href_for_offset(page.next_offset) if page.has_next else None,
    )


# --- pictures and embedded data ---------------------------------------------------------------

SCHEMA_ORG = "https://schema.org/"
SCHEMA_TYPES_BY_CLASS = {
    "http://semanticweb.cs.vu.nl/2009/11/sem/Event": "Event",
    "http://www.w3.org/ns/prov#Person": "Person",
    "http://www.w3.org/ns/prov#Organization": "Organization",
    "http://www.w3.org/2004/02/skos/core#Concept": "DefinedTerm",
    "http://www.w3.org/2004/02/skos/core#ConceptScheme": "DefinedTermSet",
    "http://www.w3.org/2002/07/owl#Ontology": "DefinedTermSet",
    "http://www.w3.org/2002/07/owl#Class": "DefinedTerm",
    "http://www.w3.org/2002/07/owl#ObjectProperty": "DefinedTerm",
    "http://www.w3.org/2002/07/owl#DatatypeProperty": "DefinedTerm",
}
"""Non-schema.org classes -> the schema.org type a page's JSON-LD uses for them."""
_JSON_IN_HTML = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def json_ld(description: Description, name: str, summary: str | None) -> Markup:
    """The schema.org description of a page's resource, ready for a
    ``<script type="application/ld+json">`` element: ``<``, ``>`` and ``&`` are written as
    JSON escapes, so no data can end the element or open a comment."""
    document: dict = {
        "@context": SCHEMA_ORG,
        "@id": description.iri,
        "@type": schema_types(description),
        "name": name,
    }
    if summary:
        document["description"] = summary
    if description.same_as:
        document["sameAs"] = list(description.same_as)
    return Markup(json.dumps(document, ensure_ascii=False, indent=1).translate(_JSON_IN_HTML))


def schema_types(description: Description) -> list[str] | str:
    found = []
    for iri in description.types:
        if iri.startswith(SCHEMA_ORG):
            found.append(iri[len(SCHEMA_ORG) :])
        elif iri in SCHEMA_TYPES_BY_CLASS:
            found.append(SCHEMA_TYPES_BY_CLASS[iri])
    if description.own_claim is not None:
        found.append("Claim")
    unique = list(dict.fromkeys(found))
    return unique if len(unique) > 1 else (unique or ["Thing"])[0]


def neighbourhood_picture(namer: Namer, description: Description) -> Markup:
    """The resource and its named neighbours (outgoing links first, then incoming)."""
    edges = []
    for group in description.properties:
        if group.predicate == RDF_TYPE:
            continue
        predicate, _ = namer.label(group.predicate)
        for value in group.values:
            if isinstance(value.term, ox.NamedNode):
                edges.append(svg.Edge(predicate, _node(namer, value.term.value), True))
    for incoming in description.incoming:
        predicate, _ = namer.label(incoming.predicate)
        for subject in incoming.subjects:
            edges.append(svg.Edge(predicate, _node(namer, subject), False))
    title, _ = namer.label(description.iri)
    beyond_page = sum(group.count - len(group.subjects) for group in description.incoming)
    return svg.neighbourhood(svg.Node(title), edges, total=len(edges) + beyond_page)


def _node(namer: Namer, iri: str) -> svg.Node:
    view = namer.iri(iri)
    return svg.Node(view.text, view.href)
