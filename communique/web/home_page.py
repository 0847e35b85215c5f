"""The home page: what the dataset holds, a timeline of its events, two small charts."""

from communique import svg
from communique.describe import read_labels
from communique.namespaces import CQ
from communique.overview import (
    TimelineEvent,
    class_counts,
    dataset_counts,
    sources,
    status_counts,
    timeline_events,
)
from communique.store import Store
from communique.urls import UrlBuilder
from communique.web.page_support import accept_language, listing_href, site_path
from communique.web.state import current_state
from communique.web.views import Namer

CHART_CLASSES = 12


def home_context(store: Store, urls: UrlBuilder) -> dict:
    state = current_state()
    counts = dataset_counts(store, state.publication.triple_count, state.settings.base + "id/")
    events = timeline_events(store)
    statuses = status_counts(store)
    classes = class_counts(store, CHART_CLASSES)
    documents = sources(store)
    mentioned = [e.iri for e in events] + [s for s, _ in statuses] + [c for c, _ in classes]
    namer = Namer(urls, read_labels(store, [*mentioned, *documents]), accept_language())
    on_axis, off_axis = svg.focus([_item(namer, event) for event in events])
    return {
        "title": "Home",
        "counts": counts,
        "timeline": svg.timeline(on_axis, id_prefix="timeline"),
        "off_axis": off_axis,
        "status_chart": svg.bar_chart(
            [_bar(namer, status, count) for status, count in statuses],
            title="Claims per epistemic status",
            id_prefix="statuses",
        ),
        "class_chart": svg.bar_chart(
            [svg.Bar(namer.iri(c).text, n, listing_href(c)) for c, n in classes],
            title=f"Instances of the {len(classes)} most used classes",
            id_prefix="classes",
        ),
        "sources": [namer.iri(document) for document in documents],
        "ontology": urls.page_url(str(CQ)),
        "sparql": site_path("sparql.endpoint"),
        "classes_href": site_path("pages.classes"),
    }


def _item(namer: Namer, event: TimelineEvent) -> svg.TimelineItem:
    view = namer.iri(event.iri)
    return svg.TimelineItem(view.text, view.href, event.start, event.end, event.planned)


def _bar(namer: Namer, status: str, count: int) -> svg.Bar:
    view = namer.iri(status)
    return svg.Bar(view.text, count, view.href)
