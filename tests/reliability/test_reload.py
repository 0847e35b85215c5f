"""Reload (SIGHUP, ``communique reload``): a valid new version is swapped in, an invalid one is
refused while the last good one is served, and a kill -9 in the middle of a reload leaves a
store from which a restart serves the last good version."""

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import ServerProcess, communique_command, start_server
from tests.processes import alive, descendants_of
from tests.reliability.conftest import parse_prometheus, wait_until

QUERY = "SELECT ?name WHERE { <http://example.org/a> <http://example.org/name> ?name }"
SHAPES = """\
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<http://example.org/S> a sh:NodeShape ; sh:targetNode <http://example.org/a> ;
    sh:property [ sh:path <http://example.org/name> ; sh:minCount 1 ; sh:datatype xsd:string ] .
"""
BACKTRACKING_SHAPES = """\
@prefix sh: <http://www.w3.org/ns/shacl#> .
<http://example.org/S> a sh:NodeShape ; sh:targetNode <http://example.org/a> ;
    sh:property [ sh:path <http://example.org/name> ; sh:pattern "^(a+)+$" ] .
"""
RELOAD_SETTLE_SECONDS = 30
SERVING_PROCESSES = 2 + 1 + 2
"""Web workers, the query worker supervisor and its query workers (the defaults)."""


def data_naming(name: str, extra: int = 0) -> str:
    """``ex:a ex:name <name>`` (a Turtle term), plus `extra` filler triples."""
    lines = [f"<http://example.org/a> <http://example.org/name> {name} ."]
    lines += [f"<http://example.org/n{i}> <http://example.org/p> {i} ." for i in range(extra)]
    return "\n".join(lines) + "\n"


def names(server: ServerProcess) -> list[str]:
    response = requests.get(server.sparql, params={"query": QUERY}, timeout=10)
    assert response.status_code == 200, response.text
    return [row["name"]["value"] for row in response.json()["results"]["bindings"]]


def readiness(server: ServerProcess) -> tuple[int, dict]:
    response = requests.get(server.url + "readyz", timeout=10)
    return response.status_code, response.json()


