"""Finding resources by name: a label index, built once per publication version, in memory.

What is indexed: every literal of ``rdfs:label``, ``skos:prefLabel``, ``schema:name`` and
``foaf:name`` (preferred labels), ``skos:altLabel`` (alternative), ``skos:hiddenLabel`` and the
``cq:surfaceForm`` of a mention (hidden: found, never shown as the name), on IRI subjects (a
mention's words index the resource it ``cq:refersTo``).

Labels are compared by their key (`normalize`): Unicode NFKD with combining marks dropped,
casefolded, punctuation, hyphens and separators turned into spaces, whitespace collapsed, NFC.
So ``Kim Jong-un`` and ``kim jong un`` have the same key, and ``viet nam`` finds ``Việt Nam``.

Ranking (`score` gives the number, `LabelIndex.search` the order): a label that *is* the query
beats one that starts with it, which beats one with a word starting with each query word (in any
order), which beats one merely containing it; then preferred labels beat alternative ones,
which beat hidden ones; then the shorter label, then the IRI. One hit per resource: its best.

How it stays fast: every key is one line of one string, the lines ordered by (label kind, key
length, IRI), so ``str.find`` meets the matches of a tier in rank order and each tier stops as
soon as `limit` resources are found. Memory is a few hundred bytes per label, with at most
`MAX_INDEXED_LABELS` labels.
"""

import bisect
import itertools
import logging
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import IntEnum

import pyoxigraph as ox
from rdflib.namespace import FOAF, RDF, RDFS, SKOS

from communique.errors import BadRequest
from communique.graph_patterns import everywhere
from communique.labels import LABEL_PROPERTY_RANK
from communique.namespaces import CQ, SCHEMA
from communique.store import Store

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
"""Longest search text accepted, in characters."""
MAX_LIMIT = 100
"""Most hits one search returns."""
MAX_INDEXED_LABELS = 2_000_000
"""Labels beyond this many are left out of the index (and logged), to bound its memory."""
SORTED_RANGE_LIMIT = 2000
"""Prefix matches up to this many are sorted into rank order; more are found by a scan."""
_AFTER_EVERY_CHARACTER = chr(0x10FFFF)


class LabelKind(IntEnum):
    """How a label names its resource; the lower, the better a match on it ranks."""

    PREFERRED = 0
    ALTERNATIVE = 1
    HIDDEN = 2


class MatchKind(IntEnum):
    """How a label matches the query; the lower, the better."""

    EXACT = 0
    PREFIX = 1
    WORD_PREFIX = 2
    SUBSTRING = 3


LABEL_PREDICATE_TO_KIND = {
    str(RDFS.label): LabelKind.PREFERRED,
    str(SKOS.prefLabel): LabelKind.PREFERRED,
    str(SCHEMA.name): LabelKind.PREFERRED,
    str(FOAF.name): LabelKind.PREFERRED,
    str(SKOS.altLabel): LabelKind.ALTERNATIVE,
    str(SKOS.hiddenLabel): LabelKind.HIDDEN,
    str(CQ.surfaceForm): LabelKind.HIDDEN,
}
"""Label predicate -> the kind of label its literals are."""

MATCH_KIND_TO_SCORE = {
    MatchKind.EXACT: 100.0,
    MatchKind.PREFIX: 80.0,
    MatchKind.WORD_PREFIX: 60.0,
    MatchKind.SUBSTRING: 40.0,
}
LABEL_KIND_TO_PENALTY = {
    LabelKind.PREFERRED: 0.0,
    LabelKind.ALTERNATIVE: 6.0,
    LabelKind.HIDDEN: 12.0,
}
LENGTH_PENALTY = 5.0
"""Most a label loses for being longer than the query (scaled by the share it does not cover)."""

_SEPARATOR_CATEGORIES = frozenset(
    {"Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Zs", "Zl", "Zp", "Cc"}
)
"""Unicode categories turned into spaces: punctuation, separators, control characters."""
_ASCII_SEPARATORS_TO_SPACE = {
    code: " " for code in range(128) if unicodedata.category(chr(code)) in _SEPARATOR_CATEGORIES
}


@dataclass(frozen=True, slots=True)
class Label:
    """One label literal of one resource."""

    iri: str
    text: str
    language: str
    kind: LabelKind
    preference: int = 0
    """Among preferred labels in one language, the lowest is shown (`labels.LABEL_PROPERTIES`
    order: ``skos:prefLabel`` before ``rdfs:label``...)."""


@dataclass(frozen=True, slots=True)
class Hit:
    """A resource found: its display `label`, the label that `matched`, its types, its score."""

    iri: str
    label: str
    matched: str
    types: tuple[str, ...]
    score: float


