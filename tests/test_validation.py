"""The validation gate: findings a person can act on, exit statuses, and unreadable input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import rdflib
from rdflib.namespace import RDF, SH

from communique.errors import DataError
from communique.settings import PROJECT_ROOT
from communique.validation import (
    Finding,
    prefixed_name,
    render_path,
    render_term,
    validate_files,
    validate_layout,
)

COMMUNIQUE = Path(sys.executable).parent / "communique"

PREFIXES = """\
@prefix cq: <https://w3id.org/communique/ontology/> .
@prefix status: <https://w3id.org/communique/ontology/epistemic-status/> .
@prefix id: <https://w3id.org/communique/id/> .
@prefix claim: <https://w3id.org/communique/id/claim/> .
@prefix source: <https://w3id.org/communique/id/source/> .
@prefix oa: <http://www.w3.org/ns/oa#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""
ONTOLOGY = """
cq:MeetingClaim rdfs:subClassOf cq:Claim ; rdfs:label "meeting claim"@en .
cq:EpistemicStatus rdfs:subClassOf skos:Concept .
status:asserted a cq:EpistemicStatus ; skos:prefLabel "asserted"@en .
"""
BACKGROUND = """
id:gamma rdfs:label "Gamma"@en .
"""
TEXT = "Alpha met Beta in Gamma. Delta was mentioned.\n"
CLAIM = """
claim:meeting a cq:MeetingClaim ; rdfs:label "Alpha met Beta"@en ;
    cq:epistemicStatus status:asserted ;
    prov:wasDerivedFrom source:article ;
    cq:evidence [ a oa:SpecificResource ; oa:hasSource source:article ;
        oa:hasSelector [ a oa:TextPositionSelector ; oa:start {start} ; oa:end 24 ] ] .
"""
SHAPES = """
<https://w3id.org/communique/shapes/ClaimShape> a sh:NodeShape ;
    rdfs:label "Claim"@en ;
    sh:targetClass cq:Claim ;
    sh:property [ sh:path rdfs:label ; sh:minCount 1 ; sh:message "a claim needs a label" ] ;
    sh:property [ sh:path cq:epistemicStatus ; sh:minCount 1 ; sh:class skos:Concept ;
                  sh:message "the status must be a concept of the status scheme" ] .

<https://w3id.org/communique/shapes/SelectorShape> a sh:NodeShape ;
    sh:targetObjectsOf oa:hasSelector ;
    sh:property [ sh:path oa:start ; sh:datatype xsd:integer ; sh:minInclusive 0 ;
                  sh:message "offsets start at 0" ] .

<https://w3id.org/communique/shapes/ClaimGraphShape> a sh:NodeShape ;
    rdfs:label "Claim in a source graph"@en ;
    sh:targetClass cq:Claim ;
    sh:sparql [ sh:message "a claim belongs in the graph of its source" ;
        sh:select \"\"\"SELECT $this WHERE {
            FILTER NOT EXISTS { GRAPH ?g { $this a ?type }
                FILTER(STRSTARTS(STR(?g), "https://w3id.org/communique/graph/source/")) }
        }\"\"\" ] .
"""
NODE_SHAPES = SHAPES.split("<https://w3id.org/communique/shapes/ClaimGraphShape>")[0]
"""The shapes without the SHACL-SPARQL one (files outside a project have no source graphs)."""
BAD_STATUS = """
claim:delta a cq:MeetingClaim ; rdfs:label "Delta was mentioned"@en ;
    cq:epistemicStatus "asserted"@en .
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def make_project(root: Path, *, claims: str = CLAIM.replace("{start}", "0")) -> Path:
    write(root / "ontology" / "x.ttl", PREFIXES + ONTOLOGY)
    write(root / "graph" / "background" / "x.ttl", PREFIXES + BACKGROUND)
    write(root / "graph" / "sources" / "article.txt", TEXT)
    write(root / "graph" / "sources" / "article.ttl", PREFIXES + claims)
    write(root / "shapes" / "x.ttl", PREFIXES + SHAPES)
    return root


def communique(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(COMMUNIQUE), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


@pytest.fixture
def bad_project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "bad", claims=CLAIM.replace("{start}", "0") + BAD_STATUS)


def only(findings: tuple[Finding, ...], shape_suffix: str) -> Finding:
    [finding] = [f for f in findings if f.shape.endswith(shape_suffix)]
    return finding


# The report


def test_conforming_project(project: Path) -> None:
    report = validate_layout(project)
    assert report.conforms
    assert report.findings == ()
    assert report.triple_count > 0
    assert report.to_text().rstrip().endswith("Conforms: yes (0 violations, 0 warnings)")


def test_sh_class_follows_the_ontology_subclasses(project: Path) -> None:
    # status:asserted is a cq:EpistemicStatus, a subclass of the skos:Concept the shape asks for
    report = validate_layout(project)
    assert not [f for f in report.findings if f.path == "cq:epistemicStatus"]


def test_violation_names_shape_focus_path_message_value_file(bad_project: Path) -> None:
    report = validate_layout(bad_project)
    assert not report.conforms
    finding = only(report.findings, "/ClaimShape")
    assert finding.severity == "Violation"
    assert finding.shape_label == "Claim"
    assert finding.constraint == "sh:ClassConstraintComponent"
    assert finding.focus == "https://w3id.org/communique/id/claim/delta"
    assert finding.focus_label == "Delta was mentioned"
    assert finding.path == "cq:epistemicStatus"
    assert finding.message == "the status must be a concept of the status scheme"
    assert finding.value == '"asserted"@en'
    assert finding.source_file == "graph/sources/article.ttl"


def test_text_report_has_one_actionable_line_per_finding(bad_project: Path) -> None:
    text = validate_layout(bad_project).to_text()
    assert "Claim (shapes:ClaimShape): 1 violation" in text
    assert (
        "  Delta was mentioned id:claim/delta  cq:epistemicStatus  "
        'the status must be a concept of the status scheme  ["asserted"@en]  '
        "(graph/sources/article.ttl)"
    ) in text.splitlines()
    assert text.rstrip().endswith("Conforms: no (1 violation, 0 warnings)")


def test_blank_focus_node_is_reported_under_the_claim_owning_it(tmp_path: Path) -> None:
    project = make_project(tmp_path, claims=CLAIM.replace("{start}", "-1"))
    finding = only(validate_layout(project).findings, "/SelectorShape")
    assert finding.focus.startswith("_:")
    assert finding.owner == "https://w3id.org/communique/id/claim/meeting"
    assert finding.owner_path == "cq:evidence/oa:hasSelector"
    assert finding.focus_label == "Alpha met Beta"
    assert finding.shape_label == "shapes:SelectorShape"
    assert finding.value == '"-1"^^<http://www.w3.org/2001/XMLSchema#integer>'
    assert finding.source_file == "graph/sources/article.ttl"


def test_a_literal_where_a_node_belongs_is_a_finding(project: Path) -> None:
    write(project / "graph" / "background" / "y.ttl", PREFIXES + 'id:gamma cq:evidence "text" .')
    write(
        project / "shapes" / "evidence.ttl",
        PREFIXES + "<https://w3id.org/communique/shapes/EvidenceShape> a sh:NodeShape ;"
        " sh:targetObjectsOf cq:evidence ;"
        ' sh:property [ sh:path oa:hasSource ; sh:minCount 1 ; sh:message "name the source" ] .',
    )
    finding = only(validate_layout(project).findings, "/EvidenceShape")
    assert (finding.focus, finding.message) == ('"text"', "name the source")


def test_sparql_constraint_sees_the_named_graphs(project: Path) -> None:
    write(
        project / "graph" / "background" / "y.ttl",
        PREFIXES + 'claim:stray a cq:MeetingClaim ; rdfs:label "Stray"@en ;'
        " cq:epistemicStatus status:asserted .",
    )
    finding = only(validate_layout(project).findings, "/ClaimGraphShape")
    assert finding.constraint == "sh:SPARQLConstraintComponent"
    assert finding.focus == "https://w3id.org/communique/id/claim/stray"
    assert finding.message == "a claim belongs in the graph of its source"
    assert finding.source_file == "graph/background/y.ttl"


def test_a_violation_breaks_conformance_whatever_its_parent_shape_says(project: Path) -> None:
    # pyshacl (allow_warnings) lets a Warning node shape excuse its property shapes' violations
    write(
        project / "shapes" / "warn.ttl",
        PREFIXES + "<https://w3id.org/communique/shapes/Note> a sh:NodeShape ;"
        " sh:targetClass cq:Claim ; sh:severity sh:Warning ;"
        " sh:property [ sh:path rdfs:comment ; sh:minCount 1 ] .",
    )
    report = validate_layout(project)
    assert [f.severity for f in report.findings] == ["Violation"]
    assert not report.conforms


def test_sparql_constraints_compare_years(project: Path) -> None:
    # rdflib's SPARQL drops the row when comparing xsd:gYear; Oxigraph compares them
    write(
        project / "graph" / "background" / "y.ttl",
        PREFIXES + 'id:war cq:startYear "1953"^^xsd:gYear ; cq:endYear "1950"^^xsd:gYear .',
    )
    write(
        project / "shapes" / "years.ttl",
        PREFIXES + "<https://w3id.org/communique/shapes/Years> a sh:NodeShape ;"
        " sh:targetSubjectsOf cq:startYear ;"
        ' sh:sparql [ sh:message "ends before it starts" ; sh:select """SELECT $this WHERE {'
        " $this <https://w3id.org/communique/ontology/startYear> ?start ;"
        ' <https://w3id.org/communique/ontology/endYear> ?end . FILTER(?end < ?start) }""" ] .',
    )
    finding = only(validate_layout(project).findings, "/Years")
    assert (finding.focus, finding.message) == (
        "https://w3id.org/communique/id/war",
        "ends before it starts",
    )


