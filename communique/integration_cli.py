"""The subcommands that connect Communiqué with other knowledge bases: ``enrich``, ``push`` and
``export``, registered in `communique.cli.COMMANDS`.

Progress goes to stderr, the outcome to stdout; failures are raised as `CommuniqueError` and
reported by `communique.cli.main` (exit status 1, or 2 for unreadable data).
"""

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from communique.enrichment import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_ENDPOINT,
    DEFAULT_LANGUAGES,
    DEFAULT_NAME,
    NAME_PATTERN,
    EnrichmentSource,
    enrich,
)
from communique.errors import BadRequest, CommuniqueError
from communique.nanopubs import nanopublications_trig
from communique.publication import publish
from communique.push import DEFAULT_BATCH_TRIPLES, PushTarget, push
from communique.remote_sparql import RemoteSparql
from communique.settings import Settings

DATA_SETTING_NAMES = ("base", "data", "shapes")


def endpoint_url(text: str) -> str:
    """An http(s) URL that can also be written as an IRI (it names the endpoint in provenance)."""
    parts = urlsplit(text)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or any(char in text for char in ' <>"{}|\\^`')
    ):
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s) URL")
    return text


def positive_number(kind: type):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r} is not positive")
        return value

    return parse


def enrichment_name(text: str) -> str:
    if not NAME_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError("use lower-case letters, digits and '-'")
    return text


def add_root_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root",
        metavar="DIR",
        help="Project folder holding ontology/, graph/ and shapes/ (default: the bundled one).",
    )


def project_root(args: argparse.Namespace) -> Path:
    return Path(args.root or Settings.from_mapping().project_root)


def add_remote_options(parser: argparse.ArgumentParser, *, timeout: float) -> None:
    parser.add_argument(
        "--timeout",
        type=positive_number(float),
        default=timeout,
        help=f"Seconds for one request, connection to last byte (default: {timeout:g}).",
    )
    parser.add_argument(
        "--max-retries",
        type=int,
        default=4,
        help="Retries after HTTP 429, 502, 503 or 504, waiting as Retry-After says or with "
        "exponential backoff from 1 s (default: 4).",
    )


def report_progress(message: str) -> None:
    print(f"communique: {message}", file=sys.stderr, flush=True)


# --- enrich -----------------------------------------------------------------------------------


def add_enrich_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint",
        type=endpoint_url,
        default=DEFAULT_ENDPOINT,
        help=f"SPARQL endpoint to ask (default: {DEFAULT_ENDPOINT}).",
    )
    add_root_option(parser)
    parser.add_argument(
        "--output-dir",
        metavar="DIR",
        help="Folder to write <name>.ttl into (default: the project's graph/enrichment/).",
    )
    parser.add_argument(
        "--name",
        type=enrichment_name,
        default=DEFAULT_NAME,
        help=f"Name of the file and graph graph/enrichment/<name> (default: {DEFAULT_NAME}).",
    )
    parser.add_argument(
        "--languages",
        nargs="+",
        metavar="TAG",
        default=list(DEFAULT_LANGUAGES),
        help="Language tags of the labels and descriptions to fetch (default: "
        f"{' '.join(DEFAULT_LANGUAGES)}); labels in English are never added.",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_number(int),
        default=DEFAULT_BATCH_SIZE,
        help=f"Entities per request (default: {DEFAULT_BATCH_SIZE}).",
    )
    defaults = EnrichmentSource()
    for option, default, what in (
        ("--entity-namespace", defaults.entity_namespace, "Namespace of the linked entities"),
        ("--label-property", defaults.label_property, "Remote property of labels"),
        ("--description-property", defaults.description_property, "Remote descriptions"),
        ("--coordinates-property", defaults.coordinates_property, "Remote WKT coordinates"),
    ):
        parser.add_argument(option, metavar="IRI", default=default, help=f"{what} ({default}).")
    add_remote_options(parser, timeout=60.0)


def run_enrich(args: argparse.Namespace) -> int:
    source = EnrichmentSource(
        endpoint=args.endpoint,
        name=args.name,
        entity_namespace=checked_iri(args.entity_namespace),
        label_property=checked_iri(args.label_property),
        description_property=checked_iri(args.description_property),
        coordinates_property=checked_iri(args.coordinates_property),
        languages=tuple(args.languages),
        batch_size=args.batch_size,
    )
    client = RemoteSparql(
        timeout=args.timeout, max_retries=args.max_retries, on_wait=report_progress
    )
    result = enrich(
        project_root(args),
        source,
        client,
        output_dir=Path(args.output_dir) if args.output_dir else None,
        progress=report_progress,
    )
    print(
        f"{result.path}: {result.labels} labels, {result.descriptions} descriptions and "
        f"{result.coordinates} coordinates for {result.entities} linked entities "
        "(validated with the rest of the data: conforms)"
    )
    return 0


