"""``communique enrich``: what another knowledge base says about the entities we link to it.

For every entity with a verified ``owl:sameAs`` to the remote knowledge base (Wikidata by
default: IRIs under ``http://www.wikidata.org/entity/``), one SELECT per batch of `batch_size`
entities asks the endpoint for labels, descriptions and coordinates (by default with Wikidata's
``rdfs:label``, ``schema:description`` and ``wdt:P625``). What comes back goes onto *our* IRIs,
in ``graph/enrichment/<name>.ttl`` (graph ``graph/enrichment/<name>``, see `communique.layout`):

* ``rdfs:label`` in the requested languages but English, and only in a language the entity has
  no label in elsewhere in the data: curated labels are never touched, and a resource keeps one
  label per language (the LabelShape's ``sh:uniqueLang``). Two remote labels in one language:
  the first in code-point order.
* ``schema:description`` likewise, one per language the entity has no description in (English
  included).
* coordinates as ``schema:geo [ a schema:GeoCoordinates ; schema:latitude … ; schema:longitude …
  ]`` (``xsd:decimal`` degrees, WGS 84), from ``"Point(longitude latitude)"^^geo:wktLiteral``
  literals; other shapes and other globes are left out.
* provenance (PROV-O): the graph is a ``prov:Entity`` ``prov:wasGeneratedBy`` an activity that
  ``prov:used`` the endpoint and the query (a ``prov:Entity`` whose ``prov:value`` is the query
  text, its VALUES block standing for each batch), with ``prov:startedAtTime`` and
  ``prov:endedAtTime``.

Nothing else in the data changes. The file is written in a fixed order (subjects, predicates and
values sorted), so a rerun against an unchanged endpoint rewrites it byte for byte except the two
lines holding ``prov:startedAtTime`` and ``prov:endedAtTime``. Before the file replaces the old
one (a temporary file renamed over it, so a reader never sees half a file), the whole data with
the new graph in place of the old is validated against the shapes; data that does not conform,
or any failure of the endpoint, leaves the old file as it was.
"""

import os
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyoxigraph as ox
from rdflib.namespace import OWL, PROV, RDF, RDFS, XSD

from communique.dataset import read_quads
from communique.errors import BadRequest, ShapesViolation
from communique.layout import GraphFile, Layout
from communique.namespaces import DEFAULT_BASE, GRAPH, SCHEMA, WD, WDT
from communique.remote_sparql import RemoteSparql
from communique.validation import ValidationReport, load_layout_files, loaded_file, run_validation

DEFAULT_ENDPOINT = "https://query.wikidata.org/sparql"
DEFAULT_NAME = "wikidata"
DEFAULT_LANGUAGES = ("ar", "de", "en", "es", "fr", "ja", "ko", "ru", "zh")
"""The UN's six languages and those of the states the bundled source is about."""
CURATED_LANGUAGE = "en"
"""Labels in this language are ours alone; enrichment never adds one."""
DEFAULT_BATCH_SIZE = 50
ITEM = "item"
KIND = "kind"
VALUE = "value"
WKT_POINT = re.compile(
    r"\s*(?:<(?P<crs>[^>]*)>\s*)?POINT\s*\(\s*(?P<lon>[-+]?[0-9.eE+-]+)\s+(?P<lat>[-+]?[0-9.eE+-]+)\s*\)\s*",
    re.IGNORECASE,
)
EARTH_CRS = frozenset({"", "http://www.opengis.net/def/crs/OGC/1.3/CRS84", str(WD.Q2)})
"""Coordinate reference systems of points on Earth in WGS 84 (Wikidata names Earth Q2)."""
GEO_WKT_LITERAL = "http://www.opengis.net/ont/geosparql#wktLiteral"
WIKIDATA_DESCRIPTION = "http://schema.org/description"
"""Wikidata's descriptions: schema.org's property in its ``http:`` namespace."""
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
TURTLE_PREFIXES = {
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "xsd": str(XSD),
    "prov": str(PROV),
    "schema": str(SCHEMA),
}


