"""A publication: one validated, versioned dataset, ready to serve.

`publish(settings)` is the gate: the bundled graph (or `--data` files with `--shapes`) is
validated before anything is served, and data that does not conform is never published. With a
`--store-dir`, each version is built off to the side and becomes current by an atomic rename and
symlink swap, so a crash at any moment leaves the last good version in place and a restart with
unchanged data reuses the store instead of reloading it.
"""

import dataclasses
import functools
import json
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyoxigraph as ox

from communique.dataset import bundled_quads, content_version, read_quads
from communique.errors import CommuniqueError, DataError, ShapesViolation
from communique.isolation import MEBIBYTE, ChildLimits, IsolatedCall
from communique.layout import Layout
from communique.settings import Settings
from communique.store import EmbeddedStore, RemoteStore, Store
from communique.validation import Finding, ValidationReport, validate_files, validate_layout

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
"""Called with the number of quads loaded so far, while a big file loads."""

LOAD_BATCH = 100_000
METADATA_FILE = "publication.json"
KEPT_VERSIONS = 2


@dataclass(frozen=True)
class Publication:
    settings: Settings
    version: str
    store: Store
    graphs: tuple[str, ...]
    report: ValidationReport | None
    published_at: datetime
    triple_count: int
    fallback_reason: str | None = None
    """Set when the current data could not be published and the last good version is served."""


def publish(settings: Settings, *, progress: Progress | None = None) -> Publication:
    """Load, validate and store the data `settings` name. Raises DataError or ShapesViolation."""
    if settings.store:
        return _remote_publication(settings)
    inputs = _input_paths(settings)
    version = content_version(inputs, settings.base, settings.default_graph)
    if settings.store_dir:
        return _publish_on_disk(settings, version, progress)
    store = EmbeddedStore(ox.Store(), union_default_graph=_union(settings))
    report = _load_and_validate(settings, store.oxigraph, progress)
    return _publication(settings, version, store, report, datetime.now(UTC))


def _union(settings: Settings) -> bool:
    return settings.default_graph == "union"


def _input_paths(settings: Settings) -> list[Path]:
    if settings.data:
        return [Path(p) for p in (*settings.data, *settings.shapes)]
    layout = Layout(Path(settings.project_root))
    texts = [s.text_path for s in layout.sources() if s.text_path.exists()]
    return [f.path for f in (*layout.data_files(), *layout.shape_files())] + texts


def _load_and_validate(
    settings: Settings, target: ox.Store, progress: Progress | None
) -> ValidationReport | None:
    """Fill `target` with the data while a child process validates it (see `_validation`);
    raises ShapesViolation when it does not conform, DataError when validation fails."""
    if settings.data:
        data = [Path(p) for p in settings.data]
        if not settings.shapes:
            _load_files(target, data, progress)
            return None
        shapes = [Path(p) for p in settings.shapes]
        with _validation(settings, functools.partial(validate_files, data, shapes)) as validation:
            _load_files(target, data, progress)
            report = validation.result()
    else:
        root = Path(settings.project_root)
        validate = functools.partial(validate_layout, root, base=settings.base)
        with _validation(settings, validate) as validation:
            layout = Layout(root)
            target.extend(
                bundled_quads(layout, layout.data_files() + layout.shape_files(), settings.base)
            )
            report = validation.result()
    if not report.conforms:
        raise ShapesViolation(
            "the data does not conform to the shapes and was not published:\n" + report.to_text()
        )
    return report


def _validation(settings: Settings, validate: Callable[[], ValidationReport]) -> IsolatedCall:
    """Validation in a child process under the settings' time and memory limits: hostile shapes
    (a backtracking sh:pattern, a SHACL-SPARQL query that crashes the engine) cannot hang or
    crash the server, at start or on reload."""
    memory = settings.memory_limit * MEBIBYTE if settings.memory_limit > 0 else None
    return IsolatedCall(
        validate,
        limits=ChildLimits(settings.validation_timeout, memory),
        description="SHACL validation",
    )


def _load_files(target: ox.Store, paths: Sequence[Path], progress: Progress | None) -> None:
    loaded = 0
    for path in paths:
        batch: list[ox.Quad] = []
        for quad in read_quads(path):
            batch.append(quad)
            if len(batch) == LOAD_BATCH:
                loaded = _flush(target, batch, loaded, progress)
        loaded = _flush(target, batch, loaded, progress)


def _flush(target: ox.Store, batch: list[ox.Quad], loaded: int, progress: Progress | None) -> int:
    target.bulk_extend(batch)
    loaded += len(batch)
    batch.clear()
    if progress:
        progress(loaded)
    return loaded


