"""SHACL validation of data we did not ship runs in a child process: hostile shapes cannot hang
or crash ``communique serve``, and the error says what happened."""

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from communique.errors import DataError, ShapesViolation
from communique.isolation import ChildLimits, IsolatedCall
from tests.conftest import communique_command

VALIDATION_TIMEOUT = 3
SH = "@prefix sh: <http://www.w3.org/ns/shacl#> .\n"
TARGET = "<http://example.org/S> a sh:NodeShape ; sh:targetNode <http://example.org/a> ;\n"


def shapes_with_query(query: str) -> str:
    return SH + TARGET + f'    sh:sparql [ sh:select """{query}""" ] .\n'


HOSTILE_SHAPES = {
    "a sh:pattern that backtracks": (
        SH
        + TARGET
        + '    sh:property [ sh:path <http://example.org/name> ; sh:pattern "^(a+)+$" ] .\n',
        "did not finish within its time limit of 3 s",
    ),
    "a SHACL-SPARQL cartesian product": (
        shapes_with_query(
            "SELECT $this WHERE { $this ?p ?o . ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . "
            "?m ?n ?q FILTER(?c != ?f) }"
        ),
        "did not finish within its time limit of 3 s",
    ),
    "a SHACL-SPARQL query nested 5,000 deep (crashes the engine)": (
        shapes_with_query("SELECT $this WHERE " + "{" * 5000 + " $this ?p ?o " + "}" * 5000),
        "its process died (signal SIGSEGV)",
    ),
}


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("isolation") / "data.ttl"
    lines = [f'<http://example.org/a> <http://example.org/name> "{"a" * 40}!" .']
    lines += [f"<http://example.org/n{i}> <http://example.org/p> {i} ." for i in range(60)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("name", list(HOSTILE_SHAPES))
def test_hostile_shapes_stop_the_start_with_a_clear_error(data_file, tmp_path, name):
    shapes, message = HOSTILE_SHAPES[name]
    shapes_file = tmp_path / "shapes.ttl"
    shapes_file.write_text(shapes)
    started = time.monotonic()
    options = ["--shapes", str(shapes_file), "--validation-timeout", str(VALIDATION_TIMEOUT)]
    done = subprocess.run(
        [*communique_command(), "serve", "--port", "0", "--data", str(data_file), *options],
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "nothing was published" in done.stderr or "died" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert elapsed < VALIDATION_TIMEOUT + 10


# --- IsolatedCall itself ----------------------------------------------------------------------

LIMITS = ChildLimits(timeout=2, memory_limit=256 << 20)


def returns_a_value() -> dict:
    return {"answer": 42}


def refuses() -> None:
    raise ShapesViolation("the data does not conform")


def spins() -> None:
    while True:
        pass


def allocates_too_much() -> bytearray:
    return bytearray(1 << 30)


def test_the_result_comes_back():
    with IsolatedCall(returns_a_value, limits=LIMITS, description="work") as call:
        assert call.result() == {"answer": 42}


def test_a_communique_error_comes_back_with_its_class_and_message():
    with (
        IsolatedCall(refuses, limits=LIMITS, description="work") as call,
        pytest.raises(ShapesViolation, match="does not conform"),
    ):
        call.result()


def test_a_child_past_its_deadline_is_killed():
    started = time.monotonic()
    with (
        IsolatedCall(spins, limits=LIMITS, description="work") as call,
        pytest.raises(DataError, match="within its time limit of 2 s"),
    ):
        call.result()
    assert time.monotonic() - started < LIMITS.timeout + 1


def test_a_child_over_its_memory_limit_fails_cleanly():
    with (
        IsolatedCall(allocates_too_much, limits=LIMITS, description="work") as call,
        pytest.raises(DataError, match="more memory than its limit of 256 MiB"),
    ):
        call.result()


def test_the_child_cannot_open_network_connections():
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    try:
        with (
            IsolatedCall(urllib.request.urlopen, url, limits=LIMITS, description="work") as call,
            pytest.raises(DataError, match="may not use the network"),
        ):
            call.result()
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()


def test_leaving_the_block_early_kills_the_child():
    with IsolatedCall(spins, limits=LIMITS, description="work") as call:
        pid = call._pid
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