@dataclass(frozen=True)
class EnrichmentSource:
    """Where to ask and how the remote knowledge base spells what we want."""

    endpoint: str = DEFAULT_ENDPOINT
    name: str = DEFAULT_NAME
    """The file (``graph/enrichment/<name>.ttl``) and graph the results go to."""
    entity_namespace: str = str(WD)
    """Our ``owl:sameAs`` targets under this namespace are looked up."""
    label_property: str = str(RDFS.label)
    description_property: str = WIKIDATA_DESCRIPTION
    coordinates_property: str = str(WDT.P625)
    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    batch_size: int = DEFAULT_BATCH_SIZE


@dataclass
class EnrichmentResult:
    path: Path
    entities: int
    labels: int = 0
    descriptions: int = 0
    coordinates: int = 0
    report: ValidationReport | None = None


@dataclass
class Findings:
    """What the endpoint said, on our IRIs: labels and descriptions by language, points."""

    labels: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    descriptions: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    points: dict[str, set[tuple[Decimal, Decimal]]] = field(
        default_factory=lambda: defaultdict(set)
    )


@dataclass(frozen=True)
class Curated:
    """The data outside the file being replaced: links, and the languages already covered."""

    links: Mapping[str, tuple[str, ...]]
    """Remote IRI -> our IRIs linked to it."""
    label_languages: Mapping[str, set[str]]
    description_languages: Mapping[str, set[str]]


