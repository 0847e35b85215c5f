"""Pictures as inline SVG, built on the server: a resource's neighbourhood, a timeline of events,
a bar chart. Pure functions of their input: the same data always gives the same markup.

Every text and attribute value goes through `markupsafe.escape`, links only carry the hrefs the
caller built (our pages, or http(s) links), and each picture is an accessible image
(``role="img"``, ``<title>`` and ``<desc>``, ``aria-labelledby``). Colours come from CSS classes
(``style.css``), with presentation attributes as a fallback; there is no script and no style
attribute, so the pictures pass a strict Content-Security-Policy.
"""

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

MAX_NEIGHBOURS = 12
LABEL_CHARACTERS = 28


@dataclass(frozen=True)
class Node:
    label: str
    href: str | None = None


@dataclass(frozen=True)
class Edge:
    """A link between the centre and `node`: outgoing (centre → node) or incoming."""

    label: str
    node: Node
    outgoing: bool = True


@dataclass(frozen=True)
class TimelineItem:
    label: str
    href: str | None
    start: dt.date
    end: dt.date | None = None
    """None for an event on one day."""
    planned: bool = False
    """A window the event is expected in, rather than when it happened."""


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    href: str | None = None


def shorten(text: str, limit: int = LABEL_CHARACTERS) -> str:
    """`text` cut to `limit` characters with an ellipsis.

    >>> shorten("Association of Southeast Asian Nations", 12)
    'Association…'
    """
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _svg(
    id_prefix: str, width: int, height: int, title: str, description: str, body: str
) -> Markup:
    prefix = escape(id_prefix)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="picture" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'preserveAspectRatio="xMidYMid meet" '
        f'aria-labelledby="{prefix}-title {prefix}-desc">'
        f'<title id="{prefix}-title">{escape(title)}</title>'
        f'<desc id="{prefix}-desc">{escape(description)}</desc>{body}</svg>'
    )


def _link(href: str | None, inner: str, label: str) -> str:
    if not href:
        return inner
    return f'<a href="{escape(href)}" aria-label="{escape(label)}">{inner}</a>'


def _text(x: float, y: float, text: str, css_class: str, anchor: str = "middle") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" class="{css_class}" text-anchor="{anchor}">'
        f"{escape(text)}</text>"
    )


# --- neighbourhood ----------------------------------------------------------------------------


def neighbourhood(
    centre: Node,
    edges: Sequence[Edge],
    *,
    total: int | None = None,
    id_prefix: str = "neighbourhood",
    max_neighbours: int = MAX_NEIGHBOURS,
) -> Markup:
    """The centre with up to `max_neighbours` neighbours on an ellipse, edges labelled; a note
    says how many more of the `total` links (default: all `edges`) are not drawn."""
    total = len(edges) if total is None else max(total, len(edges))
    shown = list(edges[:max_neighbours])
    hidden = total - len(shown)
    width, height, radius = 720, 460, 170
    cx, cy = width / 2, height / 2 - 10
    marker = f"{escape(id_prefix)}-arrow"
    places = [_on_ellipse(index, len(shown), cx, cy, radius) for index in range(len(shown))]
    parts = [_edge(cx, cy, x, y, edge, marker) for (x, y), edge in zip(places, shown, strict=True)]
    parts.append(_node(cx, cy, centre, "node node-centre"))
    parts += [_node(x, y, edge.node, "node") for (x, y), edge in zip(places, shown, strict=True)]
    if hidden:
        parts.append(_text(width - 12, height - 12, f"+{hidden} more", "note", "end"))
    names = ", ".join(f"{e.label} {e.node.label}" for e in shown)
    description = (
        f"{centre.label} and {total} links"
        + (f" ({len(shown)} shown)" if hidden else "")
        + (f": {names}" if names else "")
    )
    definitions = (
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'class="arrow" fill="#555"/></marker></defs>'
    )
    body = definitions + "".join(parts)
    return _svg(id_prefix, width, height, f"Links of {centre.label}", description, body)


