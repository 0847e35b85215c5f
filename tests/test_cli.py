"""`communique query` in-process, the generated options, and error reporting."""

import dataclasses
import io
import json
import sys

import pytest
from rdflib import Graph

from communique.cli import QUERY_SETTING_NAMES, build_parser, main
from communique.errors import DataError
from communique.publication import publish
from communique.settings import Settings
from tests.conftest import EX

NAMES = f"PREFIX ex: <{EX}> SELECT ?person ?name WHERE {{ ?person ex:name ?name }} ORDER BY ?name"


@pytest.fixture
def small_data(dataset_files) -> list[str]:
    return ["--data", str(dataset_files[0])]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_query_prints_an_aligned_table(capsys, small_data):
    status, out, err = run(capsys, "query", NAMES, *small_data)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["person", "name"]
    assert set(lines[1]) <= {"-", " "}
    assert any(
        line.startswith("<http://example.org/alice>") and line.endswith("Alice") for line in lines
    )
    assert '"Bob"@en' in out
    assert lines[-1] == "(4 rows)"


def test_query_ask_prints_the_answer(capsys, small_data):
    status, out, _ = run(capsys, "query", f"ASK {{ <{EX}bob> ?p ?o }}", *small_data)
    assert (status, out) == (0, "true\n")


@pytest.mark.parametrize("format_name", ["json", "application/sparql-results+json"])
def test_query_writes_json_results(capsys, small_data, format_name):
    status, out, _ = run(capsys, "query", NAMES, "--format", format_name, *small_data)
    assert status == 0
    assert len(json.loads(out)["results"]["bindings"]) == 4


def test_construct_is_written_as_turtle(capsys, small_data):
    query = f"CONSTRUCT {{ ?s <{EX}called> ?n }} WHERE {{ ?s <{EX}name> ?n }}"
    status, out, _ = run(capsys, "query", query, *small_data)
    assert status == 0
    assert len(Graph().parse(data=out, format="turtle")) == 4


def test_query_reads_standard_input(capsys, small_data, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(NAMES))
    status, out, _ = run(capsys, "query", "-", "--format", "csv", *small_data)
    assert status == 0
    assert out.splitlines()[0] == "person,name"


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (["query", "SELECT * WHERE {"], 1, "line 1"),
        (["query", "ASK {}", "--format", "turtle"], 1, "'turtle' is not available"),
        (["query", "INSERT DATA { <a:b> <a:c> <a:d> }"], 1, "update"),
    ],
)
def test_refusals_exit_1_with_one_line(capsys, small_data, argv, status, message):
    code, out, err = run(capsys, *argv, *small_data)
    assert code == status
    assert err.startswith("communique: ")
    assert message in err.lower()
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert out == ""


def test_unreadable_data_exits_2(capsys, tmp_path):
    broken = tmp_path / "broken.ttl"
    broken.write_text("<a> <b> .\n")
    code, _, err = run(capsys, "query", "ASK {}", "--data", str(broken))
    assert code == 2
    assert str(broken) in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("command", "names"),
    [
        ("serve", [spec.name for spec in dataclasses.fields(Settings)]),
        ("query", list(QUERY_SETTING_NAMES)),
    ],
)
def test_settings_options_are_generated_with_their_help(capsys, command, names):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([command, "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for spec in dataclasses.fields(Settings):
        option = "--" + spec.name.replace("_", "-")
        if spec.name in names:
            assert option in text
            assert " ".join(spec.metadata["help"].split()) in text
        else:
            assert option + " " not in text


def test_options_are_parsed_into_settings_values():
    args = build_parser().parse_args(
        [
            "serve",
            "--data",
            "a.ttl",
            "b.trig",
            "--data",
            "c.nq",
            "--default-graph",
            "data",
            "--timeout",
            "2.5",
            "--max-rows",
            "7",
            "--allow-private-service",
        ]
    )
    from communique.cli import settings_values

    assert settings_values(args) == {
        "data": ["a.ttl", "b.trig", "c.nq"],
        "default_graph": "data",
        "timeout": 2.5,
        "max_rows": 7,
        "allow_private_service": True,
    }
    assert Settings.from_mapping(settings_values(args)).data == ("a.ttl", "b.trig", "c.nq")


def test_choices_come_from_the_settings(capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["serve", "--default-graph", "everything"])
    assert exited.value.code == 2
    assert "union" in capsys.readouterr().err


def test_a_missing_data_file_exits_2_naming_it(capsys, tmp_path):
    missing = tmp_path / "missing.ttl"
    code, _, err = run(capsys, "query", "ASK {}", "--data", str(missing))
    assert code == 2
    assert err == f"communique: {missing}: cannot read: No such file or directory\n"


def test_a_store_dir_that_cannot_be_created_is_a_data_error(small_data):
    settings = Settings.from_mapping({"data": [small_data[1]], "store_dir": "/proc/communique"})
    with pytest.raises(DataError, match="--store-dir /proc/communique: cannot create it"):
        publish(settings)


@pytest.mark.parametrize("port", ["65536", "-1", "http", "８０"])
def test_a_port_out_of_range_is_refused_by_the_parser(capsys, port):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["serve", "--port", port])
    assert exited.value.code == 2
    assert f"a port is a number from 0 to 65535, not '{port}'" in capsys.readouterr().err
