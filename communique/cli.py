"""The ``communique`` command: one small function per subcommand, registered in `COMMANDS`.

Options that set a `Settings` field are generated from the field (name, type, help, choices), so
the CLI, the environment variables and the docs share one table. Errors are reported as one
line on stderr: exit status 2 for unreadable data, 1 for any other refusal; never a traceback.
"""

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from communique.anchoring import evidence_turtle, find_anchor
from communique.coverage import (
    BOILERPLATE_RULE,
    coverage_json,
    coverage_text,
    measure_coverage,
)
from communique.errors import CommuniqueError, DataError, SettingError
from communique.federation import inline_services
from communique.integration_cli import (
    add_enrich_arguments,
    add_export_arguments,
    add_push_arguments,
    add_root_option,
    project_root,
    run_enrich,
    run_export,
    run_push,
)
from communique.layout import Layout
from communique.namespaces import ONTOLOGY_GRAPH, PREFIXES
from communique.negotiation import (
    FORM_TO_FORMATS,
    GRAPH_FORMATS,
    GRAPH_FORMS,
    SOLUTIONS_FORMATS,
    choose_format,
)
from communique.progress import LoadProgress, expected_statements
from communique.publication import Publication, publish
from communique.querying import check_query, service_policy
from communique.reload import add_reload_arguments, run_reload
from communique.results import SerializedAnswer, serialize_answer
from communique.settings import Settings
from communique.stats import file_stats, layout_stats
from communique.text_table import solutions_table
from communique.validation import ValidationReport, validate_files, validate_layout

SETTING_NAMES = tuple(spec.name for spec in dataclasses.fields(Settings))
QUERY_SETTING_NAMES = (
    "base",
    "data",
    "shapes",
    "store",
    "store_dir",
    "default_graph",
    "max_rows",
    "max_query_bytes",
    "allow_service",
    "allow_private_service",
    "project_root",
)
TABLE = "table"
INTERRUPTED_STATUS = 130
MAX_PORT = 65535


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.command.run(args)
    except (DataError, SettingError) as error:
        print(f"communique: {error.message}", file=sys.stderr)
        return 2
    except CommuniqueError as error:
        print(f"communique: {error.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return INTERRUPTED_STATUS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="communique", description="Publish and query the Communiqué knowledge graph."
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    for command in COMMANDS:
        subparser = commands.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(subparser)
        subparser.set_defaults(command=command)
    return parser


# --- options generated from Settings ----------------------------------------------------------


def add_settings_options(parser: argparse.ArgumentParser, names: Sequence[str]) -> None:
    """One ``--kebab-case`` option per named Settings field; unset options stay unset."""
    for spec in dataclasses.fields(Settings):
        if spec.name in names:
            parser.add_argument(
                "--" + spec.name.replace("_", "-"), dest=spec.name, **_option_kwargs(spec)
            )


def _option_kwargs(spec: dataclasses.Field) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"default": argparse.SUPPRESS, "help": _help(spec)}
    if "metavar" in spec.metadata:
        kwargs["metavar"] = spec.metadata["metavar"]
    if isinstance(spec.default, bool):
        kwargs["action"] = argparse.BooleanOptionalAction
        return kwargs
    if isinstance(spec.default, tuple):
        kwargs.update(nargs="+", action="extend")
    elif isinstance(spec.default, int | float):
        kwargs["type"] = type(spec.default)
    if "choices" in spec.metadata:
        kwargs["choices"] = spec.metadata["choices"]
    return kwargs


def _help(spec: dataclasses.Field) -> str:
    text = spec.metadata["help"]
    if spec.default not in (None, ()) and not isinstance(spec.default, bool):
        text += f" (default: {spec.default})"
    return text.replace("%", "%%")


def settings_values(args: argparse.Namespace) -> dict[str, Any]:
    """The Settings fields given on the command line (the others come from the environment)."""
    return {name: getattr(args, name) for name in SETTING_NAMES if hasattr(args, name)}


