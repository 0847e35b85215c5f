"""VoID and DCAT at /.well-known/void, the sitemap and robots.txt, on a real server.

Every figure of the description is checked against a SPARQL COUNT sent to the endpoint itself.
"""

import doctest
from datetime import UTC, datetime
from xml.etree import ElementTree

import pyoxigraph as ox
import pytest
import requests
from bs4 import BeautifulSoup
from rdflib import Dataset, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, OWL, RDF, VOID

from communique import sitemap
from communique.dataset_description import summarize_dataset
from communique.store import EmbeddedStore

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
ID = "https://w3id.org/communique/id/"
RDFLIB_FORMATS = {
    "turtle": "turtle",
    "ntriples": "nt",
    "jsonld": "json-ld",
    "rdfxml": "xml",
    "trig": "trig",
    "nquads": "nquads",
}


@pytest.fixture(scope="module")
def site(servers):
    return servers()


@pytest.fixture(scope="module")
def void(site) -> Graph:
    response = requests.get(site.url + ".well-known/void", timeout=60)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/turtle; charset=utf-8"
    return Graph().parse(data=response.text, format="turtle")


@pytest.fixture(scope="module")
def dataset(site, void) -> URIRef:
    [node] = set(void.subjects(RDF.type, VOID.Dataset)) & set(void.subjects(RDF.type, DCAT.Dataset))
    assert str(node) == site.url + ".well-known/void#dataset"
    return node