def normalize(text: str) -> str:
    """The key labels are compared by.

    >>> normalize("  Kim Jong-un ")
    'kim jong un'
    >>> normalize("Việt Nam") == normalize("viet nam")
    True
    >>> normalize("Democratic People’s Republic of Korea")
    'democratic people s republic of korea'
    """
    if text.isascii():
        return " ".join(text.translate(_ASCII_SEPARATORS_TO_SPACE).lower().split())
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(
        " " if unicodedata.category(char) in _SEPARATOR_CATEGORIES else char
        for char in decomposed
        if not unicodedata.combining(char)
    )
    return unicodedata.normalize("NFC", " ".join(kept.casefold().split()))


def match_kind(query_key: str, label_key: str) -> MatchKind | None:
    """How the label key matches the query key (both normalised), or None."""
    if not query_key:
        return None
    if label_key == query_key:
        return MatchKind.EXACT
    if label_key.startswith(query_key):
        return MatchKind.PREFIX
    if _words_prefixed(query_key, label_key):
        return MatchKind.WORD_PREFIX
    if query_key in label_key:
        return MatchKind.SUBSTRING
    return None


def score(query: str, label: str, kind: LabelKind = LabelKind.PREFERRED) -> float:
    """How well `label` (of `kind`) matches `query`, from 0 (no match) to 100 (the same key).

    The match kind sets the band: exact 100, prefix 80, every query word starting a label
    word 60, substring 40. A label of a lesser kind loses 6 (alternative) or 12 (hidden); a
    label longer than the query loses up to 5, by the share of it the query leaves uncovered.
    Bands never overlap, so sorting by score is the ranking of `LabelIndex.search` (up to the
    IRI, which breaks ties).

    >>> score("Kim Jong-un", "kim jong un")
    100.0
    >>> score("kim", "Kim Jong Un")
    76.36
    >>> score("jong un", "Kim Jong Un", LabelKind.ALTERNATIVE)
    52.18
    >>> score("ailand", "Thailand")
    38.75
    >>> score("seoul", "Pyongyang")
    0.0
    """
    query_key, label_key = normalize(query), normalize(label)
    found = match_kind(query_key, label_key)
    if found is None:
        return 0.0
    return _score(found, kind, len(query_key), len(label_key))


def _score(found: MatchKind, kind: LabelKind, query_length: int, label_length: int) -> float:
    uncovered = 1.0 - min(query_length / label_length, 1.0)
    value = MATCH_KIND_TO_SCORE[found] - LABEL_KIND_TO_PENALTY[kind] - LENGTH_PENALTY * uncovered
    return round(value, 2)


def _words_prefixed(query_key: str, label_key: str) -> bool:
    """True when each query word starts some word of the label."""
    label_words = label_key.split(" ")
    return all(
        any(word.startswith(query_word) for word in label_words)
        for query_word in query_key.split(" ")
    )


def language_matches(language: str, wanted: str | None) -> bool:
    """True when a label in `language` may match a search in `wanted` (a language range).

    Labels without a language tag match every search.
    """
    if not wanted or not language or wanted == "*":
        return True
    language, wanted = language.lower(), wanted.lower()
    return language == wanted or language.startswith(wanted + "-")


