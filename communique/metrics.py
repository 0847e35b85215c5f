"""Counters for ``/metrics``, in shared memory so that any web worker answers for all of them.

`process_metrics()` makes one `Metrics` per server process, in gunicorn's master before it forks
(`create_app` runs there), so the web workers, and the apps a reload builds later in the master,
all count into the same cells. `prometheus_text` renders them, with the query pool's counters
and the dataset's version, in the Prometheus text exposition format (version 0.0.4).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from communique.shared_memory import SharedCells

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "communique_"
QUERY_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Upper bounds (seconds) of the query duration histogram; +Inf follows."""
RELOAD_OUTCOMES = ("succeeded", "failed")

_FIRST_STATUS, _LAST_STATUS = 100, 599
_STATUS_CELLS = _LAST_STATUS - _FIRST_STATUS + 1
_BYTES = _STATUS_CELLS
_BUCKETS = _BYTES + 1
_QUERY_SUM = _BUCKETS + len(QUERY_DURATION_BUCKETS) + 1
_QUERY_COUNT = _QUERY_SUM + 1
_RELOADS = _QUERY_COUNT + 1
_CELL_COUNT = _RELOADS + len(RELOAD_OUTCOMES)
_MICROSECONDS = 1_000_000


@dataclass(frozen=True)
class DatasetInfo:
    """What is being served, for the info and gauge metrics."""

    version: str
    triples: int
    published_at: datetime
    fallback: bool
    """True when the last good version is served because the current data failed."""


class Metrics:
    """Request, query and reload counters shared by the processes forked after it is made."""

    def __init__(self) -> None:
        self._cells = SharedCells(_CELL_COUNT)

    def count_request(
        self,
        status: int,
        sent_bytes: int,
        *,
        query_seconds: float | None = None,
    ) -> None:
        """Count one response: its status and bytes, and for a SPARQL query request its
        wall-clock time; under one lock."""
        cells = self._cells
        index = min(max(status, _FIRST_STATUS), _LAST_STATUS) - _FIRST_STATUS
        with cells.lock:
            cells[index] += 1
            cells[_BYTES] += sent_bytes
            if query_seconds is not None:
                cells[_BUCKETS + _bucket(query_seconds)] += 1
                cells[_QUERY_SUM] += round(query_seconds * _MICROSECONDS)
                cells[_QUERY_COUNT] += 1

    def count_reload(self, outcome: str) -> None:
        self._cells.add(_RELOADS + RELOAD_OUTCOMES.index(outcome))

    def prometheus_text(self, pool_counters: Mapping[str, int], dataset: DatasetInfo) -> str:
        """Every metric, in the Prometheus text format."""
        cells = self._cells.values(0, _CELL_COUNT)
        lines: list[str] = []
        _family(lines, "http_requests_total", "counter", "HTTP requests answered, by status.")
        lines += [
            _sample("http_requests_total", count, code=str(_FIRST_STATUS + index))
            for index, count in enumerate(cells[:_STATUS_CELLS])
            if count
        ]
        _counter(lines, "http_response_bytes_total", "Response body bytes sent.", cells[_BYTES])
        _query_histogram(lines, cells)
        _pool_metrics(lines, pool_counters)
        _family(lines, "reloads_total", "counter", "Data reloads (SIGHUP), by outcome.")
        lines += [
            _sample("reloads_total", cells[_RELOADS + index], outcome=outcome)
            for index, outcome in enumerate(RELOAD_OUTCOMES)
        ]
        _dataset_metrics(lines, dataset)
        return "\n".join(lines) + "\n"


_PROCESS_METRICS: Metrics | None = None


def process_metrics() -> Metrics:
    """This process's `Metrics`, made on first use (in gunicorn's master: before it forks)."""
    global _PROCESS_METRICS
    if _PROCESS_METRICS is None:
        _PROCESS_METRICS = Metrics()
    return _PROCESS_METRICS


def _bucket(seconds: float) -> int:
    return next(
        (i for i, bound in enumerate(QUERY_DURATION_BUCKETS) if seconds <= bound),
        len(QUERY_DURATION_BUCKETS),
    )


# --- the text format ------------------------------------------------------------------------


def _family(lines: list[str], name: str, kind: str, help_text: str) -> None:
    lines.append(f"# HELP {PREFIX}{name} {help_text}")
    lines.append(f"# TYPE {PREFIX}{name} {kind}")


def _sample(name: str, value: float, **labels: str) -> str:
    rendered = ",".join(f'{key}="{_escape_label(text)}"' for key, text in labels.items())
    return (
        f"{PREFIX}{name}{{{rendered}}} {_number(value)}"
        if labels
        else f"{PREFIX}{name} {_number(value)}"
    )


def _counter(lines: list[str], name: str, help_text: str, value: float) -> None:
    _family(lines, name, "counter", help_text)
    lines.append(_sample(name, value))


def _gauge(lines: list[str], name: str, help_text: str, value: float, **labels: str) -> None:
    _family(lines, name, "gauge", help_text)
    lines.append(_sample(name, value, **labels))


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _query_histogram(lines: list[str], cells: list[int]) -> None:
    name = "query_duration_seconds"
    _family(lines, name, "histogram", "Wall-clock time of SPARQL query requests.")
    cumulative = 0
    bounds: Iterable[str] = [*map(_number, QUERY_DURATION_BUCKETS), "+Inf"]
    for index, bound in enumerate(bounds):
        cumulative += cells[_BUCKETS + index]
        lines.append(_sample(f"{name}_bucket", cumulative, le=bound))
    lines.append(_sample(f"{name}_sum", cells[_QUERY_SUM] / _MICROSECONDS))
    lines.append(_sample(f"{name}_count", cells[_QUERY_COUNT]))


def _pool_metrics(lines: list[str], counters: Mapping[str, int]) -> None:
    _counter(
        lines,
        "queries_evaluated_total",
        "Queries handed to the query worker processes.",
        counters["queries"],
    )
    _counter(
        lines,
        "query_timeouts_total",
        "Queries stopped at the time limit (their worker was killed).",
        counters["timeouts"],
    )
    _counter(
        lines,
        "query_worker_crashes_total",
        "Query worker processes that died on their own (crash, memory limit).",
        counters["crashes"],
    )
    _counter(
        lines,
        "query_worker_restarts_total",
        "Query worker processes started to replace one that died or was killed.",
        counters["restarts"],
    )


def _dataset_metrics(lines: list[str], dataset: DatasetInfo) -> None:
    _gauge(lines, "dataset_info", "The data version served.", 1, version=dataset.version)
    _gauge(lines, "dataset_triples", "Triples in the data served.", dataset.triples)
    _gauge(
        lines,
        "dataset_published_timestamp_seconds",
        "When the data served was published (Unix time).",
        dataset.published_at.timestamp(),
    )
    _gauge(
        lines,
        "dataset_fallback",
        "1 when the last good version is served because the current data failed.",
        int(dataset.fallback),
    )