def _publication(
    settings: Settings,
    version: str,
    store: Store,
    report: ValidationReport | None,
    published_at: datetime,
    fallback_reason: str | None = None,
) -> Publication:
    graphs = tuple(store.named_graphs())
    count = len(store.oxigraph) if isinstance(store, EmbeddedStore) else _remote_count(store)
    return Publication(
        settings, version, store, graphs, report, published_at, count, fallback_reason
    )


def _remote_publication(settings: Settings) -> Publication:
    store = RemoteStore(settings.store, union_default_graph=_union(settings))
    now = datetime.now(UTC)
    version = content_version([], settings.store, now.isoformat())
    return _publication(settings, version, store, None, now)


def _remote_count(store: Store) -> int:
    rows = store.query(
        "SELECT (COUNT(*) AS ?n) WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }"
    )
    return int(next(iter(rows))["n"].value)


# --- on-disk versions -------------------------------------------------------------------------


def _publish_on_disk(settings: Settings, version: str, progress: Progress | None) -> Publication:
    root = Path(settings.store_dir)
    versions = root / "versions"
    try:
        versions.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"--store-dir {root}: cannot create it: {error.strerror}") from None
    _remove_partial_builds(versions)
    if not (versions / version / METADATA_FILE).exists():
        try:
            _build_version(settings, versions, version, progress)
        except CommuniqueError as error:
            last_good = _current_version(root)
            if last_good is None:
                raise
            log.error(
                "publishing version %s failed; serving last good %s: %s", version, last_good, error
            )
            return _open_version(settings, root, last_good, fallback_reason=error.message)
    _make_current(root, version)
    _forget_old_versions(versions, keep={version})
    return _open_version(settings, root, version)


def _build_version(
    settings: Settings, versions: Path, version: str, progress: Progress | None
) -> None:
    """Build `version` in a partial directory, renamed into place only when complete; a build
    that fails removes its partial directory (one killed midway is removed at the next start)."""
    partial = versions / f"{version}.partial-{os.getpid()}"
    try:
        report = _fill_store(settings, partial, progress)
        metadata = {
            "version": version,
            "published_at": datetime.now(UTC).isoformat(),
            "report": dataclasses.asdict(report) if report else None,
        }
        (partial / METADATA_FILE).write_text(json.dumps(metadata))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    os.rename(partial, versions / version)


def _fill_store(
    settings: Settings, folder: Path, progress: Progress | None
) -> ValidationReport | None:
    target = ox.Store(str(folder))
    try:
        report = _load_and_validate(settings, target, progress)
        target.flush()
        target.optimize()
    finally:
        del target
    return report


def _open_version(
    settings: Settings, root: Path, version: str, fallback_reason: str | None = None
) -> Publication:
    folder = root / "versions" / version
    metadata = json.loads((folder / METADATA_FILE).read_text())
    store = EmbeddedStore.open_read_only(str(folder), union_default_graph=_union(settings))
    report = _report_from_metadata(metadata["report"]) if metadata["report"] else None
    published_at = datetime.fromisoformat(metadata["published_at"])
    return _publication(settings, version, store, report, published_at, fallback_reason)


def _report_from_metadata(document: dict) -> ValidationReport:
    """The report a version's metadata holds (written by ``dataclasses.asdict``)."""
    return ValidationReport(
        conforms=document["conforms"],
        findings=tuple(Finding(**finding) for finding in document["findings"]),
        graph_turtle=document.get("graph_turtle", ""),
        duration=document.get("duration", 0.0),
        triple_count=document.get("triple_count", 0),
    )


def _current_version(root: Path) -> str | None:
    link = root / "current"
    if not link.is_symlink():
        return None
    version = Path(os.readlink(link)).name
    return version if (root / "versions" / version / METADATA_FILE).exists() else None


def _make_current(root: Path, version: str) -> None:
    """Point `current` at `version` atomically (a new symlink renamed over the old one)."""
    staging = root / f"current.{os.getpid()}"
    staging.unlink(missing_ok=True)
    staging.symlink_to(Path("versions") / version)
    os.replace(staging, root / "current")


def _remove_partial_builds(versions: Path) -> None:
    for partial in versions.glob("*.partial-*"):
        shutil.rmtree(partial, ignore_errors=True)


def _forget_old_versions(versions: Path, keep: set[str]) -> None:
    built = sorted(
        (p for p in versions.iterdir() if (p / METADATA_FILE).exists()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for stale in built[KEPT_VERSIONS:]:
        if stale.name not in keep:
            shutil.rmtree(stale, ignore_errors=True)
