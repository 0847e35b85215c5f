"""Every shape fires on a small failing fixture, on the focus node it should name.

The fixture project (tests/fixtures/mini-project, with the real ontology and shapes) conforms;
each case breaks it in one place and asserts which shape fired and on which focus node (for a
blank focus node, which resource owns it).
"""

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from communique.settings import PROJECT_ROOT
from communique.validation import Finding, validate_layout

FIXTURE = Path(__file__).parent / "fixtures" / "mini-project"
SOURCE = "graph/sources/mini.ttl"
BACKGROUND = "graph/background/entities.ttl"
ID = "https://w3id.org/communique/id/"
SHAPES = "https://w3id.org/communique/shapes/"


@dataclass(frozen=True)
class Breakage:
    shape: str
    focus: str
    """Local name under id/ of the focus node, or of the resource owning a blank focus node."""
    file: str
    old: str
    new: str


BREAKAGES = {
    "unknown-status": Breakage(
        "ClaimShape",
        "claim-meeting-held",
        SOURCE,
        '"Alpha and Beta met"@en ;\n    cq:epistemicStatus status:asserted',
        '"Alpha and Beta met"@en ;\n    cq:epistemicStatus status:rumoured',
    ),
    "status-without-attribution": Breakage(
        "ClaimShape",
        "claim-gamma-considered",
        SOURCE,
        "    prov:wasAttributedTo :officials ;\n",
        "",
    ),
    "quote-off-its-offsets": Breakage(
        "EvidenceShape",
        "claim-gamma-considered",
        SOURCE,
        "oa:start 55 ; oa:end 81",
        "oa:start 56 ; oa:end 82",
    ),
    "prefix-off-its-offsets": Breakage(
        "EvidenceShape",
        "claim-gamma-considered",
        SOURCE,
        'oa:prefix "Officials say "',
        'oa:prefix "Officials said "',
    ),
    "suffix-off-its-offsets": Breakage(
        "EvidenceShape",
        "claim-meeting-held",
        SOURCE,
        'oa:suffix ". Officials"',
        'oa:suffix "; Officials"',
    ),
    "offset-past-the-end": Breakage(
        "EvidenceShape",
        "claim-meeting-held",
        SOURCE,
        "oa:start 0 ; oa:end 39 ]",
        "oa:start 0 ; oa:end 500 ]",
    ),
    "empty-quote": Breakage(
        "TextQuoteSelectorShape",
        "claim-meeting-actors",
        SOURCE,
        'oa:exact "Alpha met Beta" ] ,\n                       [ a oa:TextPositionSelector ; '
        "oa:start 0 ; oa:end 14 ] ] .\n\n:claim-meeting-beta",
        'oa:exact "" ] ,\n                       [ a oa:TextPositionSelector ; '
        "oa:start 0 ; oa:end 14 ] ] .\n\n:claim-meeting-beta",
    ),
    "start-after-end": Breakage(
        "TextPositionSelectorShape",
        "claim-meeting-beta",
        SOURCE,
        "oa:start 0 ; oa:end 14 ] ] .\n\n:claim-gamma-considered",
        "oa:start 20 ; oa:end 14 ] ] .\n\n:claim-gamma-considered",
    ),
    "mention-not-in-quote": Breakage(
        "MentionShape",
        "claim-gamma-considered",
        SOURCE,
        'cq:surfaceForm "Gamma"@en',
        'cq:surfaceForm "Pyongyang"@en',
    ),
    "speculation-published-as-fact": Breakage(
        "BackedFactShape",
        "meeting",
        SOURCE,
        "    cq:participantCapacity :alpha-as-chief .",
        "    cq:participantCapacity :alpha-as-chief ;\n    cq:candidateVenue :gamma .",
    ),
    "document-without-publisher": Breakage(
        "SourceDocumentShape",
        "source/mini",
        SOURCE,
        "    schema:publisher :mini-publisher ;\n",
        "",
    ),
    "photograph-without-credit": Breakage(
        "PhotographShape",
        "mini-photo",
        SOURCE,
        '    schema:creditText "Photo desk" .',
        ".",
    ),
    "unnamed-source-without-label": Breakage(
        "UnnamedSourceShape",
        "officials",
        SOURCE,
        ':officials a cq:UnnamedSource ;\n    rdfs:label "officials"@en .',
        ":officials a cq:UnnamedSource .",
    ),
    "attributed-to-an-unlabelled-agent": Breakage(
        "AttributionShape",
        "nobody",
        SOURCE,
        "prov:wasAttributedTo :officials ;",
        "prov:wasAttributedTo :officials, :nobody ;",
    ),
    "two-lifecycle-stages": Breakage(
        "EventShape",
        "meeting",
        SOURCE,
        "    cq:lifecycle lifecycle:held ;\n    sem:hasActor",
        "    cq:lifecycle lifecycle:held, lifecycle:planned ;\n    sem:hasActor",
    ),
    "role-not-held-at-the-event": Breakage(
        "RoleValidAtEventShape",
        "meeting",
        SOURCE,
        'time:inXSDDate "2021-01-01"^^xsd:date',
        'time:inXSDDate "2020-01-01"^^xsd:date',
    ),
    "interval-ending-before-it-begins": Breakage(
        "IntervalShape",
        "alpha-as-chief",
        SOURCE,
        'time:inXSDDate "2019-01-01"^^xsd:date',
        'time:inXSDDate "2022-01-01"^^xsd:date',
    ),
    "instant-without-a-date": Breakage(
        "InstantShape",
        "meeting",
        SOURCE,
        '_:day a time:Instant ; time:inXSDDate "2020-03-02"^^xsd:date .',
        "_:day a time:Instant .",
    ),
    "membership-without-role": Breakage(
        "MembershipShape",
        "alpha-as-chief",
        SOURCE,
        " org:role :chief ;",
        "",
    ),
    "range-with-min-above-max": Breakage(
        "QuantityShape",
        "claim-gamma-considered",
        SOURCE,
        "schema:minValue 1 ; schema:maxValue 3",
        "schema:minValue 5 ; schema:maxValue 3",
    ),
    "two-english-labels": Breakage(
        "LabelShape",
        "beta",
        BACKGROUND,
        'rdfs:label "Beta"@en ;',
        'rdfs:label "Beta"@en, "B"@en ;',
    ),
    "untagged-label": Breakage(
        "LabelShape",
        "gamma",
        BACKGROUND,
        'rdfs:label "Gamma"@en ;',
        'rdfs:label "Gamma" ;',
    ),
    "wikidata-page-instead-of-entity": Breakage(
        "SameAsShape",
        "alpha",
        BACKGROUND,
        "<http://www.wikidata.org/entity/Q1>",
        "<https://www.wikidata.org/wiki/Q1>",
    ),
    "two-resources-share-a-wikidata-link": Breakage(
        "SameAsShape",
        "beta",
        BACKGROUND,
        "<http://www.wikidata.org/entity/Q2>",
        "<http://www.wikidata.org/entity/Q1>",
    ),
    "issue-outside-any-scheme": Breakage(
        "IssueShape",
        "arsenal",
        BACKGROUND,
        "skos:inScheme :issues ; ",
        "",
    ),
}