def test_warnings_do_not_break_conformance(project: Path) -> None:
    write(
        project / "shapes" / "warn.ttl",
        PREFIXES + "<https://w3id.org/communique/shapes/Note> a sh:NodeShape ;"
        " sh:targetClass cq:Claim ; sh:property [ sh:path rdfs:comment ; sh:minCount 1 ;"
        ' sh:severity sh:Warning ; sh:message "add a comment" ] .',
    )
    report = validate_layout(project)
    assert report.conforms
    assert [f.severity for f in report.findings] == ["Warning"]
    assert "  warning: Alpha met Beta id:claim/meeting  rdfs:comment  add a comment" in (
        report.to_text()
    )
    assert report.to_text().rstrip().endswith("Conforms: yes (0 violations, 1 warning)")


def test_by_shape_groups_findings(tmp_path: Path) -> None:
    project = make_project(tmp_path, claims=CLAIM.replace("{start}", "-1") + BAD_STATUS)
    groups = validate_layout(project).by_shape()
    assert set(groups) == {
        "https://w3id.org/communique/shapes/ClaimShape",
        "https://w3id.org/communique/shapes/SelectorShape",
    }
    assert all(f.shape == shape for shape, found in groups.items() for f in found)


def test_json_and_turtle_forms(bad_project: Path) -> None:
    report = validate_layout(bad_project)
    document = json.loads(report.to_json())
    assert (document["conforms"], document["violations"], document["warnings"]) == (False, 1, 0)
    assert document["findings"][0]["focus"] == "https://w3id.org/communique/id/claim/delta"
    graph = rdflib.Graph().parse(data=report.to_turtle(), format="turtle")
    assert (None, RDF.type, SH.ValidationReport) in graph
    assert len(list(graph.subjects(RDF.type, SH.ValidationResult))) == 1