class LabelIndex:
    """The labels of a dataset, ready to search. Build it with `from_store` or `from_labels`."""

    def __init__(self, labels: Iterable[Label], types: Mapping[str, Iterable[str]]):
        unique: dict[tuple[str, str, LabelKind], Label] = {}
        for label in labels:
            unique.setdefault((label.iri, normalize(label.text), label.kind), label)
        ranked = sorted(
            ((key, label) for (_, key, _), label in unique.items() if key),
            key=lambda item: (item[1].kind, len(item[0]), item[1].iri, item[0], item[1].text),
        )
        self._keys = [key for key, _ in ranked]
        self._labels = [label for _, label in ranked]
        self._iris = list(dict.fromkeys(label.iri for label in self._labels))
        self._iri_to_id = {iri: number for number, iri in enumerate(self._iris)}
        self._iri_ids = [self._iri_to_id[label.iri] for label in self._labels]
        self._types = [tuple(sorted(set(types.get(iri, ())))) for iri in self._iris]
        self._names = self._display_names()
        by_key = sorted(range(len(self._keys)), key=self._keys.__getitem__)
        self._sorted_keys = [self._keys[entry] for entry in by_key]
        self._sorted_entries = by_key
        self._starts = list(itertools.accumulate((len(key) + 2 for key in self._keys), initial=0))
        self._text = "".join(f"\n {key}" for key in self._keys) + "\n"

    @classmethod
    def from_labels(
        cls, labels: Iterable[Label], types: Mapping[str, Iterable[str]] | None = None
    ) -> "LabelIndex":
        return cls(labels, types or {})

    @classmethod
    def from_store(cls, store: Store, *, max_labels: int = MAX_INDEXED_LABELS) -> "LabelIndex":
        """The index of every label in `store` (every graph)."""
        union = store.union_default_graph
        labels = list(_read_labels(store, union, max_labels))
        types: dict[str, list[str]] = {}
        for row in store.query(_types_query(union)):
            types.setdefault(row["s"].value, []).append(row["type"].value)
        return cls(labels, types)

    def __len__(self) -> int:
        """The number of distinct labels indexed."""
        return len(self._keys)

    def name_of(self, iri: str, language: str = "") -> str | None:
        """The preferred label of `iri` to show (in `language` when it has one), or None."""
        iri_id = self._iri_to_id.get(iri)
        return None if iri_id is None else self._display_name(iri_id, language)

    def search(
        self,
        query: str,
        limit: int = 10,
        types: Iterable[str] | None = None,
        lang: str | None = None,
    ) -> list[Hit]:
        """The best `limit` resources whose labels match `query`, best first.

        `types`: only resources with at least one of these ``rdf:type`` IRIs. `lang`: only labels
        in that language range (``en`` matches ``en-GB``; untagged labels always match); the
        display label is then chosen in it too.

        :raises BadRequest: the query is empty, has no letter or digit, or is over
            `MAX_QUERY_CHARS`; `limit` is not between 1 and `MAX_LIMIT`.
        """
        key = checked_query_key(query)
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"the limit must be between 1 and {MAX_LIMIT}, not {limit}")
        selection = _Selection(self, limit, frozenset(types) if types else None, lang)
        selection.take(MatchKind.EXACT, self._with_key(key))
        selection.take(MatchKind.PREFIX, self._with_prefix(key))
        self._take_inner_matches(key, selection)
        return [self._hit(entry, kind, key, lang) for entry, kind in selection.chosen()]

    def _with_key(self, key: str) -> list[int]:
        low = bisect.bisect_left(self._sorted_keys, key)
        high = bisect.bisect_right(self._sorted_keys, key, low)
        return sorted(self._sorted_entries[low:high])

    def _with_prefix(self, key: str) -> Iterable[int]:
        """Entries whose key starts with `key`, in rank order (sorted, or found by a scan when
        there are so many that the first few will do)."""
        low = bisect.bisect_left(self._sorted_keys, key)
        high = bisect.bisect_left(self._sorted_keys, key + _AFTER_EVERY_CHARACTER, low)
        if high - low <= SORTED_RANGE_LIMIT:
            return sorted(self._sorted_entries[low:high])
        return self._lines_containing(f"\n {key}")

    def _take_inner_matches(self, key: str, selection: "_Selection") -> None:
        """Word-prefix and substring matches, scanning for the query's longest word.

        Until substring matches of `limit` resources are set aside (the best line of each),
        every line containing the word is classified; after that, only lines where it starts a
        word can still matter.
        """
        if selection.full:
            return
        word = max(key.split(" "), key=len)
        inner: dict[int, int] = {}
        resume_at = None
        for entry in self._lines_containing(word):
            found = self._inner_match(key, entry, selection)
            if found == MatchKind.SUBSTRING:
                inner.setdefault(self.resource_of(entry), entry)
                if len(inner) == selection.limit:
                    resume_at = entry + 1
                    break
            elif found == MatchKind.WORD_PREFIX and selection.full:
                return
        if resume_at is not None:
            for entry in self._lines_containing(f" {word}", self._starts[resume_at]):
                if self._inner_match(key, entry, selection) and selection.full:
                    return
        selection.take(MatchKind.SUBSTRING, inner.values())

    def _inner_match(self, key: str, entry: int, selection: "_Selection") -> MatchKind | None:
        """How a line found by the scan matches; a word-prefix match is taken at once."""
        if not selection.wants(entry):
            return None
        found = match_kind(key, self._keys[entry])
        if found == MatchKind.WORD_PREFIX:
            selection.take(found, (entry,))
        return found

    def _lines_containing(self, needle: str, start: int = 0) -> Iterator[int]:
        """Entries from offset `start` whose line contains `needle`, in rank order, each once."""
        text, starts = self._text, self._starts
        position = text.find(needle, start)
        while position != -1:
            entry = bisect.bisect_right(starts, position) - 1
            yield entry
            position = text.find(needle, starts[entry + 1])

    def admits(self, entry: int, wanted_types: frozenset[str] | None, lang: str | None) -> bool:
        """True when `entry` passes the type and language filters."""
        if not language_matches(self._labels[entry].language, lang):
            return False
        return wanted_types is None or not wanted_types.isdisjoint(
            self._types[self._iri_ids[entry]]
        )

    def resource_of(self, entry: int) -> int:
        return self._iri_ids[entry]

    def _hit(self, entry: int, kind: MatchKind, key: str, lang: str | None) -> Hit:
        label = self._labels[entry]
        iri_id = self._iri_ids[entry]
        value = _score(kind, label.kind, len(key), len(self._keys[entry]))
        name = self._display_name(iri_id, lang or label.language) or label.text
        return Hit(label.iri, name, label.text, self._types[iri_id], value)

    def _display_names(self) -> list[dict[str, str]]:
        """Per resource and language: its preferred label of lowest `Label.preference` (the
        shortest among equals)."""
        chosen: list[dict[str, Label]] = [{} for _ in self._iris]
        for label, iri_id in zip(self._labels, self._iri_ids, strict=True):
            language = label.language.lower()
            current = chosen[iri_id].get(language)
            if label.kind == LabelKind.PREFERRED and (
                current is None or label.preference < current.preference
            ):
                chosen[iri_id][language] = label
        return [{lang: label.text for lang, label in names.items()} for names in chosen]

    def _display_name(self, iri_id: int, language: str) -> str | None:
        names = self._names[iri_id]
        for choice in (language.lower(), language.lower().split("-")[0], "", "en"):
            if choice in names:
                return names[choice]
        return next(iter(names.values()), None)


