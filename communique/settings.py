"""Settings are data: each one has a default and its help text, shared by the CLI and the docs.

`Settings.from_mapping` builds settings from a dict (``create_app(config)``), environment
variables are ``COMMUNIQUE_<NAME>``; the CLI exposes the same names as ``--kebab-case`` options.
"""

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from communique.errors import SettingError
from communique.namespaces import DEFAULT_BASE

MAX_AUTOMATIC_WORKERS = 8
PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout holding `ontology/`, `graph/` and `shapes/` (the bundled dataset)."""


def setting(default: Any, help: str, **kwargs: Any) -> Any:
    return field(default=default, metadata={"help": help, **kwargs})


@dataclass(frozen=True)
class Settings:
    base: str = setting(
        DEFAULT_BASE, "Canonical base IRI of the published data (ends with /).", url=True
    )
    public_url: str | None = setting(
        None,
        "URL at which this server is reached, when it differs from the base "
        "(links on pages then stay on this server).",
        url=True,
    )
    data: tuple[str, ...] = setting(
        (), "RDF files to publish instead of the bundled graph (named graphs kept)."
    )
    shapes: tuple[str, ...] = setting(
        (), "SHACL files that --data must conform to before it is published."
    )
    store: str | None = setting(
        None,
        "URL of a SPARQL 1.1 endpoint to answer queries instead of the embedded store.",
        url=True,
    )
    store_dir: str | None = setting(
        None, "Directory for an on-disk embedded store; a restart with the same data reuses it."
    )
    default_graph: str = setting(
        "union",
        "'union': the default graph is the union of all graphs; "
        "'data': only the triples outside named graphs (standard RDF dataset semantics).",
        choices=("union", "data"),
    )
    timeout: float = setting(10.0, "Wall-clock time limit of one query, in seconds.", minimum=0.001)
    max_rows: int = setting(
        10000,
        "Result cap: rows (SELECT) or triples (CONSTRUCT/DESCRIBE) in one answer.",
        minimum=1,
    )
    max_query_bytes: int = setting(65536, "Longest accepted query text, in bytes.", minimum=1)
    query_workers: int = setting(2, "Worker processes that evaluate SPARQL queries.", minimum=1)
    workers: int = setting(
        0,
        "Web server worker processes; 0: one per CPU core this process may run on, "
        f"at most {MAX_AUTOMATIC_WORKERS}.",
        minimum=0,
    )
    threads: int = setting(8, "Threads per web server worker.", minimum=1)
    allow_service: tuple[str, ...] = setting(
        (), "SPARQL endpoints that SERVICE may call (federation is off when empty).", url=True
    )
    allow_private_service: bool = setting(
        False, "Let allow-listed SERVICE endpoints resolve to loopback or private addresses."
    )
    rate_limit_concurrency: int = setting(
        8,
        "Queries one client may have running at once (0: no limit; at most 32).",
        minimum=0,
    )
    rate_limit_query_seconds: float = setting(
        120.0,
        "Query time one client may spend per minute, in seconds (0: no budget).",
        minimum=0,
    )
    trusted_proxy_count: int = setting(
        0,
        "Reverse proxies in front of the server that append to X-Forwarded-For; rate limits "
        "then apply to the address the outermost trusted proxy saw (0: the peer's address).",
        minimum=0,
    )
    validation_timeout: float = setting(
        120.0,
        "Wall-clock time limit of SHACL validation, which runs in a child process, in seconds.",
        minimum=0.001,
    )
    memory_limit: int = setting(
        2048,
        "Memory (address space) one query worker, or the validation process, may add, in MiB "
        "(0: no limit).",
        minimum=0,
    )
    response_cache: int = setting(
        64,
        "Memory each web worker may use to answer repeated requests (pages, documents, SPARQL "
        "answers) without running them again, in MiB (0: none).",
        minimum=0,
    )
    access_log: bool = setting(
        True,
        "Log one line per request to standard error: method, path, status, bytes, duration, "
        "request id and query hash.",
    )
    pid_file: str | None = setting(
        None, "File to write the server's process id to, for `communique reload --pid-file`."
    )
    project_root: str = setting(
        str(PROJECT_ROOT), "Folder holding the bundled ontology/, graph/ and shapes/."
    )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None = None) -> "Settings":
        """Settings from environment variables, overridden by `values` (unknown keys refused)."""
        names = {f.name: f for f in dataclasses.fields(cls)}
        chosen: dict[str, Any] = {}
        for name, spec in names.items():
            raw = os.environ.get(f"COMMUNIQUE_{name.upper()}")
            if raw is not None:
                chosen[name] = _from_text(spec, raw)
        for name, value in (values or {}).items():
            if name not in names:
                raise ValueError(f"unknown setting {name!r}")
            chosen[name] = tuple(value) if isinstance(value, list) else value
        return cls(**chosen)

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            _check(spec, getattr(self, spec.name))
        if not self.base.endswith("/"):
            raise SettingError(f"--base (COMMUNIQUE_BASE) must end with '/', not {self.base!r}")

    def web_workers(self, cores: int | None = None) -> int:
        """The web worker processes to run: `workers`, or when it is 0 one per CPU core (`cores`,
        else the cores this process may run on), at most `MAX_AUTOMATIC_WORKERS`. Queries are
        evaluated in the query workers, so a web worker beyond the cores only adds switching."""
        if self.workers > 0:
            return self.workers
        available = len(os.sched_getaffinity(0)) if cores is None else cores
        return max(1, min(available, MAX_AUTOMATIC_WORKERS))

    @property
    def bundled(self) -> bool:
        """True when serving the bundled graph rather than --data files or a remote store."""
        return not self.data and self.store is None


def _from_text(spec: dataclasses.Field, raw: str) -> Any:
    if isinstance(spec.default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(spec.default, tuple):
        return tuple(part for part in raw.split() if part)
    if isinstance(spec.default, int | float):
        kind = type(spec.default)
        try:
            return kind(raw)
        except ValueError:
            noun = "an integer" if kind is int else "a number"
            raise SettingError(f"{_names(spec)} must be {noun}, not {raw!r}") from None
    return raw


def _check(spec: dataclasses.Field, value: Any) -> None:
    """Refuse `value` where it breaks its field's ``minimum`` or ``url`` metadata, or is infinite.

    :raises SettingError: naming the option and the environment variable.
    """
    minimum = spec.metadata.get("minimum")
    if minimum is not None and not value >= minimum:  # NaN too
        raise SettingError(f"{_names(spec)} must be at least {minimum}, not {value}")
    if isinstance(value, float) and math.isinf(value):
        raise SettingError(f"{_names(spec)} must be a finite number, not {value}")
    if spec.metadata.get("url"):
        for url in value if isinstance(value, tuple) else (value,):
            if url is not None and not _is_web_url(url):
                raise SettingError(f"{_names(spec)} must be an http(s) URL, not {url!r}")


def _is_web_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and text.isprintable()


def _names(spec: dataclasses.Field) -> str:
    """How a user sets `spec`: its option and its environment variable."""
    return f"--{spec.name.replace('_', '-')} (COMMUNIQUE_{spec.name.upper()})"
