"""Statistics: counts on a small project, computed by hand, and the command's output."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from communique.errors import DataError
from communique.settings import PROJECT_ROOT
from communique.stats import Count, file_stats, layout_stats

COMMUNIQUE = Path(sys.executable).parent / "communique"
CQ = "https://w3id.org/communique/ontology/"
GRAPH = "https://w3id.org/communique/graph/"
STATUS = CQ + "epistemic-status/"

PREFIXES = """\
@prefix cq: <https://w3id.org/communique/ontology/> .
@prefix status: <https://w3id.org/communique/ontology/epistemic-status/> .
@prefix id: <https://w3id.org/communique/id/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
"""
ONTOLOGY = """
cq:VenueClaim rdfs:subClassOf cq:Claim .
cq:QuoteClaim rdfs:subClassOf cq:Claim .
status:asserted a skos:Concept ; rdfs:label "asserted (label)"@en ;
    skos:prefLabel "asserted by the article"@en , "affirmé"@fr .
status:speculated a skos:Concept ; rdfs:label "speculated"@en .
"""
# 8 triples
BACKGROUND = """
id:thailand a cq:Country ; rdfs:label "Thailand"@en .
id:vietnam a cq:Country .
"""
# 3 triples
SOURCE = """
id:c1 a cq:VenueClaim ; cq:epistemicStatus status:speculated .
id:c2 a cq:VenueClaim ; cq:epistemicStatus status:speculated .
id:c3 a cq:QuoteClaim ; cq:epistemicStatus status:asserted .
id:c4 a cq:VenueClaim, cq:QuoteClaim .
id:vietnam a cq:Country .
"""
# 9 triples, plus the source text: 10 in the source graph


def make_project(root: Path) -> Path:
    for folder, text in (("ontology", ONTOLOGY), ("graph/background", BACKGROUND)):
        (root / folder).mkdir(parents=True)
        (root / folder / "x.ttl").write_text(PREFIXES + text, encoding="utf-8")
    sources = root / "graph" / "sources"
    sources.mkdir()
    (sources / "article.ttl").write_text(PREFIXES + SOURCE, encoding="utf-8")
    (sources / "article.txt").write_text("The text.", encoding="utf-8")
    return root


def communique(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(COMMUNIQUE), *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


def test_triples_per_graph(project: Path) -> None:
    stats = layout_stats(project)
    assert stats.graphs == (
        Count(GRAPH + "background", 3),
        Count(GRAPH + "ontology", 8),
        Count(GRAPH + "source/article", 10),
    )
    assert stats.triples == 21


def test_instances_per_class_count_each_resource_once(project: Path) -> None:
    # id:vietnam is typed cq:Country in two graphs: one instance; ties go by IRI
    assert layout_stats(project).classes == (
        Count(CQ + "VenueClaim", 3),
        Count("http://www.w3.org/2004/02/skos/core#Concept", 2),
        Count(CQ + "Country", 2),
        Count(CQ + "QuoteClaim", 2),
    )


def test_claims_per_status_with_the_best_label(project: Path) -> None:
    stats = layout_stats(project)
    assert stats.claims == 4
    assert stats.statuses == (
        Count(STATUS + "speculated", 2, "speculated"),
        Count(STATUS + "asserted", 1, "asserted by the article"),
    )


def test_status_without_label_shows_its_local_name(tmp_path: Path) -> None:
    data = tmp_path / "data.ttl"
    data.write_text(PREFIXES + "id:c cq:epistemicStatus status:rumoured .", encoding="utf-8")
    assert file_stats([data]).statuses == (Count(STATUS + "rumoured", 1, "rumoured"),)


def test_statuses_that_are_not_iris_are_counted_as_written(tmp_path: Path) -> None:
    data = tmp_path / "data.ttl"
    data.write_text(
        PREFIXES + 'id:a cq:epistemicStatus "rumour" .\n'
        "id:b cq:epistemicStatus <<( id:a cq:p id:c )>> .\n",
        encoding="utf-8",
    )
    stats = file_stats([data])
    triple = "<<( <https://w3id.org/communique/id/a> <https://w3id.org/communique/ontology/p> "
    triple += "<https://w3id.org/communique/id/c> )>>"
    assert set(stats.statuses) == {Count('"rumour"', 1, '"rumour"'), Count(triple, 1, triple)}
    assert f"       1  {triple}" in stats.to_text()


def test_files_keep_their_graphs(tmp_path: Path) -> None:
    triples = tmp_path / "a.ttl"
    triples.write_text(PREFIXES + BACKGROUND, encoding="utf-8")
    quads = tmp_path / "b.nq"
    quads.write_text(
        "<http://e/s> <http://e/p> <http://e/o> <http://e/g> .\n"
        "<http://e/s> <http://e/p> <http://e/o2> <http://e/g> .\n",
        encoding="utf-8",
    )
    stats = file_stats([triples, quads])
    assert stats.graphs == (Count("", 3), Count("http://e/g", 2))
    assert "(default graph)" in stats.to_text()


def test_unreadable_file_is_a_data_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text("<a> <b> .", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.ttl:1:"):
        file_stats([bad])


def test_a_missing_project_folder_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such project folder"):
        layout_stats(tmp_path / "absent")


def test_text_lists_the_counts(project: Path) -> None:
    text = layout_stats(project).to_text()
    assert "Triples per graph (21 in all)" in text
    assert "       3  cq:VenueClaim" in text
    assert "       1  asserted by the article  status:asserted" in text


def test_cli_json_parses(project: Path) -> None:
    result = communique("stats", "--root", str(project), "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["triples"] == 21
    assert document["claims"] == 4
    assert document["statuses"][0] == {
        "status": STATUS + "speculated",
        "label": "speculated",
        "claims": 2,
    }
    assert {"graph": GRAPH + "ontology", "triples": 8} in document["graphs"]


def test_cli_data_files(tmp_path: Path) -> None:
    data = tmp_path / "data.ttl"
    data.write_text(PREFIXES + BACKGROUND, encoding="utf-8")
    result = communique("stats", "--data", str(data), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["graphs"] == [{"graph": None, "triples": 3}]


def test_cli_unreadable_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text("<a> <b> .", encoding="utf-8")
    result = communique("stats", "--data", str(bad))
    assert result.returncode == 2
    assert "bad.ttl:1:" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_bundled_project() -> None:
    result = communique("stats", "--root", str(PROJECT_ROOT), "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"triples", "graphs", "classes", "claims", "statuses"}
    assert document["triples"] == sum(graph["triples"] for graph in document["graphs"])