def test_validate_files_reports_the_given_file(tmp_path: Path) -> None:
    data = write(tmp_path / "data.ttl", PREFIXES + ONTOLOGY + BAD_STATUS)
    shapes = write(tmp_path / "shapes.ttl", PREFIXES + SHAPES)
    report = validate_files([data], [shapes])
    focus = {f.focus: f for f in report.findings}["https://w3id.org/communique/id/claim/delta"]
    assert focus.source_file == str(data)


def test_validate_files_uses_the_ontology_for_sh_class(tmp_path: Path) -> None:
    claim = CLAIM.replace("{start}", "0").replace("cq:MeetingClaim", "cq:Claim")
    data = write(tmp_path / "data.ttl", PREFIXES + claim)
    ontology = write(tmp_path / "ontology.ttl", PREFIXES + ONTOLOGY)
    shapes = write(tmp_path / "shapes.ttl", PREFIXES + NODE_SHAPES)
    assert not validate_files([data], [shapes]).conforms
    assert validate_files([data], [shapes], ontology=[ontology]).conforms


@pytest.mark.parametrize(
    ("term", "rendered"),
    [
        (rdflib.Literal('say "hi"\nnow'), '"say \\"hi\\"\\nnow"'),
        (rdflib.Literal("x", datatype=rdflib.XSD.string), '"x"'),
        (rdflib.Literal("Gamma", lang="en"), '"Gamma"@en'),
        (
            rdflib.Literal("abc", datatype=rdflib.XSD.integer),
            '"abc"^^<http://www.w3.org/2001/XMLSchema#integer>',
        ),
        (rdflib.URIRef("https://example.org/a"), "<https://example.org/a>"),
        (rdflib.BNode("b7"), "_:b7"),
    ],
)
def test_values_are_rendered_as_n_triples(term: rdflib.term.Node, rendered: str) -> None:
    assert render_term(term) == rendered