# --- serve ------------------------------------------------------------------------------------


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="Address to listen on (default: 127.0.0.1)."
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=8080,
        help="Port to listen on (0: any free port; default: 8080).",
    )
    add_settings_options(parser, SETTING_NAMES)


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and int(text) <= MAX_PORT):
        raise argparse.ArgumentTypeError(f"a port is a number from 0 to {MAX_PORT}, not {text!r}")
    return int(text)


def run_serve(args: argparse.Namespace) -> int:
    from communique.serve import serve

    values = settings_values(args)
    data = [Path(path) for path in Settings.from_mapping(values).data]
    progress = LoadProgress(sys.stderr, expected_statements(data))

    def announce(line: str) -> None:
        progress.finish()
        _announce(line)

    serve(values, host=args.host, port=args.port, announce=announce, progress=progress)
    return 0


def _announce(line: str) -> None:
    print(line, flush=True)


# --- query ------------------------------------------------------------------------------------


def add_query_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", help="The SPARQL query ('-' reads it from standard input).")
    parser.add_argument(
        "--format",
        default=TABLE,
        help="'table' (aligned text), or a result format: json, xml, csv, tsv, turtle, "
        "ntriples, nquads, trig, jsonld, rdfxml (or a media type).",
    )
    add_settings_options(parser, QUERY_SETTING_NAMES)


def run_query(args: argparse.Namespace) -> int:
    settings = Settings.from_mapping(settings_values(args))
    text = sys.stdin.read() if args.query == "-" else args.query
    publication = publish(settings)
    try:
        form, answer = answer_in_process(publication, text, args.format)
    finally:
        publication.store.close()
    if args.format == TABLE and answer.kind != "graph":
        print(_as_table(answer))
    else:
        sys.stdout.buffer.write(answer.body)
        sys.stdout.flush()
    if answer.truncated:
        print(f"communique: {form} answer cut at {settings.max_rows} rows", file=sys.stderr)
    return 0


def answer_in_process(
    publication: Publication, text: str, format_param: str
) -> tuple[str, SerializedAnswer]:
    """Evaluate `text` on the publication's store, in this process, with the server's checks."""
    settings = publication.settings
    info = check_query(settings, text, dataset_graphs=publication.graphs)
    offered = FORM_TO_FORMATS[info.form]
    chosen = choose_format(
        None,
        offered,
        default=offered[0],
        format_param=None if format_param == TABLE else format_param,
    )
    query = inline_services(info, service_policy(settings)) if info.services else info.text
    result = publication.store.query(query, base_iri=settings.base)
    graph_answer = info.form in GRAPH_FORMS
    answer = serialize_answer(
        result,
        results_format=SOLUTIONS_FORMATS[0] if graph_answer else chosen,
        graph_format=chosen if graph_answer else GRAPH_FORMATS[0],
        max_rows=settings.max_rows,
        prefixes=PREFIXES,
    )
    return info.form, answer


def _as_table(answer: SerializedAnswer) -> str:
    document = json.loads(answer.body)
    if answer.kind == "boolean":
        return "true" if document["boolean"] else "false"
    return solutions_table(document)


# --- validate, coverage, stats ----------------------------------------------------------------


def add_validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="One project folder, or RDF data files to check against --shapes (default: the "
        "--root project). Exit status: 0 conforms, 1 does not conform, 2 unreadable input.",
    )
    add_root_option(parser)
    parser.add_argument(
        "--shapes",
        nargs="+",
        action="extend",
        metavar="FILE",
        help="SHACL files for data files given as PATHs (default: the --root project's shapes "
        "and ontology).",
    )
    parser.add_argument("--format", choices=("text", "json", "turtle"), default="text")


def run_validate(args: argparse.Namespace) -> int:
    report = validation_report(args)
    rendered = {"text": report.to_text, "json": report.to_json, "turtle": report.to_turtle}
    sys.stdout.write(rendered[args.format]())
    return 0 if report.conforms else 1


