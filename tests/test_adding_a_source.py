"""Adding a source is a data change: validate, coverage and stats pick it up with no code change.

The test copies the project, writes a second small source (a text and its claims, with evidence
anchors printed by `communique anchor`) and runs the real CLI on the copy. It also checks that
bad input gives a clear message and exit status, never a traceback.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from communique.settings import PROJECT_ROOT

COMMUNIQUE = [sys.executable, "-m", "communique"]
SLUG = "hanoi-brief"
TEXT = "Vietnam confirmed it would host talks. Thailand was not mentioned again.\n"
CLAIMS = """\
@prefix :          <https://w3id.org/communique/id/> .
@prefix cq:        <https://w3id.org/communique/ontology/> .
@prefix status:    <https://w3id.org/communique/ontology/epistemic-status/> .
@prefix polarity:  <https://w3id.org/communique/ontology/polarity/> .
@prefix rdfs:      <http://www.w3.org/2000/01/rdf-schema#> .
@prefix prov:      <http://www.w3.org/ns/prov#> .
@prefix oa:        <http://www.w3.org/ns/oa#> .
@prefix schema:    <https://schema.org/> .

<https://w3id.org/communique/id/source/hanoi-brief> a schema:NewsArticle ;
    rdfs:label "A brief on Hanoi"@en ;
    schema:publisher :asia-times .

<https://w3id.org/communique/id/hanoi-brief/claim/vietnam-hosts> a cq:Position ;
    rdfs:label "Vietnam confirmed it would host talks"@en ;
    cq:epistemicStatus status:asserted ;
    cq:polarity polarity:affirmed ;
    prov:wasDerivedFrom <https://w3id.org/communique/id/source/hanoi-brief> ;
    cq:proposition "Vietnam would host the talks."@en ;
    cq:about :vietnam ;
    {first} .

<https://w3id.org/communique/id/hanoi-brief/claim/thailand-dropped> a cq:VenueCandidacy ;
    rdfs:label "Thailand was not mentioned again"@en ;
    cq:epistemicStatus status:asserted ;
    cq:polarity polarity:negated ;
    prov:wasDerivedFrom <https://w3id.org/communique/id/source/hanoi-brief> ;
    cq:proposition "Thailand was mentioned again as a venue."@en ;
    cq:about :thailand ;
    {second} .
"""


def communique(*args: str, root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*COMMUNIQUE, *args, "--root", str(root)], capture_output=True, text=True, timeout=120
    )


def anchor(root: Path, exact: str) -> str:
    result = communique("anchor", SLUG, exact, root=root)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    for folder in ("ontology", "graph", "shapes"):
        shutil.copytree(PROJECT_ROOT / folder, root / folder)
    sources = root / "graph" / "sources"
    (sources / f"{SLUG}.txt").write_text(TEXT, encoding="utf-8")
    first = anchor(root, "Vietnam confirmed it would host talks.")
    second = anchor(root, "Thailand was not mentioned again.")
    (sources / f"{SLUG}.ttl").write_text(CLAIMS.format(first=first, second=second))
    return root


def test_validate_checks_the_new_source(project):
    result = communique("validate", "--format", "json", root=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["conforms"] is True


def test_coverage_measures_the_new_source(project):
    result = communique("coverage", "--format", "json", root=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"source/{SLUG}" in result.stdout and "second-summit-article" in result.stdout


def test_stats_counts_the_new_graph(project):
    result = communique("stats", "--format", "json", root=project)
    assert result.returncode == 0, result.stderr
    assert f"graph/source/{SLUG}" in result.stdout


def broken_copy(project: Path, tmp_path: Path, old: str, new: str) -> Path:
    shutil.copytree(project, tmp_path, dirs_exist_ok=True)
    target = tmp_path / "graph" / "sources" / f"{SLUG}.ttl"
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new, 1))
    return tmp_path


@pytest.mark.parametrize(
    "old, new, status, says",
    [
        ("cq:polarity polarity:affirmed ;", "cq:polarity polarity:affirmed", 2, "hanoi-brief.ttl:"),
        ("oa:end 38", "oa:end 380", 1, "past the end of the source text"),
        ("status:asserted ;", "status:rumoured ;", 1, "epistemic status"),
    ],
    ids=["turtle-syntax-error", "offset-past-the-end", "unknown-epistemic-status"],
)
def test_bad_input_gives_a_clear_message(project, tmp_path, old, new, status, says):
    result = communique("validate", root=broken_copy(project, tmp_path, old, new))
    assert result.returncode == status
    assert says in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_source_text_is_reported(project, tmp_path):
    root = broken_copy(project, tmp_path, "@prefix", "@prefix")
    (root / "graph" / "sources" / f"{SLUG}.txt").unlink()
    result = communique("validate", root=root)
    assert result.returncode == 2
    assert f"{SLUG}.txt" in result.stderr and "Traceback" not in result.stderr
