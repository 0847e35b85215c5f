"""What the app serves from: the publication, its query pool and what is derived from them once."""

from dataclasses import dataclass, field

from flask import current_app

from communique.federation import ServicePolicy
from communique.lru import LruCache
from communique.publication import Publication
from communique.query_text import QueryInfo
from communique.service_description import DatasetSizes
from communique.settings import Settings
from communique.workers import QueryPool

EXTENSION_KEY = "communique"
INSPECTED_BYTES = 4 * 1024 * 1024
"""Room for the pre-checks of recent query texts (`AppState.inspected`), in each web worker."""


@dataclass(frozen=True)
class AppState:
    """Stored in ``app.extensions["communique"]`` by `create_app`."""

    settings: Settings
    publication: Publication
    pool: QueryPool
    service_policy: ServicePolicy
    dataset_sizes: DatasetSizes
    inspected: LruCache[QueryInfo] = field(
        default_factory=lambda: LruCache(INSPECTED_BYTES, INSPECTED_BYTES // 16)
    )
    """What `check_query` said of recent texts: its answer depends only on the text, whether
    a protocol dataset was given, and this state's settings and graphs."""

    def close(self) -> None:
        """Stop the query workers (the publication's store stays with its owner)."""
        self.pool.close()


def current_state() -> AppState:
    return current_app.extensions[EXTENSION_KEY]