def enrich(
    root: Path,
    source: EnrichmentSource,
    client: RemoteSparql,
    *,
    output_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> EnrichmentResult:
    """Fetch, validate and write ``<output_dir>/<name>.ttl`` (default: the project's
    ``graph/enrichment/``).

    :raises UpstreamError: the endpoint failed, timed out or answered garbage.
    :raises ShapesViolation: the data with the new graph would not conform (nothing written).
    :raises DataError: the project's data cannot be read.
    :raises BadRequest: the source's name cannot be a file name.
    """
    if not NAME_PATTERN.fullmatch(source.name):
        raise BadRequest(f"enrichment name {source.name!r}: use lower-case letters, digits, '-'")
    layout = Layout(root)
    target = (output_dir or root / "graph" / "enrichment") / f"{source.name}.ttl"
    curated = read_curated(layout, source)
    started = _now()
    findings = fetch(curated, source, client, progress or _ignore)
    kept = keep_new(findings, curated, source)
    text = enrichment_turtle(kept, source, started, _now())
    report = write_validated(layout, target, text, source)
    return EnrichmentResult(
        target,
        entities=len({iri for iris in curated.links.values() for iri in iris}),
        labels=sum(map(len, kept.labels.values())),
        descriptions=sum(map(len, kept.descriptions.values())),
        coordinates=sum(map(len, kept.points.values())),
        report=report,
    )


def read_curated(layout: Layout, source: EnrichmentSource) -> Curated:
    """Links and covered languages, from every data file but the one being replaced."""
    store = ox.Store()
    store.extend(
        quad for file in _other_files(layout, source) for quad in read_quads(file.path, file.graph)
    )
    links: dict[str, list[str]] = defaultdict(list)
    for quad in store.quads_for_pattern(None, ox.NamedNode(str(OWL.sameAs)), None):
        remote = quad.object
        if (
            isinstance(remote, ox.NamedNode)
            and isinstance(quad.subject, ox.NamedNode)
            and remote.value.startswith(source.entity_namespace)
        ):
            links[remote.value].append(quad.subject.value)
    return Curated(
        links={remote: tuple(sorted(set(ours))) for remote, ours in links.items()},
        label_languages=_languages(store, str(RDFS.label)),
        description_languages=_languages(store, str(SCHEMA.description)),
    )


def _other_files(layout: Layout, source: EnrichmentSource) -> list[GraphFile]:
    replaced = str(GRAPH[f"enrichment/{source.name}"])
    return [file for file in layout.data_files() if file.graph != replaced]


def _languages(store: ox.Store, predicate: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for quad in store.quads_for_pattern(None, ox.NamedNode(predicate), None):
        if isinstance(quad.object, ox.Literal) and quad.object.language:
            found[quad.subject.value].add(quad.object.language.lower())
    return found


# --- asking -----------------------------------------------------------------------------------


def enrichment_query(source: EnrichmentSource, items: Iterable[str]) -> str:
    """The SELECT sent for one batch of remote entities."""
    languages = ", ".join(str(ox.Literal(language)) for language in source.languages)
    values = " ".join(f"<{item}>" for item in items)
    return (
        f"SELECT ?{ITEM} ?{KIND} ?{VALUE} WHERE {{\n"
        f"  VALUES ?{ITEM} {{ {values} }}\n"
        f'  {{ ?{ITEM} <{source.label_property}> ?{VALUE} . BIND ("label" AS ?{KIND}) }}\n'
        f"  UNION {{ ?{ITEM} <{source.description_property}> ?{VALUE} . "
        f'BIND ("description" AS ?{KIND}) }}\n'
        f"  UNION {{ ?{ITEM} <{source.coordinates_property}> ?{VALUE} . "
        f'BIND ("coordinates" AS ?{KIND}) }}\n'
        f'  FILTER (?{KIND} = "coordinates" || LANG(?{VALUE}) IN ({languages}))\n'
        "}\n"
    )


def fetch(
    curated: Curated,
    source: EnrichmentSource,
    client: RemoteSparql,
    progress: Callable[[str], None],
) -> Findings:
    """Ask the endpoint about every linked entity, in batches; findings on our IRIs."""
    remote = sorted(curated.links)
    batches = [remote[i : i + source.batch_size] for i in range(0, len(remote), source.batch_size)]
    findings = Findings()
    for number, batch in enumerate(batches, start=1):
        progress(f"batch {number}/{len(batches)}: {len(batch)} entities from {source.endpoint}")
        for row in client.select(source.endpoint, enrichment_query(source, batch)):
            _take(row, curated, findings, source)
    return findings


def _take(
    row: ox.QuerySolution, curated: Curated, findings: Findings, source: EnrichmentSource
) -> None:
    item, kind, value = row[ITEM], row[KIND], row[VALUE]
    if not isinstance(item, ox.NamedNode) or not isinstance(value, ox.Literal) or kind is None:
        return
    for ours in curated.links.get(item.value, ()):
        if kind.value == "coordinates":
            point = wgs84_point(value)
            if point:
                findings.points[ours].add(point)
            continue
        language = (value.language or "").lower()
        if language not in {wanted.lower() for wanted in source.languages}:
            continue
        table = findings.labels if kind.value == "label" else findings.descriptions
        previous = table[ours].get(language)
        table[ours][language] = value.value if previous is None else min(previous, value.value)


def wgs84_point(literal: ox.Literal) -> tuple[Decimal, Decimal] | None:
    """(latitude, longitude) of a WKT point on Earth, or None.

    >>> wgs84_point(ox.Literal("Point(125.75 39.0333)", datatype=ox.NamedNode(GEO_WKT_LITERAL)))
    (Decimal('39.0333'), Decimal('125.75'))
    """
    match = WKT_POINT.fullmatch(literal.value)
    if not match or (match.group("crs") or "") not in EARTH_CRS:
        return None
    try:
        longitude, latitude = Decimal(match.group("lon")), Decimal(match.group("lat"))
    except InvalidOperation:
        return None
    if not (latitude.is_finite() and longitude.is_finite()):
        return None
    if abs(latitude) > 90 or abs(longitude) > 180:
        return None
    return latitude, longitude


def keep_new(findings: Findings, curated: Curated, source: EnrichmentSource) -> Findings:
    """What the data does not say yet: labels and descriptions in uncovered languages only."""
    kept = Findings()
    for ours, labels in findings.labels.items():
        covered = curated.label_languages.get(ours, set())
        for language, text in labels.items():
            if language not in covered and not _is_curated_language(language):
                kept.labels[ours][language] = text
    for ours, descriptions in findings.descriptions.items():
        covered = curated.description_languages.get(ours, set())
        for language, text in descriptions.items():
            if language not in covered:
                kept.descriptions[ours][language] = text
    kept.points.update(findings.points)
    return kept


def _is_curated_language(language: str) -> bool:
    return language == CURATED_LANGUAGE or language.startswith(CURATED_LANGUAGE + "-")


# --- writing ----------------------------------------------------------------------------------


def enrichment_turtle(
    findings: Findings, source: EnrichmentSource, started: datetime, ended: datetime
) -> str:
    """The enrichment graph as Turtle, in a fixed order."""
    lines = [
        f"# What {source.endpoint} says about the entities we link to it, written by",
        "# `communique enrich`. Do not edit: the next run replaces this file.",
        "",
        *(f"@prefix {name}: <{iri}> ." for name, iri in TURTLE_PREFIXES.items()),
        "",
        *_provenance_lines(source, started, ended),
    ]
    subjects = sorted(set(findings.labels) | set(findings.descriptions) | set(findings.points))
    for subject in subjects:
        statements = [
            *(
                f"rdfs:label {_literal(text, lang)}"
                for lang, text in sorted(findings.labels[subject].items())
            ),
            *(
                f"schema:description {_literal(text, lang)}"
                for lang, text in sorted(findings.descriptions[subject].items())
            ),
            *(
                _geo(latitude, longitude)
                for latitude, longitude in sorted(findings.points[subject])
            ),
        ]
        if statements:
            lines += ["", f"<{subject}>", *_statement_lines(statements)]
    return "\n".join(lines) + "\n"


def _provenance_lines(source: EnrichmentSource, started: datetime, ended: datetime) -> list[str]:
    graph = str(GRAPH[f"enrichment/{source.name}"])
    endpoint = source.endpoint
    query = enrichment_query(source, ["…"]).replace("<…>", "…")
    activity = f"Retrieval of labels, descriptions and coordinates from {endpoint}"
    query_label = (
        f"SPARQL query, sent once per batch of at most {source.batch_size} entities "
        "listed in its VALUES block"
    )
    return [
        f"<{graph}> a prov:Entity ;",
        f"    rdfs:label {_literal(f'Enrichment from {endpoint}', 'en')} ;",
        f"    prov:wasGeneratedBy <{graph}#retrieval> .",
        "",
        f"<{graph}#retrieval> a prov:Activity ;",
        f"    rdfs:label {_literal(activity, 'en')} ;",
        f"    prov:used <{endpoint}>, <{graph}#query> ;",
        f"    prov:startedAtTime {_date_time(started)} ;",
        f"    prov:endedAtTime {_date_time(ended)} .",
        "",
        f"<{graph}#query> a prov:Entity ;",
        f"    rdfs:label {_literal(query_label, 'en')} ;",
        f"    prov:value {_literal(query)} .",
        "",
        f"<{endpoint}> a prov:Entity ;",
        f"    rdfs:label {_literal(f'SPARQL endpoint {endpoint}', 'en')} .",
    ]


def _statement_lines(statements: list[str]) -> list[str]:
    last = len(statements) - 1
    return [f"    {text} {'.' if i == last else ';'}" for i, text in enumerate(statements)]


def _geo(latitude: Decimal, longitude: Decimal) -> str:
    return (
        "schema:geo [ a schema:GeoCoordinates ; "
        f"schema:latitude {_decimal(latitude)} ; schema:longitude {_decimal(longitude)} ]"
    )


def _decimal(value: Decimal) -> str:
    text = format(value, "f")
    return f'"{text}"^^xsd:decimal'


def _literal(text: str, language: str | None = None) -> str:
    return str(ox.Literal(text, language=language) if language else ox.Literal(text))


def _date_time(moment: datetime) -> str:
    return f'"{moment.strftime("%Y-%m-%dT%H:%M:%SZ")}"^^xsd:dateTime'


def write_validated(
    layout: Layout, target: Path, text: str, source: EnrichmentSource
) -> ValidationReport:
    """Validate the data with `text` as the enrichment graph, then put it at `target` (a
    temporary file beside it, renamed over it).

    :raises ShapesViolation: it does not conform; `target` is left as it was.
    """
    report = validate_with(layout, text, source)
    if not report.conforms:
        raise ShapesViolation(
            "the enriched data does not conform to the shapes; nothing was written:\n"
            + report.to_text()
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with staging.open("w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return report


def validate_with(layout: Layout, text: str, source: EnrichmentSource) -> ValidationReport:
    """The validation of every data file of `layout`, `text` in place of the enrichment graph."""
    started = time.perf_counter()
    graph = ox.NamedNode(str(GRAPH[f"enrichment/{source.name}"]))
    new_graph = [
        ox.Quad(quad.subject, quad.predicate, quad.object, graph)
        for quad in ox.parse(text.encode("utf-8"), format=ox.RdfFormat.TURTLE)
    ]
    data = load_layout_files(layout, _other_files(layout, source), DEFAULT_BASE)
    data.append(loaded_file(f"graph/enrichment/{source.name}.ttl", new_graph))
    shapes = load_layout_files(layout, layout.shape_files(), DEFAULT_BASE)
    return run_validation(data, shapes, started)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _ignore(_message: str) -> None:
    return None