@pytest.mark.parametrize(
    ("path", "rendered"),
    [
        ("cq:evidence", "cq:evidence"),
        ("( cq:evidence oa:hasSelector )", "cq:evidence/oa:hasSelector"),
        ("[ sh:inversePath cq:evidence ]", "^cq:evidence"),
        ("[ sh:alternativePath ( rdfs:label skos:prefLabel ) ]", "rdfs:label|skos:prefLabel"),
        ("( [ sh:zeroOrMorePath rdfs:subClassOf ] rdfs:label )", "(rdfs:subClassOf*)/rdfs:label"),
        ("[ sh:oneOrMorePath <http://example.org/p> ]", "<http://example.org/p>+"),
    ],
)
def test_paths_are_rendered_like_sparql(path: str, rendered: str) -> None:
    graph = rdflib.Graph().parse(data=PREFIXES + f"<http://example.org/s> sh:path {path} .")
    path_node = graph.value(rdflib.URIRef("http://example.org/s"), SH.path)
    assert render_path(graph, path_node) == rendered


def test_prefixed_names() -> None:
    assert prefixed_name("https://w3id.org/communique/ontology/Claim") == "cq:Claim"
    assert prefixed_name("https://w3id.org/communique/id/claim/x") == "id:claim/x"
    assert prefixed_name("http://example.org/x") == "<http://example.org/x>"
    assert prefixed_name("_:b1") == "_:b1"


# Unreadable input


def test_missing_source_text_is_a_data_error(project: Path) -> None:
    (project / "graph" / "sources" / "article.txt").unlink()
    with pytest.raises(DataError, match=r"article\.ttl: the source text article\.txt is missing"):
        validate_layout(project)


def test_source_text_without_data_is_a_data_error(project: Path) -> None:
    write(project / "graph" / "sources" / "other.txt", "Unmodelled.\n")
    with pytest.raises(DataError, match=r"other\.txt: source text without its data file"):
        validate_layout(project)


def test_rdf_file_the_layout_would_skip_is_a_data_error(project: Path) -> None:
    write(project / "graph" / "background" / "extra.nt", "")
    with pytest.raises(DataError, match=r"extra\.nt: not read"):
        validate_layout(project)


def test_triple_terms_are_a_data_error(project: Path) -> None:
    write(
        project / "graph" / "background" / "y.ttl",
        PREFIXES + 'id:gamma rdfs:comment <<( id:gamma rdfs:label "Gamma" )>> .',
    )
    with pytest.raises(DataError, match=r"background/y\.ttl: triple terms .* are not supported"):
        validate_layout(project)


def test_no_shapes_is_a_data_error(project: Path) -> None:
    (project / "shapes" / "x.ttl").unlink()
    with pytest.raises(DataError, match="no shapes"):
        validate_layout(project)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ('sh:sparql [ sh:select "ASK {}" ]', "sh:select needs a SELECT query"),
        ('sh:sparql [ sh:select "SELECT $this WHERE { $this" ]', "does not parse"),
        ('sh:property [ sh:path rdfs:label ; sh:pattern "[" ]', "not a valid regular expression"),
        ("sh:property [ sh:minCount 1 ]", "the shapes cannot be used"),
    ],
)
def test_unusable_shapes_are_a_data_error(project: Path, shape: str, message: str) -> None:
    write(
        project / "shapes" / "bad.ttl",
        PREFIXES + "<https://w3id.org/communique/shapes/Bad> a sh:NodeShape ;"
        f" sh:targetClass cq:Claim ; {shape} .",
    )
    with pytest.raises(DataError, match=message):
        validate_layout(project)


