"""A progress bar for loading big ``--data`` files (`publication.publish(progress=...)`).

On a terminal it redraws one line: a bar, quads loaded of the expected total, rate, time left.
Otherwise (a log file, a service manager) it writes a plain line at most every
`LOG_INTERVAL_SECONDS`. A load that finishes within `QUIET_SECONDS` prints nothing. The total is
known for line-based files (N-Triples, N-Quads: one statement per line, counted before loading);
for other formats the bar shows the count and rate only.
"""

import time
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

LINE_FORMAT_SUFFIXES = frozenset({".nt", ".nq"})
BAR_WIDTH = 30
QUIET_SECONDS = 1.0
LOG_INTERVAL_SECONDS = 5.0
COUNT_CHUNK_BYTES = 1 << 22


def expected_statements(paths: Iterable[Path]) -> int | None:
    """Lines in the files when all are N-Triples or N-Quads (an upper bound of the statements:
    comments and blank lines count too), else None."""
    paths = list(paths)
    if not paths or any(path.suffix.lower() not in LINE_FORMAT_SUFFIXES for path in paths):
        return None
    try:
        return sum(_count_lines(path) for path in paths)
    except OSError:
        return None


def _count_lines(path: Path) -> int:
    lines = 0
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(COUNT_CHUNK_BYTES), b""):
            lines += chunk.count(b"\n")
    return lines


class LoadProgress:
    """Callable as `publication.Progress`: called with the number of quads loaded so far."""

    def __init__(self, stream: TextIO, total: int | None = None, *, clock=time.monotonic):
        self._stream = stream
        self._total = total
        self._clock = clock
        self._started = clock()
        self._last_line = self._started
        self._loaded = 0
        self._last_call = self._started
        self._width = 0
        self._interactive = stream.isatty()

    @property
    def shown(self) -> bool:
        return self._width > 0

    def __call__(self, loaded: int) -> None:
        self._loaded = loaded
        now = self._last_call = self._clock()
        if now - self._started < QUIET_SECONDS and not self.shown:
            return
        if self._interactive:
            self._redraw(self.describe(loaded, now - self._started))
        elif now - self._last_line >= LOG_INTERVAL_SECONDS or not self.shown:
            self._write_line(self.describe(loaded, now - self._started))
            self._last_line = now

    def finish(self) -> None:
        """The closing line, when progress was shown: how many quads, how long."""
        if not self.shown:
            return
        elapsed = self._last_call - self._started
        rate = self._loaded / elapsed if elapsed > 0 else 0.0
        line = f"loaded {self._loaded:,} quads in {elapsed:.1f} s ({rate:,.0f}/s)"
        if self._interactive:
            self._redraw(line)
            self._stream.write("\n")
            self._stream.flush()
        else:
            self._write_line(line)

    def describe(self, loaded: int, elapsed: float) -> str:
        """One progress line: ``loading [####------] 412,000 / 1,000,000 quads  81,000/s  7 s
        left`` (count and rate only when the total is unknown)."""
        rate = loaded / elapsed if elapsed > 0 else 0.0
        if not self._total:
            return f"loading: {loaded:,} quads  {rate:,.0f}/s"
        share = min(loaded / self._total, 1.0)
        filled = round(share * BAR_WIDTH)
        left = (self._total - loaded) / rate if rate > 0 and loaded < self._total else 0.0
        return (
            f"loading [{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {loaded:,} / "
            f"{self._total:,} quads  {rate:,.0f}/s  {left:.0f} s left"
        )

    def _redraw(self, line: str) -> None:
        self._stream.write("\r" + line.ljust(self._width))
        self._width = max(self._width, len(line))
        self._stream.flush()

    def _write_line(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._width = max(self._width, len(line))
        self._stream.flush()
