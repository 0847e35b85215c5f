"""The dataset dumps: gzip files of the whole store, served with validators, never re-gzipped."""

import gzip
import hashlib
import io
import threading

import pyoxigraph as ox
import pytest
import requests
from rdflib import Dataset, Graph

from communique.dumps import DUMP_FORMATS, DumpCache, write_dump
from communique.namespaces import PREFIXES
from communique.publication import publish
from communique.settings import Settings

DUMP_NAMES = [dump.filename for dump in DUMP_FORMATS]


@pytest.fixture(scope="module")
def site(servers):
    return servers()


@pytest.fixture(scope="module")
def bundled_store():
    """The bundled graph, published in this process (the same data the server serves)."""
    return publish(Settings.from_mapping({})).store


def canonical(quads) -> ox.Dataset:
    """`quads` as a dataset whose blank nodes are renamed canonically (RDFC): two datasets are
    isomorphic when their canonical forms are equal."""
    dataset = ox.Dataset(quads)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return dataset


def download(site, name: str, **headers) -> requests.Response:
    return requests.get(site.url + "dumps/" + name, headers=headers, timeout=60)


def test_quad_dumps_are_isomorphic_to_the_store(site, bundled_store):
    expected = canonical(bundled_store.oxigraph.quads_for_pattern(None, None, None))
    for name, rdf_format in (
        ("dataset.trig.gz", ox.RdfFormat.TRIG),
        ("dataset.nq.gz", ox.RdfFormat.N_QUADS),
    ):
        response = download(site, name)
        assert response.status_code == 200
        assert canonical(ox.parse(gzip.decompress(response.content), rdf_format)) == expected, name


def test_turtle_dump_is_isomorphic_to_the_union_of_all_graphs(site, bundled_store):
    union = (
        ox.Quad(quad.subject, quad.predicate, quad.object)
        for quad in bundled_store.oxigraph.quads_for_pattern(None, None, None)
    )
    response = download(site, "dataset.ttl.gz")
    dumped = ox.parse(gzip.decompress(response.content), ox.RdfFormat.TURTLE)
    assert canonical(dumped) == canonical(union)


@pytest.mark.parametrize(
    ("name", "rdflib_format"),
    [("dataset.trig.gz", "trig"), ("dataset.nq.gz", "nquads"), ("dataset.ttl.gz", "turtle")],
)
def test_dumps_parse_with_another_parser(site, bundled_store, name, rdflib_format):
    """rdflib reads every dump and finds as many statements as the store holds."""
    text = gzip.decompress(download(site, name).content)
    if rdflib_format == "turtle":
        parsed = Graph().parse(data=text, format="turtle")
        expected = {q.triple for q in bundled_store.oxigraph.quads_for_pattern(None, None, None)}
    else:
        parsed = Dataset().parse(data=text, format=rdflib_format)
        expected = bundled_store.oxigraph
    assert len(parsed) == len(expected)


@pytest.mark.parametrize("name", DUMP_NAMES)
def test_dumps_are_gzip_downloads(site, name):
    response = download(site, name, **{"Accept-Encoding": "gzip, deflate"})
    assert response.headers["Content-Type"] == "application/gzip"
    assert "Content-Encoding" not in response.headers
    assert response.headers["Content-Disposition"] == f"attachment; filename=communique-{name}"
    raw = response.content
    assert raw[:2] == b"\x1f\x8b"
    assert int(response.headers["Content-Length"]) == len(raw)
    gzip.decompress(raw).decode("utf-8")


@pytest.mark.parametrize("name", DUMP_NAMES)
def test_validators_and_304(site, name):
    response = download(site, name)
    etag = response.headers["ETag"]
    assert not etag.startswith("W/")
    assert etag.strip('"') == hashlib.sha256(response.content).hexdigest()[:32]
    assert response.headers["Last-Modified"]
    assert "public" in response.headers["Cache-Control"]
    assert download(site, name, **{"If-None-Match": etag}).status_code == 304
    modified = response.headers["Last-Modified"]
    assert download(site, name, **{"If-Modified-Since": modified}).status_code == 304
    assert download(site, name, **{"If-None-Match": '"other"'}).status_code == 200


def test_byte_ranges(site):
    whole = download(site, "dataset.nq.gz").content
    part = download(site, "dataset.nq.gz", Range="bytes=10-19")
    assert part.status_code == 206
    assert part.content == whole[10:20]


def test_every_process_serves_the_same_bytes(site):
    """Several web workers share the dump directory: the first complete file wins."""
    etags = {download(site, "dataset.trig.gz").headers["ETag"] for _ in range(8)}
    assert len(etags) == 1


def test_head_has_the_headers_and_no_body(site):
    response = requests.head(site.url + "dumps/dataset.ttl.gz", timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/gzip"
    assert response.content == b""


@pytest.mark.parametrize("name", ["dataset.rdf.gz", "other.trig.gz", "..%2Fpasswd", "dataset.trig"])
def test_unknown_dumps_are_404(site, name):
    response = download(site, name, Accept="application/json")
    assert response.status_code == 404
    assert response.json()["status"] == 404


# --- the cache, in process -----------------------------------------------------------------------


def test_cache_builds_each_dump_once_and_drops_old_versions(tmp_path, bundled_store):
    cache = DumpCache(tmp_path)
    trig = DUMP_FORMATS[0]
    first = cache.dump("v1", bundled_store, trig, PREFIXES)
    again = cache.dump("v1", bundled_store, trig, PREFIXES)
    assert again == first
    assert first.size == first.path.stat().st_size
    assert (tmp_path / "v1").exists()
    cache.dump("v2", bundled_store, trig, PREFIXES)
    assert not (tmp_path / "v1").exists()
    assert not list(tmp_path.glob("*/.partial-*"))


def test_concurrent_builds_agree(tmp_path, bundled_store):
    cache = DumpCache(tmp_path)
    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(cache.dump("v", bundled_store, DUMP_FORMATS[1], PREFIXES))
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({result.sha256 for result in results}) == 1


def test_a_second_cache_on_the_same_directory_reuses_the_file(tmp_path, bundled_store):
    first = DumpCache(tmp_path).dump("v", bundled_store, DUMP_FORMATS[2], PREFIXES)
    second = DumpCache(tmp_path).dump("v", bundled_store, DUMP_FORMATS[2], PREFIXES)
    assert second.sha256 == first.sha256 and second.path == first.path


def test_write_dump_is_deterministic(bundled_store):
    outputs = set()
    for _ in range(2):
        buffer = io.BytesIO()
        write_dump(bundled_store, DUMP_FORMATS[0], buffer, PREFIXES)
        outputs.add(buffer.getvalue())
    assert len(outputs) == 1