def project_with(tmp_path: Path, breakage: Breakage | None) -> Path:
    shutil.copytree(FIXTURE, tmp_path, dirs_exist_ok=True)
    for folder in ("ontology", "shapes"):
        shutil.copytree(PROJECT_ROOT / folder, tmp_path / folder)
    if breakage is not None:
        target = tmp_path / breakage.file
        text = target.read_text()
        assert breakage.old in text, f"the fixture no longer contains {breakage.old!r}"
        target.write_text(text.replace(breakage.old, breakage.new, 1))
    return tmp_path


def names(finding: Finding) -> str:
    """The resource a finding is about: the focus node, or the owner of a blank focus node."""
    return finding.owner if finding.focus.startswith("_:") else finding.focus


def test_the_fixture_conforms(tmp_path):
    report = validate_layout(project_with(tmp_path, None))
    assert report.conforms, report.to_text()


@pytest.mark.parametrize("case", BREAKAGES, ids=str)
def test_each_shape_fires_on_its_fixture(tmp_path, case):
    breakage = BREAKAGES[case]
    report = validate_layout(project_with(tmp_path, breakage))
    assert not report.conforms
    fired = {(f.shape, names(f)) for f in report.findings}
    assert (SHAPES + breakage.shape, ID + breakage.focus) in fired, report.to_text()
    assert all(f.message for f in report.findings)


def test_every_shape_has_a_failing_fixture():
    shapes_text = (PROJECT_ROOT / "shapes" / "communique-shapes.ttl").read_text()
    declared = {
        line.split()[0].removeprefix("shapes:")
        for line in shapes_text.splitlines()
        if line.startswith("shapes:") and "a sh:NodeShape" in line
    }
    assert declared == {b.shape for b in BREAKAGES.values()}