# The command


def test_cli_conforming_project_exits_0(project: Path) -> None:
    result = communique("validate", str(project))
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("Conforms: yes (0 violations, 0 warnings)")


def test_cli_violation_exits_1_with_the_report(bad_project: Path) -> None:
    result = communique("validate", "--root", str(bad_project))
    assert result.returncode == 1, result.stderr
    for part in (
        "Claim (shapes:ClaimShape)",
        "Delta was mentioned id:claim/delta",
        "cq:epistemicStatus",
        "the status must be a concept of the status scheme",
        '["asserted"@en]',
        "(graph/sources/article.ttl)",
        "Conforms: no",
    ):
        assert part in result.stdout


def test_cli_json_has_the_same_findings(bad_project: Path) -> None:
    result = communique("validate", str(bad_project), "--format", "json")
    assert result.returncode == 1, result.stderr
    expected = json.loads(validate_layout(bad_project).to_json())
    assert json.loads(result.stdout)["findings"] == expected["findings"]


def test_cli_turtle_parses(bad_project: Path) -> None:
    result = communique("validate", str(bad_project), "--format", "turtle")
    assert result.returncode == 1, result.stderr
    graph = rdflib.Graph().parse(data=result.stdout, format="turtle")
    assert (None, RDF.type, SH.ValidationReport) in graph


def test_cli_bad_turtle_exits_2_naming_file_line_column(project: Path) -> None:
    write(project / "graph" / "background" / "x.ttl", PREFIXES + 'id:a rdfs:label "x" ,, "y" .\n')
    result = communique("validate", str(project))
    assert result.returncode == 2
    assert "graph/background/x.ttl:12:" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_cli_missing_source_text_exits_2(project: Path) -> None:
    (project / "graph" / "sources" / "article.txt").unlink()
    result = communique("validate", str(project))
    assert result.returncode == 2
    assert "the source text article.txt is missing" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_data_files_with_shapes(tmp_path: Path) -> None:
    data = write(tmp_path / "data.ttl", PREFIXES + ONTOLOGY + BAD_STATUS)
    shapes = write(tmp_path / "shapes.ttl", PREFIXES + NODE_SHAPES)
    result = communique("validate", str(data), "--shapes", str(shapes), "--format", "json")
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["violations"] == 1


def test_cli_data_files_default_to_the_projects_shapes_and_ontology(
    bad_project: Path, tmp_path: Path
) -> None:
    data = write(tmp_path / "data.ttl", PREFIXES + BAD_STATUS)
    result = communique("validate", str(data), "--root", str(bad_project), "--format", "json")
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)["findings"]
    # cq:MeetingClaim is a cq:Claim only through the project's ontology
    assert {f["focus"] for f in findings} == {"https://w3id.org/communique/id/claim/delta"}
    assert {f["source_file"] for f in findings} == {str(data)}


def test_cli_without_paths_validates_the_configured_project(project: Path) -> None:
    result = communique("validate", env={"COMMUNIQUE_PROJECT_ROOT": str(project)})
    assert result.returncode == 0, result.stderr
    assert "Conforms: yes" in result.stdout


def test_cli_refuses_a_folder_with_files(project: Path) -> None:
    result = communique("validate", str(project), str(project / "shapes" / "x.ttl"))
    assert result.returncode == 2
    assert "one project folder or RDF files" in result.stderr


def test_cli_refuses_shapes_for_a_project(project: Path) -> None:
    result = communique("validate", str(project), "--shapes", str(project / "shapes" / "x.ttl"))
    assert result.returncode == 2
    assert "--shapes applies to RDF data files" in result.stderr


def test_cli_unknown_file_type_exits_2(tmp_path: Path) -> None:
    data = write(tmp_path / "data.xyz", "")
    result = communique("validate", str(data), "--shapes", str(data))
    assert result.returncode == 2
    assert "unknown RDF file type '.xyz'" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_bundled_project_gives_a_verdict() -> None:
    result = communique("validate", "--root", str(PROJECT_ROOT), "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    document = json.loads(result.stdout)
    assert document["conforms"] is (result.returncode == 0)
    assert document["triples"] > 0
    assert set(document) >= {"conforms", "violations", "warnings", "findings"}
