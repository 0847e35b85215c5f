"""Helpers for the reliability tests: process trees, Prometheus text, waiting; and the summary of
the load test printed at the end of the session."""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(name, ((label, value), ...)): number}`` for every sample; checks HELP and TYPE."""
    samples = {}
    typed = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#") or not line:
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a Prometheus sample: {line!r}"
        name, labels, value = match.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in typed or family in typed, f"{name} has no # TYPE line"
        samples[(name, tuple(_LABEL.findall(labels or "")))] = float(value)
    return samples


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# --- the load summary -------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    clients: int
    seconds: float
    requests: int
    errors: int
    p50: float
    p99: float
    by_kind: dict[str, int]


LOAD_RESULTS: list[LoadResult] = []


@pytest.fixture(scope="session")
def load_results() -> list[LoadResult]:
    return LOAD_RESULTS


def pytest_terminal_summary(terminalreporter) -> None:
    for result in LOAD_RESULTS:
        terminalreporter.write_sep("-", "load test")
        terminalreporter.write_line(
            f"{result.clients} clients for {result.seconds:.0f} s: {result.requests} requests "
            f"({result.requests / result.seconds:.0f}/s), {result.errors} errors, "
            f"p50 {result.p50 * 1000:.0f} ms, p99 {result.p99 * 1000:.0f} ms; {result.by_kind}"
        )
