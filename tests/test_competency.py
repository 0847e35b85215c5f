"""Competency questions: what a reader asks of the article, answered in SPARQL.

Each tests/competency/*.rq file states its question and its expected rows in its leading comment
(`# Expect (a | b):` then one `#   value | value` line per row). IRIs are written as prefixed
names, literals by their lexical form, an unbound value as nothing. Rows are compared as sets.
"""

from pathlib import Path

import pyoxigraph as ox
import pytest

from communique.dataset import bundled_quads
from communique.layout import Layout
from communique.namespaces import PREFIXES, sparql_prologue
from communique.settings import PROJECT_ROOT

QUESTIONS = sorted((Path(__file__).parent / "competency").glob("*.rq"))
LONGEST_NAMESPACE_FIRST = sorted(PREFIXES.items(), key=lambda item: -len(item[1]))


def compact(term) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        for prefix, namespace in LONGEST_NAMESPACE_FIRST:
            if term.value.startswith(namespace):
                return f"{prefix}:{term.value[len(namespace) :]}"
        return term.value
    return term.value


def expected_rows(text: str) -> tuple[list[str], set[tuple[str, ...]]]:
    lines = [line[1:].strip() for line in text.splitlines() if line.startswith("#")]
    header = next(line for line in lines if line.startswith("Expect"))
    columns = [c.strip() for c in header[header.index("(") + 1 : header.index(")")].split("|")]
    rows = lines[lines.index(header) + 1 :]
    return columns, {tuple(v.strip() for v in row.split("|")) for row in rows if row}


def question(path: Path) -> str:
    return next(line for line in path.read_text().splitlines() if line.startswith("# Question:"))


@pytest.fixture(scope="module")
def bundled_store() -> ox.Store:
    layout = Layout(PROJECT_ROOT)
    store = ox.Store()
    store.extend(bundled_quads(layout, layout.data_files()))
    return store


def test_there_are_at_least_twenty_questions():
    assert len(QUESTIONS) >= 20


@pytest.mark.parametrize("path", QUESTIONS, ids=lambda p: p.stem)
def test_competency_question(path, bundled_store):
    text = path.read_text()
    columns, expected = expected_rows(text)
    solutions = bundled_store.query(sparql_prologue() + text, use_default_graph_as_union=True)
    assert [v.value for v in solutions.variables] == columns, question(path)
    got = {tuple(compact(solution[c]) for c in columns) for solution in solutions}
    assert got == expected, question(path)