def validation_report(args: argparse.Namespace) -> ValidationReport:
    """A project folder is validated by its layout; RDF files against --shapes or the shapes
    (and ontology) of the --root project."""
    paths = [Path(p) for p in args.paths]
    folders = [path for path in paths if path.is_dir()]
    if folders and len(paths) > 1:
        raise DataError("validate takes one project folder or RDF files, not both or several")
    if (folders or not paths) and args.shapes:
        raise DataError("--shapes applies to RDF data files given as PATHs, not to a project")
    if folders or not paths:
        return validate_layout(folders[0] if folders else project_root(args))
    if args.shapes:
        return validate_files(paths, [Path(p) for p in args.shapes])
    layout = Layout(project_root(args))
    ontology = [f.path for f in layout.data_files() if f.graph == str(ONTOLOGY_GRAPH)]
    shapes = [f.path for f in layout.shape_files()]
    return validate_files(paths, shapes, ontology=ontology)


def add_coverage_arguments(parser: argparse.ArgumentParser) -> None:
    add_root_option(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--explain", action="store_true", help="Print the boilerplate rule and exit."
    )


def run_coverage(args: argparse.Namespace) -> int:
    if args.explain:
        sys.stdout.write(BOILERPLATE_RULE)
        return 0
    coverages = measure_coverage(project_root(args))
    render = coverage_json if args.format == "json" else coverage_text
    sys.stdout.write(render(coverages))
    return 0 if all(coverage.complete for coverage in coverages) else 1


def add_stats_arguments(parser: argparse.ArgumentParser) -> None:
    add_root_option(parser)
    parser.add_argument(
        "--data",
        nargs="+",
        action="extend",
        metavar="FILE",
        help="RDF files to count instead of the project's data.",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run_stats(args: argparse.Namespace) -> int:
    if args.data:
        stats = file_stats([Path(p) for p in args.data])
    else:
        stats = layout_stats(project_root(args))
    sys.stdout.write(stats.to_json() if args.format == "json" else stats.to_text())
    return 0


def add_anchor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("slug", help="The source: graph/sources/<slug>.txt")
    parser.add_argument("exact", help="The exact words of the source that state the claim.")
    parser.add_argument(
        "--occurrence", type=int, metavar="N", help="Which occurrence, when the words recur."
    )
    add_root_option(parser)


def run_anchor(args: argparse.Namespace) -> int:
    source = Layout(project_root(args)).source(args.slug)
    anchor = find_anchor(source.read_text(), args.exact, args.occurrence)
    print(evidence_turtle(anchor, source.document))
    return 0


COMMANDS: tuple[Command, ...] = (
    Command("serve", "Validate the data and serve it over HTTP.", add_serve_arguments, run_serve),
    Command(
        "query",
        "Run one SPARQL query on the data, without a server.",
        add_query_arguments,
        run_query,
    ),
    Command(
        "validate", "Check the data against the SHACL shapes.", add_validate_arguments, run_validate
    ),
    Command(
        "coverage",
        "Show which sentences of each source no claim anchors.",
        add_coverage_arguments,
        run_coverage,
    ),
    Command(
        "stats",
        "Count triples per graph, instances per class, claims per status.",
        add_stats_arguments,
        run_stats,
    ),
    Command(
        "anchor",
        "Print the evidence anchor (Web Annotation selectors) of some words of a source.",
        add_anchor_arguments,
        run_anchor,
    ),
    Command(
        "reload",
        "Ask a running server to reload its data (SIGHUP).",
        add_reload_arguments,
        run_reload,
    ),
    Command(
        "enrich",
        "Fetch labels, descriptions and coordinates of linked entities into graph/enrichment/.",
        add_enrich_arguments,
        run_enrich,
    ),
    Command(
        "push",
        "Publish the validated dataset into another triplestore, graph by graph, and verify.",
        add_push_arguments,
        run_push,
    ),
    Command(
        "export",
        "Write an export of the data: every claim as a nanopublication (--nanopubs).",
        add_export_arguments,
        run_export,
    ),
)
"""Every subcommand; a new one is a row here and two small functions."""