def reload_with_the_cli(pid_file: Path) -> None:
    done = subprocess.run(
        [*communique_command(), "reload", "--pid-file", str(pid_file)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "asked process" in done.stderr


class QueryLoop:
    """A thread querying the server without pause, each time on a new connection."""

    def __init__(self, server: ServerProcess):
        self.server = server
        self.failures: list[str] = []
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def __enter__(self) -> "QueryLoop":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                response = requests.get(
                    self.server.sparql,
                    params={"query": QUERY},
                    headers={"Connection": "close"},
                    timeout=30,
                )
                if response.status_code != 200:
                    self.failures.append(f"{response.status_code}: {response.text[:200]}")
            except requests.RequestException as error:
                self.failures.append(repr(error))
            self.count += 1


@pytest.fixture
def project(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "data": tmp_path / "data.ttl",
        "shapes": tmp_path / "shapes.ttl",
        "pid": tmp_path / "server.pid",
        "store": tmp_path / "store",
    }
    paths["data"].write_text(data_naming('"one"'))
    paths["shapes"].write_text(SHAPES)
    return paths


def server_options(project: dict[str, Path]) -> list[str]:
    return [
        *("--data", str(project["data"]), "--shapes", str(project["shapes"])),
        *("--pid-file", str(project["pid"]), "--validation-timeout", "3"),
    ]


def test_reload_swaps_in_a_valid_version_and_refuses_invalid_ones(project, tmp_path):
    server = start_server(*server_options(project), workdir=tmp_path)
    try:
        assert names(server) == ["one"]
        version_one = readiness(server)[1]["version"]
        with QueryLoop(server) as loop:
            project["data"].write_text(data_naming('"two"'))
            reload_with_the_cli(project["pid"])
            wait_until(lambda: names(server) == ["two"], RELOAD_SETTLE_SECONDS, "version two")
            wait_until(lambda: readiness(server)[1]["version"] != version_one, 10, "readyz")
            version_two = readiness(server)[1]["version"]

            project["data"].write_text(data_naming("3"))
            reload_with_the_cli(project["pid"])
            wait_until(lambda: "reload failed" in server.log(), RELOAD_SETTLE_SECONDS, "a failure")

            project["shapes"].write_text(BACKTRACKING_SHAPES)
            project["data"].write_text(data_naming('"' + "a" * 40 + '!"'))
            reload_with_the_cli(project["pid"])
            wait_until(
                lambda: server.log().count("reload failed") == 2,
                RELOAD_SETTLE_SECONDS,
                "the second failure",
            )
            wait_until(
                lambda: (
                    "did not finish within its time limit of 3 s"
                    in (readiness(server)[1]["reload_failure"] or "")
                ),
                RELOAD_SETTLE_SECONDS,
                "readyz to report the last failure",
            )
            assert names(server) == ["two"]
        assert loop.failures == [], loop.failures
        assert loop.count > 20

        status, ready = readiness(server)
        assert status == 200
        assert ready["status"] == "degraded"
        assert ready["version"] == version_two
        log = server.log()
        assert "does not conform" in log.split("reload failed")[1]
        metrics = parse_prometheus(requests.get(server.url + "metrics", timeout=10).text)
        assert metrics[("communique_reloads_total", (("outcome", "succeeded"),))] == 1
        assert metrics[("communique_reloads_total", (("outcome", "failed"),))] == 2
        wait_until(
            lambda: len(descendants_of(server.process.pid)) == SERVING_PROCESSES,
            RELOAD_SETTLE_SECONDS,
            "the old query workers to be stopped",
        )
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize(
    ("new_name", "served_after_restart"),
    [("3", "one"), ('"two"', "two")],
    ids=["invalid new version", "valid new version"],
)
def test_a_kill_during_a_reload_leaves_a_good_version_for_the_restart(
    project, tmp_path, new_name, served_after_restart
):
    options = [*server_options(project), "--store-dir", str(project["store"])]
    server = start_server(*options, workdir=tmp_path)
    versions = project["store"] / "versions"
    try:
        assert names(server) == ["one"]
        first_version = readiness(server)[1]["version"]
        tree = descendants_of(server.process.pid) | {server.process.pid}
        project["data"].write_text(data_naming(new_name, extra=30000))
        os.kill(server.process.pid, signal.SIGHUP)
        deadline = time.monotonic() + RELOAD_SETTLE_SECONDS
        while not list(versions.glob("*.partial-*")):
            assert time.monotonic() < deadline, "the reload never started building"
            time.sleep(0.002)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        wait_until(lambda: not any(alive(pid) for pid in tree), 15, "every process to end")
    finally:
        server.stop()

    restarted = start_server(*options, workdir=tmp_path)
    try:
        assert names(restarted) == [served_after_restart]
        status, ready = readiness(restarted)
        assert status == 200
        if served_after_restart == "one":
            assert ready["version"] == first_version
            assert "does not conform" in ready["fallback"]
        else:
            assert ready["version"] != first_version and ready["fallback"] is None
        assert not list(versions.glob("*.partial-*"))
        current = os.readlink(project["store"] / "current")
        assert Path(current).name == ready["version"]
    finally:
        assert restarted.stop() == 0


def test_reload_without_a_running_server_says_why(tmp_path):
    stale = tmp_path / "stale.pid"
    stale.write_text("999999999\n")
    not_ours = tmp_path / "not-ours.pid"
    bystander = subprocess.Popen(["sleep", "30"])
    not_ours.write_text(f"{bystander.pid}\n")
    try:
        for pid_file in (tmp_path / "missing.pid", stale, not_ours):
            done = subprocess.run(
                [*communique_command(), "reload", "--pid-file", str(pid_file)],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert done.returncode == 1
            assert str(pid_file) in done.stderr
            assert "Traceback" not in done.stderr
        assert bystander.poll() is None, "a process that is not ours gets no signal"
    finally:
        bystander.kill()
        bystander.wait()