def _on_ellipse(index: int, count: int, cx: float, cy: float, radius: float) -> tuple[float, float]:
    """Where neighbour `index` of `count` goes: evenly on an ellipse, the first at the top."""
    angle = 2 * math.pi * index / max(count, 1) - math.pi / 2
    return cx + radius * 1.45 * math.cos(angle), cy + radius * math.sin(angle)


def _edge(cx: float, cy: float, x: float, y: float, edge: Edge, marker: str) -> str:
    x1, y1, x2, y2 = (cx, cy, x, y) if edge.outgoing else (x, y, cx, cy)
    dx, dy = x2 - x1, y2 - y1
    trim = 34 / (math.hypot(dx, dy) or 1)  # both ends stop short of the boxes
    x1, y1, x2, y2 = x1 + dx * trim, y1 + dy * trim, x2 - dx * trim, y2 - dy * trim
    line = (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" class="edge" '
        f'stroke="#888" marker-end="url(#{marker})"/>'
    )
    label = _text((cx + x) / 2, (cy + y) / 2 - 4, shorten(edge.label, 22), "edge-label")
    return line + label


def _node(x: float, y: float, node: Node, css_class: str) -> str:
    text = shorten(node.label)
    width = 14 + 7.2 * len(text)
    box = (
        f'<rect x="{x - width / 2:.1f}" y="{y - 14:.1f}" width="{width:.1f}" height="28" '
        f'rx="6" class="{css_class}" fill="#eef" stroke="#336"/>'
    )
    inner = box + _text(x, y + 5, text, "node-label")
    return _link(node.href, inner, node.label)


# --- timeline ---------------------------------------------------------------------------------


def focus(items: Sequence[TimelineItem]) -> tuple[list[TimelineItem], list[TimelineItem]]:
    """``(on the axis, far outside it)``: an item at either end more than `FAR_OFF_DAYS` and
    `FAR_OFF_FACTOR` times the rest's span away from the rest (a war decades earlier) is left
    off the axis, so that the other events are not squeezed into a few pixels.

    >>> days = [TimelineItem("old", None, dt.date(1950, 1, 1), dt.date(1953, 12, 31))]
    >>> days += [TimelineItem(str(d), None, dt.date(2019, 1, d)) for d in (1, 9, 20)]
    >>> [len(part) for part in focus(days)]
    [3, 1]
    """
    kept = sorted(items, key=lambda i: (i.start, i.end or i.start))
    outliers: list[TimelineItem] = []
    while len(kept) > 2 and _far_off(kept[0].end or kept[0].start, kept[1:], before=True):
        outliers.append(kept.pop(0))
    while len(kept) > 2 and _far_off(kept[-1].start, kept[:-1], before=False):
        outliers.append(kept.pop())
    return kept, outliers


FAR_OFF_DAYS = 365
FAR_OFF_FACTOR = 3


def _far_off(day: dt.date, rest: Sequence[TimelineItem], *, before: bool) -> bool:
    first, last = min(i.start for i in rest), _last_day(rest)
    gap = (first - day).days if before else (day - last).days
    return gap > FAR_OFF_DAYS and gap > FAR_OFF_FACTOR * (last - first).days


def _last_day(items: Sequence[TimelineItem]) -> dt.date:
    return max(item.end or item.start for item in items)


def timeline(items: Sequence[TimelineItem], *, id_prefix: str = "timeline") -> Markup:
    """Events on a date axis, one row each: a dot for a day, a bar for a window (dashed when
    planned, i.e. the window the event is expected in)."""
    width, left, right, row, top = 760, 16, 16, 30, 14
    height = top + row * max(len(items), 1) + 44
    if not items:
        body = _text(width / 2, height / 2, "No dated events", "note")
        return _svg(id_prefix, width, height, "Timeline of events", "No dated events.", body)
    first = min(item.start for item in items)
    last = max(item.end or item.start for item in items)
    span = max((last - first).days, 1)
    scale = (width - left - right) / span

    def x_of(day: dt.date) -> float:
        return left + (day - first).days * scale

    parts = [_axis(first, last, x_of, top + row * len(items) + 6, width, left, right)]
    for index, item in enumerate(items):
        parts.append(_timeline_row(item, top + row * index + row / 2, x_of, width))
    description = "; ".join(_when(item) for item in items)
    title = f"Timeline of {len(items)} events, {first.isoformat()} to {last.isoformat()}"
    return _svg(id_prefix, width, height, title, description, "".join(parts))