class _Selection:
    """The resources chosen so far by one search: one entry each, in rank order, up to a limit."""

    def __init__(
        self,
        index: LabelIndex,
        limit: int,
        wanted_types: frozenset[str] | None,
        lang: str | None,
    ):
        self.limit = limit
        self._index = index
        self._wanted_types = wanted_types
        self._lang = lang
        self._chosen: dict[int, tuple[int, MatchKind]] = {}

    @property
    def full(self) -> bool:
        return len(self._chosen) >= self.limit

    def wants(self, entry: int) -> bool:
        """True when `entry` names a resource not chosen yet and passes the filters."""
        return self._index.resource_of(entry) not in self._chosen and self._index.admits(
            entry, self._wanted_types, self._lang
        )

    def take(self, kind: MatchKind, entries: Iterable[int]) -> None:
        """Choose from `entries` (in rank order, all matching as `kind`) until full."""
        for entry in entries:
            if self.full:
                return
            if self.wants(entry):
                self._chosen[self._index.resource_of(entry)] = (entry, kind)

    def chosen(self) -> list[tuple[int, MatchKind]]:
        return list(self._chosen.values())


def checked_query_key(query: str) -> str:
    """The key of a search text, refusing texts that cannot be searched.

    :raises BadRequest: empty, over `MAX_QUERY_CHARS`, or without a letter or digit.
    """
    if not query or not query.strip():
        raise BadRequest("the search text is empty")
    if len(query) > MAX_QUERY_CHARS:
        raise BadRequest(
            f"the search text is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}"
        )
    key = normalize(query)
    if not key:
        raise BadRequest("the search text has no letter or digit to search for")
    return key


def _labels_query(union_default_graph: bool) -> str:
    predicates = " ".join(f"<{p}>" for p in LABEL_PREDICATE_TO_KIND if p != str(CQ.surfaceForm))
    plain = everywhere(
        f"VALUES ?p {{ {predicates} }} ?s ?p ?label", union_default_graph=union_default_graph
    )
    mention = everywhere(
        f"?mention <{CQ.surfaceForm}> ?label ; <{CQ.refersTo}> ?s",
        union_default_graph=union_default_graph,
    )
    return (
        "SELECT DISTINCT ?s ?p ?label WHERE { "
        f"{{ {plain} }} UNION {{ {mention} BIND (<{CQ.surfaceForm}> AS ?p) }} "
        "FILTER (isIRI(?s) && isLiteral(?label)) }"
    )


def _types_query(union_default_graph: bool) -> str:
    pattern = everywhere(f"?s <{RDF.type}> ?type", union_default_graph=union_default_graph)
    return f"SELECT DISTINCT ?s ?type WHERE {{ {pattern} FILTER (isIRI(?s) && isIRI(?type)) }}"


def _read_labels(store: Store, union_default_graph: bool, max_labels: int) -> Iterator[Label]:
    for count, row in enumerate(store.query(_labels_query(union_default_graph))):
        if count == max_labels:
            log.warning("the search index holds the first %d labels only", max_labels)
            return
        literal = row["label"]
        language = literal.language if isinstance(literal, ox.Literal) else None
        predicate = row["p"].value
        yield Label(
            row["s"].value,
            literal.value,
            language or "",
            LABEL_PREDICATE_TO_KIND[predicate],
            LABEL_PROPERTY_RANK.get(predicate, len(LABEL_PROPERTY_RANK)),
        )


class IndexCache:
    """The index of the current publication version, built on first use (once per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: str | None = None
        self._index: LabelIndex | None = None

    def index_for(self, version: str, store: Store) -> LabelIndex:
        """The index of `store` at `version`; a new version replaces the previous index."""
        with self._lock:
            if self._index is None or self._version != version:
                self._index = LabelIndex.from_store(store)
                self._version = version
            return self._index
