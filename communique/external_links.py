"""The knowledge bases our resources link to with ``owl:sameAs``, and reading their IRIs.

`EXTERNAL_DATASETS` names each target (for the VoID linksets); `same_as_candidates` turns what a
person pastes (a Wikidata page URL, a GeoNames page, a prefixed name such as ``wd:Q22686``) into
the IRIs the data may hold for it; `resources_same_as` finds ours among them.

Accepted spellings, all meaning ``http://www.wikidata.org/entity/Q22686``:
``http(s)://www.wikidata.org/entity/Q22686``, ``http(s)://(www.|m.)wikidata.org/wiki/Q22686``
(``Property:P31`` and ``Lexeme:L1`` too), ``…/wiki/Special:EntityPage/Q22686``,
``…/wiki/Special:EntityData/Q22686.json`` and ``wd:Q22686``. For GeoNames feature 1605651:
``http(s)://sws.geonames.org/1605651/`` (with or without the final slash, or followed by
``about.rdf``) and ``http(s)://(www.)geonames.org/1605651/…``. Any other absolute http(s) IRI,
or a prefixed name with a prefix of `communique.namespaces.PREFIXES`, is looked up as it is.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pyoxigraph as ox
from rdflib.namespace import OWL

from communique.errors import BadRequest
from communique.graph_patterns import everywhere
from communique.namespaces import PREFIXES
from communique.store import Store

MAX_IRI_LENGTH = 2048


@dataclass(frozen=True)
class ExternalDataset:
    """A knowledge base our resources link to."""

    key: str
    title: str
    homepage: str
    uri_spaces: tuple[str, ...]
    """Prefixes of its entity IRIs, the canonical one first."""


WIKIDATA = ExternalDataset(
    "wikidata",
    "Wikidata",
    "https://www.wikidata.org/",
    ("http://www.wikidata.org/entity/", "https://www.wikidata.org/entity/"),
)
GEONAMES = ExternalDataset(
    "geonames",
    "GeoNames",
    "https://www.geonames.org/",
    ("https://sws.geonames.org/", "http://sws.geonames.org/"),
)
EXTERNAL_DATASETS = (WIKIDATA, GEONAMES)

_WIKIDATA_URL = re.compile(
    r"https?://(?:www\.|m\.)?wikidata\.org/"
    r"(?:entity/|wiki/(?:Special:EntityPage/|Special:EntityData/|Property:|Lexeme:)?)"
    r"(?P<id>[QPL][1-9][0-9]{0,11})(?:\.[a-z]{2,6})?(?:[?#].*)?",
    re.IGNORECASE,
)
_GEONAMES_URL = re.compile(
    r"https?://(?:sws\.|www\.)?geonames\.org/(?P<id>[1-9][0-9]{0,11})(?:/.*)?(?:[?#].*)?",
    re.IGNORECASE,
)
_PREFIXED_NAME = re.compile(r"(?P<prefix>[A-Za-z][\w.-]*):(?P<local>[^\s/<>\"{}|\\^`]+)")
_FORBIDDEN = re.compile(r"[\x00-\x20<>\"{}|\\^`\x7f]")


def same_as_candidates(text: str) -> tuple[str, ...]:
    """The IRIs that `text` may be written as in ``owl:sameAs`` links, the canonical one first.

    >>> same_as_candidates("https://www.wikidata.org/wiki/Q22686")[0]
    'http://www.wikidata.org/entity/Q22686'
    >>> same_as_candidates("wd:Q30")[0]
    'http://www.wikidata.org/entity/Q30'
    >>> same_as_candidates("https://www.geonames.org/1605651/kingdom-of-thailand.html")[0]
    'https://sws.geonames.org/1605651/'

    :raises BadRequest: `text` is neither an absolute http(s) IRI nor a known prefixed name.
    """
    iri = _absolute_iri(text.strip())
    wikidata = _WIKIDATA_URL.fullmatch(iri)
    if wikidata:
        entity = wikidata.group("id").upper()
        return tuple(space + entity for space in WIKIDATA.uri_spaces)
    geonames = _GEONAMES_URL.fullmatch(iri)
    if geonames:
        feature = geonames.group("id")
        with_slash = tuple(f"{space}{feature}/" for space in GEONAMES.uri_spaces)
        return with_slash + tuple(iri.rstrip("/") for iri in with_slash)
    return (iri,)


def _absolute_iri(text: str) -> str:
    if not text:
        raise BadRequest("give the IRI to look up as the 'iri' parameter")
    if len(text) > MAX_IRI_LENGTH:
        raise BadRequest(f"the IRI is longer than {MAX_IRI_LENGTH} characters")
    prefixed = _PREFIXED_NAME.fullmatch(text)
    if prefixed and prefixed.group("prefix") in PREFIXES:
        text = PREFIXES[prefixed.group("prefix")] + prefixed.group("local")
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or _FORBIDDEN.search(text):
        raise BadRequest(
            f"{text!r} is not an absolute http(s) IRI (nor a prefixed name such as wd:Q22686)"
        )
    try:
        ox.NamedNode(text)
    except ValueError as error:
        raise BadRequest(f"{text!r} is not a valid IRI: {error}") from None
    return text


def resources_same_as(
    store: Store, candidates: tuple[str, ...], is_ours: Callable[[str], bool]
) -> list[str]:
    """Our resources linked by ``owl:sameAs`` (either way) to any of `candidates`, sorted; a
    candidate that is itself ours and described in the store is included."""
    values = " ".join(f"<{iri}>" for iri in candidates)
    union = store.union_default_graph
    linked = everywhere(f"?resource <{OWL.sameAs}> ?external", union_default_graph=union)
    linking = everywhere(f"?external <{OWL.sameAs}> ?resource", union_default_graph=union)
    described = everywhere("?external ?anyPredicate ?anyObject", union_default_graph=union)
    itself = f"{described} BIND (?external AS ?resource)"
    query = (
        f"SELECT DISTINCT ?resource WHERE {{ VALUES ?external {{ {values} }} "
        f"{{ {linked} }} UNION {{ {linking} }} UNION {{ {itself} }} FILTER (isIRI(?resource)) }}"
    )
    found = {row["resource"].value for row in store.query(query)}
    return sorted(iri for iri in found if is_ours(iri))
