"""`communique serve`: gunicorn options, the ready line, a clean stop."""

import os
import subprocess
import time

import pyoxigraph as ox
import requests
from gunicorn.workers.gthread import ThreadWorker
from werkzeug.utils import import_string

from communique.serve import end_web_worker, gunicorn_options
from communique.settings import MAX_AUTOMATIC_WORKERS, Settings
from tests.conftest import EX, communique_command, start_server
from tests.processes import alive, descendants_of


class FakeState:
    settings = Settings(workers=3, threads=5, timeout=2.5)
    publication = None


def test_gunicorn_runs_preloaded_head_first_gthread_workers_from_the_settings():
    options = gunicorn_options(FakeState(), "::1", 0, print)
    assert options["bind"] == "[::1]:0"
    assert options["workers"] == 3
    assert options["threads"] == 5
    worker = import_string(options["worker_class"])
    assert issubclass(worker, ThreadWorker) and worker is not ThreadWorker
    assert options["preload_app"] is True
    assert options["control_socket_disable"] is True
    assert options["worker_exit"] is end_web_worker
    assert isinstance(options["graceful_timeout"], int) and options["graceful_timeout"] >= 3


def test_gunicorn_runs_one_web_worker_per_usable_core_by_default():
    class DefaultState(FakeState):
        settings = Settings()

    options = gunicorn_options(DefaultState(), "127.0.0.1", 0, print)
    assert options["workers"] == min(len(os.sched_getaffinity(0)), MAX_AUTOMATIC_WORKERS)


def test_ready_line_then_sigterm_stops_every_process(dataset_files, tmp_path):
    server = start_server(
        "--data", str(dataset_files[0]), "--workers", "2", "--query-workers", "2", workdir=tmp_path
    )
    try:
        triples = len(list(ox.parse(path=dataset_files[0], format=ox.RdfFormat.TRIG)))
        assert server.output[0].startswith(f"Communiqué serving {triples} triples (version ")
        assert server.output[0].endswith(f"at {server.url}")
        assert requests.get(server.sparql, params={"query": "ASK {}"}, timeout=10).ok
        expected = 2 + 1 + 2  # web workers, query supervisor, query workers
        deadline = time.monotonic() + 10
        while len(processes := descendants_of(server.process.pid)) < expected:
            assert time.monotonic() < deadline, f"only {len(processes)} processes started"
            time.sleep(0.05)
    finally:
        assert server.stop() == 0
    assert not [pid for pid in processes if alive(pid)]


def test_unpublishable_data_is_reported_without_a_traceback(tmp_path):
    broken = tmp_path / "broken.ttl"
    broken.write_text("<a> <b> .\n")
    done = subprocess.run(
        [*communique_command(), "serve", "--port", "0", "--data", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert str(broken) in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_serves_from_a_remote_store_and_from_an_on_disk_store(server, dataset_files, tmp_path):
    """Query workers open their own handle: a new RemoteStore, or the store directory."""
    query = f"PREFIX ex: <{EX}> SELECT ?name WHERE {{ ?s ex:name ?name }}"
    remote = start_server("--store", server.sparql, "--allow-private-service", workdir=tmp_path)
    on_disk = start_server(
        "--data", str(dataset_files[0]), "--store-dir", str(tmp_path / "store"), workdir=tmp_path
    )
    try:
        for served in (remote, on_disk):
            response = requests.get(served.sparql, params={"query": query}, timeout=10)
            assert response.status_code == 200, served.log()
            names = {row["name"]["value"] for row in response.json()["results"]["bindings"]}
            assert {"Bob", "Carol"} <= names
    finally:
        remote.terminate()
        started = time.monotonic()
        assert on_disk.stop() == 0
        stopped_after = time.monotonic() - started
        assert stopped_after < 5, (
            f"web workers must not hang on the store at exit ({stopped_after:.1f} s):\n"
            + on_disk.log()
        )
        assert remote.stop() == 0
