"""Headless Chromium for the browser tests, driven by Playwright's sync API.

The Debian Chromium at /usr/bin/chromium runs with a fresh profile and no background traffic
(never ``playwright install``). `watched_page` opens a tab that records console errors and
uncaught exceptions, and fails the test if any happened; `not_blank` decodes a PNG screenshot
with a small pure-Python decoder and says whether it shows more than a few colours.
"""

import struct
import zlib
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1024, "height": 768}
TIMEOUT_MS = 15_000
BLANK_COLOURS = 8
"""A screenshot with fewer distinct pixel values than this is blank."""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=VIEWPORT,
        )
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()


class WatchedPage:
    """A tab that remembers every console error and uncaught exception, with the page's URL."""

    def __init__(self, page: Page):
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"{self.page.url}: {message.text} ({message.location.get('url')})")


@pytest.fixture
def watched_page(browser: BrowserContext) -> Iterator[WatchedPage]:
    watched = WatchedPage(browser.new_page())
    yield watched
    watched.page.close()
    assert watched.errors == []


@pytest.fixture
def not_blank() -> Callable[[bytes], bool]:
    return lambda png: len(distinct_pixels(png)) >= BLANK_COLOURS


def distinct_pixels(png: bytes, limit: int = 64) -> set[bytes]:
    """The distinct pixel values of an 8-bit RGB or RGBA PNG (up to `limit` of them)."""
    width, height, channels, data = _read_png(png)
    stride = width * channels
    seen: set[bytes] = set()
    previous = bytearray(stride)
    position = 0
    for _ in range(height):
        kind = data[position]
        row = _unfilter(
            kind, bytearray(data[position + 1 : position + 1 + stride]), previous, channels
        )
        position += stride + 1
        for start in range(0, stride, channels * 7):
            seen.add(bytes(row[start : start + channels]))
        if len(seen) >= limit:
            break
        previous = row
    return seen


def _read_png(png: bytes) -> tuple[int, int, int, bytes]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, idat = 8, []
    width = height = channels = 0
    while position < len(png):
        length, kind = struct.unpack(">I4s", png[position : position + 8])
        body = png[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, "unexpected PNG layout"
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        position += length + 12
    return width, height, channels, zlib.decompress(b"".join(idat))


def _unfilter(kind: int, row: bytearray, previous: bytearray, bpp: int) -> bytearray:
    """Undo one scanline's PNG filter (None, Sub, Up, Average, Paeth)."""
    if kind == 1:
        for i in range(bpp, len(row)):
            row[i] = (row[i] + row[i - bpp]) & 0xFF
    elif kind == 2:
        for i in range(len(row)):
            row[i] = (row[i] + previous[i]) & 0xFF
    elif kind == 3:
        for i in range(len(row)):
            left = row[i - bpp] if i >= bpp else 0
            row[i] = (row[i] + ((left + previous[i]) >> 1)) & 0xFF
    elif kind == 4:
        for i in range(len(row)):
            a = row[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            row[i] = (row[i] + predictor) & 0xFF
    return row
