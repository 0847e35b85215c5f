"""The load progress bar of `communique serve --data` (communique.progress)."""

import io
from pathlib import Path

from communique.progress import QUIET_SECONDS, LoadProgress, expected_statements


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_line_based_files_give_the_expected_total(tmp_path: Path) -> None:
    quads = tmp_path / "a.nq"
    quads.write_text("<a> <b> <c> <g> .\n" * 3)
    triples = tmp_path / "b.nt"
    triples.write_text("<a> <b> <c> .\n" * 2)
    assert expected_statements([quads, triples]) == 5


def test_other_formats_have_no_total(tmp_path: Path) -> None:
    turtle = tmp_path / "a.ttl"
    turtle.write_text("<a> <b> <c> .\n")
    assert expected_statements([turtle]) is None
    assert expected_statements([]) is None


def test_a_quick_load_prints_nothing() -> None:
    clock, stream = FakeClock(), io.StringIO()
    progress = LoadProgress(stream, 1000, clock=clock)
    clock.now += QUIET_SECONDS / 2
    progress(1000)
    progress.finish()
    assert stream.getvalue() == ""


def test_a_terminal_gets_a_bar_redrawn_in_place_and_a_closing_line() -> None:
    clock, stream = FakeClock(), Terminal()
    progress = LoadProgress(stream, 1_000_000, clock=clock)
    clock.now += 2
    progress(250_000)
    clock.now += 2
    progress(500_000)
    progress.finish()
    text = stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n")
    assert "[" + "#" * 15 + "-" * 15 + "] 500,000 / 1,000,000 quads" in text
    assert "125,000/s  4 s left" in text
    assert "loaded 500,000 quads in 4.0 s (125,000/s)" in text


def test_a_log_gets_plain_lines_at_most_every_few_seconds() -> None:
    clock, stream = FakeClock(), io.StringIO()
    progress = LoadProgress(stream, None, clock=clock)
    for second in range(2, 13):
        clock.now = 100.0 + second
        progress(second * 10_000)
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines == [
        "loading: 20,000 quads  10,000/s",
        "loading: 70,000 quads  10,000/s",
        "loading: 120,000 quads  10,000/s",
        "loaded 120,000 quads in 12.0 s (10,000/s)",
    ]