def count(site, query: str) -> int:
    response = requests.post(
        site.sparql,
        data={"query": query},
        headers={"Accept": "application/sparql-results+json"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    [row] = response.json()["results"]["bindings"]
    return int(next(iter(row.values()))["value"])


def number(graph: Graph, subject, predicate) -> int:
    [value] = list(graph.objects(subject, predicate))
    return int(value)


@pytest.mark.parametrize(
    ("predicate", "query"),
    [
        (
            VOID.triples,
            "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o } }",
        ),
        (VOID.entities, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s ?p ?o FILTER isIRI(?s) }"),
        (VOID.classes, "SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?s a ?c }"),
        (VOID.properties, "SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE { ?s ?p ?o }"),
        (VOID.distinctSubjects, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s ?p ?o }"),
        (VOID.distinctObjects, "SELECT (COUNT(DISTINCT ?o) AS ?n) WHERE { ?s ?p ?o }"),
    ],
    ids=lambda value: str(value).rsplit("#", 1)[-1] if isinstance(value, URIRef) else "",
)
def test_dataset_figures_match_sparql_counts(site, void, dataset, predicate, query):
    assert number(void, dataset, predicate) == count(site, query)


def test_named_graphs_are_subsets_with_their_triple_counts(site, void, dataset):
    subsets = {
        str(void.value(subset, SD.name)): subset
        for subset in void.objects(dataset, VOID.subset)
        if (subset, RDF.type, VOID.Dataset) in void
    }
    graphs = requests.post(
        site.sparql,
        data={"query": "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"},
        headers={"Accept": "application/sparql-results+json"},
        timeout=60,
    ).json()["results"]["bindings"]
    expected = {row["g"]["value"]: int(row["n"]["value"]) for row in graphs}
    assert set(subsets) == set(expected)
    for name, subset in subsets.items():
        assert number(void, subset, VOID.triples) == expected[name]
        assert void.value(subset, DCTERMS.title)
    article = subsets["https://w3id.org/communique/graph/source/second-summit-article"]
    assert "Asia Times" in str(void.value(article, DCTERMS.title))


@pytest.mark.parametrize(
    ("key", "spaces"),
    [
        ("wikidata", ("http://www.wikidata.org/entity/", "https://www.wikidata.org/entity/")),
        ("geonames", ("https://sws.geonames.org/", "http://sws.geonames.org/")),
    ],
)
def test_linksets_count_the_same_as_links(site, void, dataset, key, spaces):
    linkset = URIRef(f"{site.url}.well-known/void#linkset-{key}")
    assert (dataset, VOID.subset, linkset) in void
    assert (linkset, RDF.type, VOID.Linkset) in void
    assert (linkset, VOID.linkPredicate, OWL.sameAs) in void
    targets = set(void.objects(linkset, VOID.target))
    assert dataset in targets and len(targets) == 2
    starts = " || ".join(f'STRSTARTS(STR(?o), "{space}")' for space in spaces)
    links = count(
        site,
        "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?o WHERE { "
        f"?s <http://www.w3.org/2002/07/owl#sameAs> ?o FILTER ({starts}) }} }}",
    )
    assert links > 0
    assert number(void, linkset, VOID.triples) == links


def test_class_and_property_partitions(site, void, dataset):
    classes = {
        str(void.value(p, VOID["class"])): int(void.value(p, VOID.entities))
        for p in void.objects(dataset, VOID.classPartition)
    }
    assert classes["https://schema.org/Country"] == count(
        site, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a <https://schema.org/Country> }"
    )
    assert len(classes) == number(void, dataset, VOID.classes)
    properties = {
        str(void.value(p, VOID.property)): int(void.value(p, VOID.triples))
        for p in void.objects(dataset, VOID.propertyPartition)
    }
    assert len(properties) == number(void, dataset, VOID.properties)
    assert properties[str(OWL.sameAs)] == count(
        site, "SELECT (COUNT(*) AS ?n) WHERE { ?s <http://www.w3.org/2002/07/owl#sameAs> ?o }"
    )


def test_access_points_and_metadata(site, void, dataset):
    assert (dataset, VOID.sparqlEndpoint, URIRef(site.sparql)) in void
    assert (dataset, VOID.uriSpace, Literal(ID)) in void
    assert (
        dataset,
        DCTERMS.license,
        URIRef("https://creativecommons.org/licenses/by/4.0/"),
    ) in void
    assert void.value(dataset, DCTERMS.title) and void.value(dataset, DCTERMS.description)
    modified = void.value(dataset, DCTERMS.modified).toPython()
    assert isinstance(modified, datetime)
    assert (dataset, VOID.vocabulary, URIRef("https://w3id.org/communique/ontology/")) in void
    examples = list(void.objects(dataset, VOID.exampleResource))
    assert examples and all(str(example).startswith(ID) for example in examples)
    dumps = {str(dump) for dump in void.objects(dataset, VOID.dataDump)}
    assert dumps == {
        site.url + "dumps/" + name
        for name in ("dataset.trig.gz", "dataset.nq.gz", "dataset.ttl.gz")
    }


def test_dcat_distributions_describe_the_real_files(site, void, dataset):
    distributions = [
        d for d in void.objects(dataset, DCAT.distribution) if void.value(d, DCAT.downloadURL)
    ]
    assert len(distributions) == 3
    for distribution in distributions:
        url = str(void.value(distribution, DCAT.downloadURL))
        body = requests.get(url, timeout=60).content
        assert int(void.value(distribution, DCAT.byteSize)) == len(body)
        assert str(void.value(distribution, DCAT.compressFormat)).endswith("application/gzip")
        assert str(void.value(distribution, DCAT.mediaType)).startswith(
            "https://www.iana.org/assignments/media-types/"
        )
    [service] = list(void.subjects(RDF.type, DCAT.DataService))
    assert (service, DCAT.endpointURL, URIRef(site.sparql)) in void
    assert (service, DCAT.servesDataset, dataset) in void


@pytest.mark.parametrize("format_name", sorted(RDFLIB_FORMATS))
def test_every_rdf_format_says_the_same(site, void, format_name):
    response = requests.get(
        site.url + ".well-known/void", params={"format": format_name}, timeout=60
    )
    assert response.status_code == 200
    parsed = Dataset() if format_name in ("trig", "nquads") else Graph()
    parsed.parse(data=response.content, format=RDFLIB_FORMATS[format_name])
    assert len(parsed) == len(void)


def test_accept_header_negotiates(site):
    response = requests.get(
        site.url + ".well-known/void", headers={"Accept": "application/ld+json"}, timeout=60
    )
    assert response.headers["Content-Type"].startswith("application/ld+json")
    assert "Accept" in response.headers["Vary"]
    etag = response.headers["ETag"]
    again = requests.get(
        site.url + ".well-known/void",
        headers={"Accept": "application/ld+json", "If-None-Match": etag},
        timeout=60,
    )
    assert again.status_code == 304


def test_browsers_get_a_page(site, void, dataset):
    response = requests.get(
        site.url + ".well-known/void", headers={"Accept": "text/html,*/*;q=0.8"}, timeout=60
    )
    assert response.status_code == 200
    soup = BeautifulSoup(response.text, "html.parser")
    text = soup.get_text(" ")
    assert f"{number(void, dataset, VOID.triples):,}" in text
    links = {a["href"] for a in soup.find_all("a", href=True)}
    assert site.url + "dumps/dataset.trig.gz" in links
    assert soup.find("link", rel="alternate", type="text/turtle")
    for script in soup.find_all("script"):
        assert script.get("src") or script.get("type") == "application/ld+json"
    assert not soup.select("[style]") and not soup.find_all("style")


# --- sitemap and robots.txt ----------------------------------------------------------------------


def sitemap_urls(site) -> list[str]:
    response = requests.get(site.url + "sitemap.xml", timeout=60)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/xml")
    root = ElementTree.fromstring(response.content)
    assert root.tag == SITEMAP + "urlset"
    return [loc.text for loc in root.iter(SITEMAP + "loc")]


def test_sitemap_lists_the_page_of_every_subject_of_ours(site):
    urls = sitemap_urls(site)
    assert len(urls) == len(set(urls))
    for fixed in ("", "page/ontology/", "sparql", ".well-known/void"):
        assert site.url + fixed in urls
    subjects = count(
        site,
        "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s ?p ?o "
        'FILTER (STRSTARTS(STR(?s), "https://w3id.org/communique/")) }',
    )
    pages = [url for url in urls if "/page/" in url]
    assert len(pages) == subjects
    assert site.url + "page/id/thailand" in urls
    assert site.url + "page/id/second-summit-article/claim/thailand-being-considered" in urls


def test_sitemap_pages_answer(site):
    urls = sitemap_urls(site)
    for url in (site.url + "page/id/thailand", site.url + "page/ontology/"):
        assert url in urls
        assert requests.get(url, timeout=60).status_code == 200


def test_no_sitemap_index_for_a_small_dataset(site):
    assert requests.get(site.url + "sitemaps/1.xml", timeout=30).status_code == 404


def test_robots_txt_points_to_the_sitemap(site):
    response = requests.get(site.url + "robots.txt", timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    lines = response.text.splitlines()
    assert "User-agent: *" in lines
    assert f"Sitemap: {site.url}sitemap.xml" in lines
    assert "Disallow: /sparql?" in lines


# --- in process ----------------------------------------------------------------------------------


def test_sitemap_docstring_examples_hold():
    assert doctest.testmod(sitemap).failed == 0


def test_plan_splits_into_documents_for_an_index():
    urls = [f"https://example.org/page/{n}" for n in range(12)]
    plan = sitemap.plan_sitemap(urls, limit=5)
    assert plan.needs_index
    assert [len(document) for document in plan.documents] == [5, 5, 2]
    assert not sitemap.plan_sitemap(urls[:5], limit=5).needs_index


def test_sitemap_xml_escapes_and_parses():
    moment = datetime(2019, 1, 19, 12, 0, 0, 123, tzinfo=UTC)
    body = sitemap.urlset_xml(["https://example.org/a?b=1&c=<2>"], moment)
    root = ElementTree.fromstring(body)
    assert root.find(SITEMAP + "url/" + SITEMAP + "loc").text == "https://example.org/a?b=1&c=<2>"
    assert root.find(SITEMAP + "url/" + SITEMAP + "lastmod").text == "2019-01-19T12:00:00+00:00"
    index = ElementTree.fromstring(sitemap.sitemap_index_xml(["https://example.org/1.xml"], moment))
    assert index.tag == SITEMAP + "sitemapindex"


def test_summary_counts_default_graph_triples_without_a_union():
    """With standard dataset semantics, triples outside named graphs are counted too."""
    store = ox.Store()
    ex = "http://example.org/"
    store.add(ox.Quad(ox.NamedNode(ex + "a"), ox.NamedNode(ex + "p"), ox.Literal("x")))
    store.add(
        ox.Quad(
            ox.NamedNode(ex + "b"), ox.NamedNode(ex + "p"), ox.Literal("y"), ox.NamedNode(ex + "g")
        )
    )
    summary = summarize_dataset(EmbeddedStore(store, union_default_graph=False), base=ex)
    assert summary.triples == 2
    assert summary.entities == 2
    assert summary.graph_triples == {ex + "g": 1}


def test_favicon_is_a_png(site):
    response = requests.get(site.url + "favicon.ico", timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n"
