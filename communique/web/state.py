"""What the app serves from: the publication, its query pool and what is derived from them once."""

from dataclasses import dataclass

from flask import current_app

from communique.federation import ServicePolicy
from communique.publication import Publication
from communique.service_description import DatasetSizes
from communique.settings import Settings
from communique.workers import QueryPool

EXTENSION_KEY = "communique"


@dataclass(frozen=True)
class AppState:
    """Stored in ``app.extensions["communique"]`` by `create_app`."""

    settings: Settings
    publication: Publication
    pool: QueryPool
    service_policy: ServicePolicy
    dataset_sizes: DatasetSizes

    def close(self) -> None:
        """Stop the query workers (the publication's store stays with its owner)."""
        self.pool.close()


def current_state() -> AppState:
    return current_app.extensions[EXTENSION_KEY]
