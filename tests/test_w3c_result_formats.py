"""The W3C SPARQL 1.1 result format tests (JSON, CSV, TSV), run against a real server.

Each entry of ``tests/w3c/sparql11/{json-res,csv-tsv-res}/manifest.ttl`` names a query, its data
and the expected results file. The query is sent to a server loaded with that data, asking for
the expected file's format, and the answer is compared as the tests intend: JSON and TSV term
by term, CSV cell by cell, blank node labels up to renaming. Columns are matched by name
(``SELECT *`` leaves their order to the engine); row order counts, as every query has ORDER BY.
Two tests need one allowance, listed in `ENGINE_NORMALISES`: Oxigraph keeps numbers by value.
"""

import csv
import io
import json
from decimal import Decimal

import pyoxigraph as ox
import pytest
import requests

from tests.w3c_manifest import ManifestEntry, read_manifest

SUFFIX_TO_MEDIA_TYPE = {
    ".srj": "application/sparql-results+json",
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
}
XSD = "http://www.w3.org/2001/XMLSchema#"
NUMERIC_DATATYPES = {XSD + name for name in ("integer", "decimal", "double", "negativeInteger")}

ENGINE_NORMALISES = {
    "csv03": "Oxigraph stores 1.0E6 (xsd:double) by value and writes it back as 1000000",
    "tsv03": "Oxigraph stores 1.0E6 by value, and -3 as xsd:integer (not xsd:negativeInteger)",
}
"""Tests whose data the engine keeps by value, not by lexical form or derived integer type:
their answers are compared with numbers by value and integer types folded together."""


TESTS = read_manifest("json-res") + read_manifest("csv-tsv-res")


def canonical_rows(body: bytes, media_type: str, *, by_value: bool = False) -> list[tuple]:
    """The rows of a results document, each as sorted (variable, value) pairs.

    ``SELECT *`` leaves the column order to the engine, so columns are matched by name.
    `by_value` compares numbers by value and folds derived integer types into xsd:integer.
    """
    if media_type == "text/csv":
        header, *rows = csv.reader(io.StringIO(body.decode("utf-8"), newline=""))
        cells = [[_csv_number(cell) if by_value else cell for cell in row] for row in rows]
        return _by_name(header, _rename_blank_nodes(cells))
    parsed = ox.parse_query_results(body, format=ox.QueryResultsFormat.from_media_type(media_type))
    if isinstance(parsed, ox.QueryBoolean):
        return [(("boolean", bool(parsed)),)]
    names = [variable.value for variable in parsed.variables]
    rows = [[_term(solution[name], by_value) for name in names] for solution in parsed]
    return _by_name(names, _rename_blank_nodes(rows))


def _csv_number(cell: str) -> object:
    try:
        return Decimal(cell)
    except ArithmeticError:
        return cell


def _term(term, by_value: bool) -> object:
    if term is None:
        return ""
    if by_value and isinstance(term, ox.Literal) and term.datatype.value in NUMERIC_DATATYPES:
        datatype = term.datatype.value
        folded = XSD + "integer" if datatype.lower().endswith("integer") else datatype
        return (folded, Decimal(term.value))
    return str(term)


def _rename_blank_nodes(rows: list[list]) -> list[list]:
    """Blank node labels renamed in order of appearance, so two labellings compare equal."""
    names: dict[object, str] = {}
    return [
        [names.setdefault(cell, f"_:b{len(names)}") if _is_blank(cell) else cell for cell in row]
        for row in rows
    ]


def _is_blank(cell: object) -> bool:
    return isinstance(cell, str) and cell.startswith("_:")


def _by_name(names: list[str], rows: list[list]) -> list[tuple]:
    return [tuple(sorted(zip(names, row, strict=True))) for row in rows]


@pytest.mark.parametrize("test", TESTS, ids=lambda test: test.name)
def test_result_format(servers, record_property, test: ManifestEntry):
    record_property("w3c_suite", test.suite)
    server = servers("--data", *map(str, test.data_paths))
    media_type = SUFFIX_TO_MEDIA_TYPE[test.result.suffix]
    response = requests.post(
        server.sparql,
        data=test.query.read_bytes(),
        headers={"Content-Type": "application/sparql-query", "Accept": media_type},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].split(";")[0] == media_type
    by_value = test.name in ENGINE_NORMALISES
    if by_value:
        record_property("w3c_outcome", "passed by value")
    expected = canonical_rows(test.result.read_bytes(), media_type, by_value=by_value)
    assert canonical_rows(response.content, media_type, by_value=by_value) == expected


def test_json_results_have_the_required_members(servers):
    """SPARQL 1.1 JSON results: ``head.vars`` always, ``results.bindings`` for SELECT."""
    test = next(t for t in TESTS if t.name == "jsonres01")
    server = servers("--data", *map(str, test.data_paths))
    response = requests.get(server.sparql, params={"query": test.query.read_text()}, timeout=10)
    document = json.loads(response.content)
    assert sorted(document["head"]["vars"]) == ["o", "p", "s"]
    assert len(document["results"]["bindings"]) == 6
