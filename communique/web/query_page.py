"""The SPARQL query page: what ``/sparql`` shows a browser that sends no query.

A form (a ``<textarea>`` editor, a results format, a Run button) that works without script: it
POSTs the query to the endpoint and the browser shows the answer in the chosen format. With
``static/query.js`` the Run button fetches the answer as JSON (or N-Triples for graphs) and shows
a table with our IRIs linked to their pages, the time taken, the row count, the truncation notice
and download links. ``?example=<name>`` opens the page with that example in the editor.

Example queries are data: ``example_queries/*.rq``, each starting with ``# Title: …`` and
optionally more comment lines describing it; the file name (without ``.rq``) is the example's
name. Every example is run against the real endpoint by the tests.
"""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flask import render_template, request

from communique.errors import DataError
from communique.namespaces import DEFAULT_BASE, PREFIXES, rebase
from communique.negotiation import GRAPH_FORMATS, SOLUTIONS_FORMATS
from communique.urls import DATA_SEGMENTS, PAGE_PREFIX, VOCABULARY_SEGMENTS
from communique.web.page_support import url_builder
from communique.web.state import current_state

EXAMPLES_FOLDER = Path(__file__).parent / "example_queries"
TITLE_MARK = "# Title:"

FORMAT_TO_TITLE = {
    "json": "JSON",
    "xml": "XML",
    "csv": "CSV",
    "tsv": "TSV",
    "turtle": "Turtle",
    "ntriples": "N-Triples",
    "nquads": "N-Quads",
    "trig": "TriG",
    "jsonld": "JSON-LD",
    "rdfxml": "RDF/XML",
}
"""Format name (as in `communique.negotiation`) -> how the page names it."""


@dataclass(frozen=True)
class ExampleQuery:
    name: str
    title: str
    description: str
    text: str


@cache
def example_queries() -> tuple[ExampleQuery, ...]:
    """The example queries, in file name order.

    :raises DataError: an example has no ``# Title:`` first line.
    """
    return tuple(_read_example(path) for path in sorted(EXAMPLES_FOLDER.glob("*.rq")))


def _read_example(path: Path) -> ExampleQuery:
    text = path.read_text(encoding="utf-8")
    first, *rest = text.splitlines()
    if not first.startswith(TITLE_MARK):
        raise DataError(f"{path}: an example query starts with '{TITLE_MARK} …'")
    comments = []
    for line in rest:
        if not line.startswith("#"):
            break
        comments.append(line.lstrip("#").strip())
    return ExampleQuery(path.stem, first[len(TITLE_MARK) :].strip(), " ".join(comments), text)


def render_query_page(endpoint: str) -> str:
    """The query page for the endpoint at `endpoint` (an absolute URL)."""
    examples = example_queries()
    chosen = next((e for e in examples if e.name == request.args.get("example")), examples[0])
    settings = current_state().settings
    return render_template(
        "query.html",
        endpoint=endpoint,
        examples=examples,
        chosen=chosen,
        formats=[(name, FORMAT_TO_TITLE[name]) for name in (*SOLUTIONS_FORMATS, *GRAPH_FORMATS)],
        solution_formats=" ".join(SOLUTIONS_FORMATS),
        graph_formats=" ".join(GRAPH_FORMATS),
        local_namespaces=json.dumps(local_page_prefixes(settings.base)),
        prefixes=json.dumps({name: rebase(iri, settings.base) for name, iri in PREFIXES.items()}),
        settings=settings,
    )


def local_page_prefixes(base: str) -> dict[str, str]:
    """Our namespaces -> the URL prefix of their pages here (the convention of `urls`)."""
    root = url_builder().root
    namespaces = {base + segment + "/": segment for segment in DATA_SEGMENTS}
    namespaces |= {DEFAULT_BASE + segment + "/": segment for segment in VOCABULARY_SEGMENTS}
    return {
        namespace: f"{root}{PAGE_PREFIX}{segment}/" for namespace, segment in namespaces.items()
    }
