"""communique.svg: pictures as well-formed, accessible, escaped, deterministic SVG."""

import datetime as dt
import doctest
import xml.etree.ElementTree as ET

from communique import svg

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'


def parse(markup) -> ET.Element:
    return ET.fromstring(str(markup))


def assert_accessible(root: ET.Element) -> None:
    assert root.get("role") == "img"
    title_id, description_id = root.get("aria-labelledby").split()
    assert root.find(f"{SVG}title").get("id") == title_id
    assert root.find(f"{SVG}desc").get("id") == description_id
    assert root.find(f"{SVG}title").text


def assert_inert(root: ET.Element) -> None:
    for element in root.iter():
        assert element.tag.removeprefix(SVG) not in ("script", "foreignObject", "style")
        for name, value in element.attrib.items():
            assert not name.startswith("on") and name != "style"
            assert not value.strip().lower().startswith("javascript:")


def neighbours(count: int) -> list[svg.Edge]:
    return [
        svg.Edge(f"link {i}", svg.Node(f"neighbour {i}", f"/page/id/n{i}"), i % 2 == 0)
        for i in range(count)
    ]


def test_neighbourhood_draws_each_neighbour_with_its_link():
    root = parse(svg.neighbourhood(svg.Node("centre"), neighbours(3)))
    assert_accessible(root)
    hrefs = [a.get("href") for a in root.iter(f"{SVG}a")]
    assert hrefs == ["/page/id/n0", "/page/id/n1", "/page/id/n2"]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "centre" in texts and "link 1" in texts


def test_neighbourhood_notes_how_many_are_not_drawn():
    root = parse(svg.neighbourhood(svg.Node("hub"), neighbours(20), total=45))
    assert len(list(root.iter(f"{SVG}a"))) == svg.MAX_NEIGHBOURS
    assert "+33 more" in [t.text for t in root.iter(f"{SVG}text")]
    assert "45 links" in root.find(f"{SVG}desc").text


def test_text_and_links_from_data_are_escaped():
    edge = svg.Edge(HOSTILE, svg.Node(HOSTILE, '/page/id/x"onmouseover="alert(1)'))
    markup = str(svg.neighbourhood(svg.Node(HOSTILE), [edge], id_prefix='a"b'))
    root = parse(markup)
    assert_inert(root)
    assert "<script" not in markup and "<img" not in markup
    assert root.find(f"{SVG}a").get("href") == '/page/id/x"onmouseover="alert(1)'


def test_the_same_input_gives_the_same_picture():
    assert svg.neighbourhood(svg.Node("c"), neighbours(7)) == svg.neighbourhood(
        svg.Node("c"), neighbours(7)
    )


def test_long_labels_are_shortened():
    assert svg.shorten("x" * 100, 10) == "x" * 9 + "…"
    assert svg.shorten("  two\n words ") == "two words"


def items() -> list[svg.TimelineItem]:
    return [
        svg.TimelineItem("first summit", "/page/id/s1", dt.date(2018, 6, 12)),
        svg.TimelineItem("visit", "/page/id/v", dt.date(2019, 1, 1), dt.date(2019, 1, 19)),
        svg.TimelineItem(
            "second summit", "/page/id/s2", dt.date(2019, 2, 21), dt.date(2019, 2, 28), True
        ),
    ]


def test_timeline_marks_days_as_dots_and_windows_as_bars():
    root = parse(svg.timeline(items()))
    assert_accessible(root)
    assert len(list(root.iter(f"{SVG}circle"))) == 1
    bars = [r for r in root.iter(f"{SVG}rect") if "event-window" in r.get("class")]
    assert [b.get("class") for b in bars] == ["event-window", "event-window planned"]
    assert bars[1].get("stroke-dasharray")
    assert "expected between 2019-02-21 and 2019-02-28" in root.find(f"{SVG}desc").text


def test_timeline_places_events_in_date_order_along_the_axis():
    root = parse(svg.timeline(items()))
    day = float(next(root.iter(f"{SVG}circle")).get("cx"))
    starts = [float(r.get("x")) for r in root.iter(f"{SVG}rect")]
    assert day < starts[0] < starts[1]


def test_timeline_without_events_says_so():
    root = parse(svg.timeline([]))
    assert "No dated events" in [t.text for t in root.iter(f"{SVG}text")]


def test_far_off_events_are_kept_off_the_axis():
    war = svg.TimelineItem("war", None, dt.date(1950, 6, 25), dt.date(1953, 7, 27))
    kept, off = svg.focus([war, *items()])
    assert off == [war]
    assert kept == items()
    assert svg.focus(items()) == (items(), [])


def test_bar_chart_scales_bars_to_the_largest_value():
    bars = [svg.Bar("asserted", 80, "/page/a"), svg.Bar("reported", 20), svg.Bar(HOSTILE, 0)]
    markup = svg.bar_chart(bars, title="Claims per status")
    root = parse(markup)
    assert_accessible(root)
    assert_inert(root)
    widths = [float(r.get("width")) for r in root.iter(f"{SVG}rect")]
    assert widths[0] == 4 * widths[1]
    assert [a.get("href") for a in root.iter(f"{SVG}a")] == ["/page/a"]
    assert "asserted: 80" in root.find(f"{SVG}desc").text


def test_docstring_examples_hold():
    assert doctest.testmod(svg).failed == 0