def checked_iri(text: str) -> str:
    if any(char in text for char in ' <>"{}|\\^`') or ":" not in text:
        raise BadRequest(f"{text!r} is not an absolute IRI")
    return text


# --- push -------------------------------------------------------------------------------------


def add_push_arguments(parser: argparse.ArgumentParser) -> None:
    from communique.cli import add_settings_options

    parser.add_argument(
        "--endpoint",
        type=endpoint_url,
        required=True,
        help="SPARQL query endpoint of the target store (pushed graphs are counted there).",
    )
    way = parser.add_mutually_exclusive_group()
    way.add_argument(
        "--graph-store",
        type=endpoint_url,
        metavar="URL",
        help="Graph Store Protocol endpoint: each graph is replaced by one PUT.",
    )
    way.add_argument(
        "--update-endpoint",
        type=endpoint_url,
        metavar="URL",
        help="SPARQL Update endpoint, when it is not --endpoint (used without --graph-store).",
    )
    credentials = parser.add_mutually_exclusive_group()
    credentials.add_argument(
        "--auth",
        metavar="USER:PASSWORD",
        help="HTTP Basic credentials (visible to other users of this machine: prefer --auth-env).",
    )
    credentials.add_argument(
        "--auth-env", metavar="VAR", help="Environment variable holding USER:PASSWORD."
    )
    parser.add_argument(
        "--batch-size",
        type=positive_number(int),
        default=DEFAULT_BATCH_TRIPLES,
        help=f"Most triples in one SPARQL Update request (default: {DEFAULT_BATCH_TRIPLES}).",
    )
    add_root_option(parser)
    add_settings_options(parser, DATA_SETTING_NAMES)
    add_remote_options(parser, timeout=120.0)


def run_push(args: argparse.Namespace) -> int:
    credentials = push_credentials(args)
    publication = publish(data_settings(args))
    try:
        target = PushTarget(
            query_endpoint=args.endpoint,
            graph_store=args.graph_store,
            update_endpoint=args.update_endpoint,
            batch_triples=args.batch_size,
        )
        client = RemoteSparql(
            timeout=args.timeout,
            max_retries=args.max_retries,
            credentials=credentials,
            on_wait=report_progress,
        )
        pushed = push(publication.store, target, client, progress=report_progress)
    finally:
        publication.store.close()
    for graph in pushed:
        print(f"<{graph.graph}>: {graph.sent} triples sent, {graph.found} found")
    total = sum(graph.sent for graph in pushed)
    print(f"{len(pushed)} graphs, {total} triples pushed by {target.method} and verified")
    return 0


def push_credentials(args: argparse.Namespace) -> tuple[str, str] | None:
    if args.auth_env:
        text = os.environ.get(args.auth_env)
        if text is None:
            raise BadRequest(f"the environment variable {args.auth_env} is not set")
    else:
        text = args.auth
    if text is None:
        return None
    user, colon, password = text.partition(":")
    if not colon or not user:
        raise BadRequest("credentials are USER:PASSWORD")
    return user, password


def data_settings(args: argparse.Namespace) -> Settings:
    from communique.cli import settings_values

    values = settings_values(args)
    if args.root:
        values["project_root"] = args.root
    return Settings.from_mapping(values)


# --- export -----------------------------------------------------------------------------------


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    from communique.cli import add_settings_options

    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--nanopubs",
        action="store_true",
        help="Every claim as a nanopublication (head, assertion, provenance, pubinfo), TriG.",
    )
    parser.add_argument(
        "--output", metavar="FILE", help="File to write (default: standard output)."
    )
    add_root_option(parser)
    add_settings_options(parser, DATA_SETTING_NAMES)


def run_export(args: argparse.Namespace) -> int:
    publication = publish(data_settings(args))
    try:
        body = nanopublications_trig(
            publication.store, publication.settings.base, publication.published_at
        )
    finally:
        publication.store.close()
    if args.output:
        write_atomically(Path(args.output), body)
    else:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    return 0


def write_atomically(path: Path, body: bytes) -> None:
    """Write `body` to `path` through a temporary file beside it, renamed over it.

    :raises CommuniqueError: the file cannot be written (`path` is left as it was).
    """
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with staging.open("wb") as stream:
            stream.write(body)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(staging, path)
    except OSError as error:
        raise CommuniqueError(f"{path}: cannot write: {error.strerror}") from None
    finally:
        staging.unlink(missing_ok=True)
