"""The checks every query passes before evaluation, the same for the endpoint and the CLI."""

from collections.abc import Sequence

from communique.federation import ServicePolicy
from communique.query_text import QueryInfo, QueryLimits, inspect_query
from communique.settings import Settings

SERVICE_TIMEOUT_SECONDS = 5.0
"""Longest wait for one federated SERVICE endpoint (never more than the query's own limit)."""


def check_query(
    settings: Settings, text: str, *, dataset_graphs: Sequence[str] | None
) -> QueryInfo:
    """Inspect `text` under the settings' limits and federation allow-list.

    `dataset_graphs` are the graphs ``FROM``/``FROM NAMED`` may name; None when a protocol
    dataset overrides them.

    :raises PayloadTooLarge, BadRequest, ForbiddenOperation, QuerySyntaxError:
    """
    return inspect_query(
        text,
        QueryLimits(max_bytes=settings.max_query_bytes),
        allowed_services=settings.allow_service,
        dataset_graphs=dataset_graphs,
    )


def service_policy(settings: Settings) -> ServicePolicy:
    """How SERVICE calls to allow-listed endpoints are made."""
    return ServicePolicy(
        allowed=frozenset(settings.allow_service),
        allow_private=settings.allow_private_service,
        timeout=min(settings.timeout, SERVICE_TIMEOUT_SECONDS),
    )
