"""A person browsing the bundled graph in headless Chromium, against a real `communique serve`.

Home page → the search box (reached with Tab alone) → Thailand → one of its claims → the
highlighted words of the article; the header autocomplete; the query page running an example.
Every page visited must log no console error and render a non-blank screenshot.
"""

import random
import struct
import zlib

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import distinct_pixels

pytestmark = pytest.mark.browser

MAX_TABS_TO_SEARCH_BOX = 30


@pytest.fixture(scope="module")
def site(servers):
    return servers()


def check_rendered(page: Page, not_blank) -> None:
    page.wait_for_load_state("load")
    assert not_blank(page.screenshot()), f"{page.url} rendered blank"


def test_keyboard_only_reaches_the_search_box(site, watched_page, not_blank):
    page = watched_page.page
    page.goto(site.url)
    check_rendered(page, not_blank)
    for _ in range(MAX_TABS_TO_SEARCH_BOX):
        page.keyboard.press("Tab")
        if page.locator(":focus").get_attribute("id") == "q":
            break
    else:
        pytest.fail(f"{MAX_TABS_TO_SEARCH_BOX} presses of Tab never reached the search box")
    page.keyboard.type("Thailand")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=Thailand")
    check_rendered(page, not_blank)
    expect(page.locator("ol.search-results a").first).to_have_text("Thailand")


def test_from_search_to_the_evidence_in_the_article(site, watched_page, not_blank):
    page = watched_page.page
    page.goto(site.url)
    page.fill("#q", "Thailand")
    page.press("#q", "Enter")
    page.wait_for_url("**/search?q=Thailand")
    page.locator("ol.search-results a", has_text="Thailand").first.click()
    page.wait_for_url("**/page/id/thailand")
    check_rendered(page, not_blank)
    expect(page.locator("h1")).to_have_text("Thailand")

    evidence = page.locator("article.claim figure.evidence blockquote a").first
    quote = evidence.inner_text().strip()
    assert quote
    evidence.click()
    page.wait_for_url("**/page/id/source/second-summit-article**")
    check_rendered(page, not_blank)
    highlighted = page.locator("mark.highlighted")
    expect(highlighted.first).to_be_visible()
    assert highlighted.count() >= 1
    for index in range(highlighted.count()):
        expect(highlighted.nth(index)).to_be_visible()
    assert "".join(highlighted.all_inner_texts()).strip() == quote


def test_autocomplete_is_an_accessible_combobox(site, watched_page, not_blank):
    page = watched_page.page
    page.goto(site.url + "search?q=kim")
    box = page.locator("#q")
    expect(box).to_have_attribute("role", "combobox")
    expect(box).to_have_attribute("aria-expanded", "false")
    listbox = page.locator("#" + box.get_attribute("aria-controls"))
    expect(listbox).to_have_attribute("role", "listbox")

    box.fill("")
    box.press_sequentially("Thail", delay=30)
    expect(box).to_have_attribute("aria-expanded", "true")
    options = listbox.locator("[role=option]")
    expect(options.first).to_have_text("Thailand")
    check_rendered(page, not_blank)

    box.press("ArrowDown")
    expect(box).to_have_attribute("aria-activedescendant", options.first.get_attribute("id"))
    expect(options.first).to_have_attribute("aria-selected", "true")
    box.press("Escape")
    expect(box).to_have_attribute("aria-expanded", "false")

    box.press("ArrowDown")
    expect(box).to_have_attribute("aria-expanded", "true")
    box.press("Enter")
    page.wait_for_url("**/page/id/thailand")
    expect(page.locator("h1")).to_have_text("Thailand")


def test_query_page_runs_an_example(site, watched_page, not_blank):
    page = watched_page.page
    page.goto(site.sparql)
    check_rendered(page, not_blank)
    page.locator("a[data-example='09-wikidata-links']").click()
    editor = page.locator("textarea#query")
    expect(editor).to_be_focused()
    assert "owl:sameAs" in editor.input_value()
    page.locator("#run").click()
    rows = page.locator("#result-table tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 10
    expect(page.locator("#query-status")).to_contain_text("rows in")
    first_link = page.locator("#result-table tbody a[href^='/page/id/']").first
    expect(first_link).to_be_visible()
    downloads = page.locator("#downloads a")
    assert downloads.all_inner_texts() == ["JSON", "XML", "CSV", "TSV"]
    assert "format=csv" in downloads.nth(2).get_attribute("href")
    check_rendered(page, not_blank)

    first_link.click()
    page.wait_for_url("**/page/id/**")
    check_rendered(page, not_blank)


def test_query_page_graph_answers_and_errors(site, watched_page):
    page = watched_page.page
    page.goto(site.sparql + "?example=10-summits-graph")
    page.locator("#run").click()
    expect(page.locator("#query-status")).to_contain_text("triples")
    expect(page.locator("#result-table thead th").nth(1)).to_have_text("subject")
    assert page.locator("#downloads a").all_inner_texts() == [
        "Turtle",
        "N-Triples",
        "N-Quads",
        "TriG",
        "JSON-LD",
        "RDF/XML",
    ]


def test_query_page_shows_errors_and_truncation(site, browser):
    """A syntax error shows where it is; an answer cut at the row cap says so. (The 400 is
    logged by the browser as a failed request, so this tab is not a watched one.)"""
    page = browser.new_page()
    page.goto(site.sparql)
    editor = page.locator("textarea#query")
    editor.fill("SELECT * WHERE {\n  ?s ?p\n}")
    page.locator("#run").click()
    problem = page.locator("#query-error .query-problem")
    expect(problem).to_contain_text("at 3:")
    expect(page.locator("#query-status")).to_contain_text("HTTP 400")
    editor.fill("SELECT ?s WHERE { ?s ?p ?o . ?x ?y ?z } LIMIT 20000")
    page.locator("#run").click()
    expect(page.locator("#query-error .query-notice")).to_contain_text("cut at 10000 rows")
    expect(page.locator("#query-status")).to_contain_text("10,000 rows")
    page.close()


def test_editor_keys(site, watched_page):
    page = watched_page.page
    page.goto(site.sparql)
    editor = page.locator("textarea#query")
    editor.fill("SELECT")
    editor.press("End")
    editor.press("Tab")
    expect(editor).to_have_value("SELECT  ")
    expect(editor).to_be_focused()
    editor.press("Escape")
    editor.press("Tab")
    expect(page.locator("#format")).to_be_focused()
    editor.fill("SELECT * WHERE { ?s ?p ?o } LIMIT 3")
    editor.press("Control+Enter")
    expect(page.locator("#query-status")).to_contain_text("3 rows")


def test_dataset_page_renders(site, watched_page, not_blank):
    page = watched_page.page
    page.goto(site.url + ".well-known/void", wait_until="load")
    check_rendered(page, not_blank)
    expect(page.locator("h1")).to_have_text("The dataset")


# --- the screenshot check itself ---------------------------------------------------------------


def png(width: int, height: int, pixel) -> bytes:
    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height)
    )

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_blank_check_tells_blank_from_busy(not_blank):
    white = png(64, 32, lambda x, y: (255, 255, 255))
    noise = random.Random(1)
    busy = png(64, 32, lambda x, y: (noise.randrange(256), noise.randrange(256), 0))
    assert distinct_pixels(white) == {b"\xff\xff\xff"}
    assert not not_blank(white)
    assert not_blank(busy)