def _timeline_row(item: TimelineItem, y: float, x_of, width: int) -> str:
    x = x_of(item.start)
    if item.end is None:
        mark = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" class="event-day" fill="#246"/>'
        end_x = x + 6
    else:
        end_x = max(x_of(item.end), x + 4)
        css = "event-window planned" if item.planned else "event-window"
        dash = ' stroke-dasharray="4 3"' if item.planned else ""
        mark = (
            f'<rect x="{x:.1f}" y="{y - 6:.1f}" width="{end_x - x:.1f}" height="12" rx="3" '
            f'class="{css}" fill="#8ac" stroke="#246"{dash}/>'
        )
    label = shorten(item.label, 48) + (" (planned)" if item.planned else "")
    if end_x + 8 + 6.5 * len(label) < width:
        text = _text(end_x + 8, y + 4, label, "event-label", "start")
    else:
        text = _text(x - 8, y + 4, label, "event-label", "end")
    return _link(item.href, mark + text, f"{item.label}, {_when(item)}")


def _when(item: TimelineItem) -> str:
    if item.end is None:
        return f"{item.label}: {item.start.isoformat()}"
    kind = "expected between" if item.planned else "between"
    return f"{item.label}: {kind} {item.start.isoformat()} and {item.end.isoformat()}"


def _axis(first: dt.date, last: dt.date, x_of, y: float, width: int, left: int, right: int) -> str:
    parts = [
        f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" class="axis" '
        f'stroke="#444"/>'
    ]
    for tick in _ticks(first, last):
        x = x_of(tick)
        parts.append(
            f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y + 5:.1f}" class="axis" '
            f'stroke="#444"/>'
        )
        label = tick.strftime("%Y") if (last - first).days > 1100 else tick.strftime("%b %Y")
        parts.append(_text(x, y + 18, label, "tick-label"))
    return "".join(parts)


def _ticks(first: dt.date, last: dt.date, most: int = 8) -> list[dt.date]:
    """Month or year starts within the range, at most `most` of them, evenly thinned."""
    months = (last.year - first.year) * 12 + last.month - first.month
    step = max(1, math.ceil((months + 1) / most))
    if months > 36:
        step = 12 * max(1, math.ceil((last.year - first.year + 1) / most))
    ticks, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        day = dt.date(year, month, 1)
        if day >= first:
            ticks.append(day)
        month += step
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return ticks[:most] or [first]


# --- bar chart --------------------------------------------------------------------------------


def bar_chart(bars: Sequence[Bar], *, title: str, id_prefix: str = "chart") -> Markup:
    """Horizontal bars, labelled, with their values; each bar links where the caller says."""
    width, label_width, row = 520, 200, 24
    height = max(len(bars), 1) * row + 12
    largest = max((bar.value for bar in bars), default=0) or 1
    room = width - label_width - 60
    parts = []
    for index, bar in enumerate(bars):
        y = 6 + index * row
        length = max(room * bar.value / largest, 1)
        inner = (
            _text(label_width - 8, y + 15, shorten(bar.label, 30), "bar-label", "end")
            + f'<rect x="{label_width}" y="{y + 3}" width="{length:.1f}" height="{row - 8}" '
            f'class="bar" fill="#468"/>'
            + _text(label_width + length + 6, y + 15, str(bar.value), "bar-value", "start")
        )
        parts.append(_link(bar.href, inner, f"{bar.label}: {bar.value}"))
    description = "; ".join(f"{bar.label}: {bar.value}" for bar in bars) or "No data."
    return _svg(id_prefix, width, height, title, description, "".join(parts))
