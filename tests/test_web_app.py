"""`create_app` in this process, with Flask's test client: state, blueprints, closing."""

import threading
import time
from collections.abc import Iterator

import pyoxigraph as ox
import pytest
from flask import Flask

from communique.publication import publish
from communique.settings import Settings
from communique.store import EmbeddedStore, RemoteStore, Store
from communique.web.app import create_app, store_opener
from communique.web.state import EXTENSION_KEY, AppState
from tests.conftest import EX


def wait_for_single_thread() -> None:
    """The query pool forks, and refuses to while other threads run (other tests may have
    left some finishing)."""
    deadline = time.monotonic() + 5
    while threading.active_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == 1, threading.enumerate()


@pytest.fixture
def app(dataset_files) -> Iterator[Flask]:
    wait_for_single_thread()
    publication = publish(Settings(data=(str(dataset_files[0]),), query_workers=1))
    app = create_app(publication=publication)
    yield app
    app.extensions[EXTENSION_KEY].close()


def test_state_holds_publication_pool_and_sizes(app):
    state: AppState = app.extensions[EXTENSION_KEY]
    assert state.settings is state.publication.settings
    assert state.pool.size == 1
    assert set(state.dataset_sizes.named_graphs) == {EX + "g1", EX + "g2"}
    assert state.dataset_sizes.default_graph == state.publication.triple_count


def test_queries_are_answered_through_the_pool(app):
    response = app.test_client().get(
        "/sparql", query_string={"query": f"ASK {{ <{EX}bob> ?p ?o }}"}
    )
    assert response.status_code == 200
    assert response.json == {"head": {}, "boolean": True}
    assert app.extensions[EXTENSION_KEY].pool.counters["queries"] >= 1


def test_after_close_queries_are_503(app):
    app.extensions[EXTENSION_KEY].close()
    response = app.test_client().get("/sparql", query_string={"query": "ASK {}"})
    assert response.status_code == 503
    assert response.json["status"] == 503


def test_unexpected_errors_are_a_generic_500(app, caplog):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert "secret" not in response.get_data(as_text=True)
    assert response.json["request_id"] == response.headers["X-Request-Id"]
    assert "secret internals" in caplog.text


def test_config_mapping_publishes_the_data(dataset_files):
    wait_for_single_thread()
    app = create_app({"data": [str(dataset_files[0])], "query_workers": 1, "max_rows": 3})
    try:
        state = app.extensions[EXTENSION_KEY]
        assert state.settings.max_rows == 3
        assert state.publication.triple_count > 0
        response = app.test_client().get("/sparql", query_string={"query": "SELECT * { ?s ?p ?o }"})
        assert len(response.json["results"]["bindings"]) == 3
        assert response.headers["Communique-Result-Truncated"] == "true"
    finally:
        state.close()


def test_each_query_worker_gets_its_own_store_handle():
    memory = EmbeddedStore(ox.Store())
    assert store_opener(memory)() is memory
    remote = RemoteStore("http://127.0.0.1:9/sparql", union_default_graph=False, timeout=3.0)
    opened = store_opener(remote)()
    assert opened is not remote
    assert (opened.endpoint, opened.union_default_graph, opened.timeout) == (
        "http://127.0.0.1:9/sparql",
        False,
        3.0,
    )


def test_an_unknown_store_kind_is_a_programming_error():
    class OtherStore(Store):
        union_default_graph = True

        def _evaluate(self, sparql, dataset, *, base_iri):
            return False

        def named_graphs(self):
            return []

        def close(self):
            pass

    with pytest.raises(TypeError):
        store_opener(OtherStore())
