"""Every claim as a nanopublication (``np:`` = http://www.nanopub.org/nschema#), in TriG.

Names. The claim ``{base}id/<path>`` becomes the nanopublication ``{base}np/<path>`` (``this``),
whose four graphs are ``this#Head``, ``this#assertion``, ``this#provenance`` and
``this#pubinfo``: the ``sub:Head``/``sub:assertion``/… naming the nanopublication guidelines and
nanopub-java use, with ``sub:`` = ``this#``. The IRIs are stable (the same claim, the same IRIs)
but not trusty URIs: nothing here hashes or signs the content. Blank nodes are skolemised as
``this#_1``, ``this#_2``… (as trusty nanopublications do), numbered in an order fixed by their
content, so the export is deterministic and no blank node is shared between nanopublications.

Graphs.

* Head: ``this a np:Nanopublication ; np:hasAssertion … ; np:hasProvenance … ;
  np:hasPublicationInfo …``.
* Assertion: the statement the claim makes, as the claim states it: the one triple
  (rdf:subject, rdf:predicate, rdf:object) with the description of a blank-node object (a
  quantity, a time); for a claim with no triple, ``<claim> cq:proposition "…"@en``. The
  assertion holds whatever the claim's status and polarity: a negated or speculated claim's
  assertion is the statement the source denies or speculates, and its provenance says so.
* Provenance: about ``this#assertion``: everything the claim node says about itself except
  what makes up the statement and its class (rdf:type, rdf:subject, rdf:predicate, rdf:object, and
  cq:proposition when it is the assertion): prov:wasDerivedFrom (the source document),
  prov:wasAttributedTo, cq:epistemicStatus, cq:polarity, cq:evidence with its Web Annotation
  selectors, hedges, conditions, rationale, mentions, times; plus ``prov:alternateOf`` the claim
  node and the labels of the attributed agents.
* Publication info: about ``this``: dcterms:created (when the dataset version was published),
  dcterms:license, dcterms:creator and an rdfs:label.
"""

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

import pyoxigraph as ox
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS, XSD

from communique.graph_patterns import everywhere
from communique.namespaces import CQ, NP, PREFIXES
from communique.store import Store

DATA_LICENCE = "https://creativecommons.org/licenses/by/4.0/"
"""The licence of the published data (as the site footer states it)."""
CREATOR_PATH = "id/communique-curators"
"""Under the data base: the agent who creates the nanopublications."""
STATEMENT_PREDICATES = frozenset({str(RDF.subject), str(RDF.predicate), str(RDF.object)})
LEFT_OUT_OF_PROVENANCE = STATEMENT_PREDICATES | {str(RDF.type)}
GRAPH_NAMES = ("Head", "assertion", "provenance", "pubinfo")
TRIG_PREFIXES = {name: iri for name, iri in PREFIXES.items() if name not in ("id", "graph")}
"""Our data IRIs stay whole: as prefixed names their slashes would need escaping."""
MAX_SIGNATURE_DEPTH = 16

Term = ox.NamedNode | ox.BlankNode | ox.Literal


@dataclass(frozen=True)
class Description:
    """What the data says about claims and blank nodes: subject -> [(predicate, object)]."""

    facts: Mapping[Term, list[tuple[ox.NamedNode, Term]]]
    labels: Mapping[str, list[ox.Literal]]
    """rdfs:label literals of the agents claims are attributed to."""

    def value(self, subject: Term, predicate: str) -> Term | None:
        return next((o for p, o in self.facts.get(subject, []) if p.value == predicate), None)


def claim_iris(store: Store) -> list[str]:
    """Every claim (a resource with an epistemic status), sorted."""
    pattern = everywhere(
        f"?claim <{CQ.epistemicStatus}> ?status", union_default_graph=_union(store)
    )
    rows = store.query(f"SELECT DISTINCT ?claim WHERE {{ {pattern} FILTER (isIRI(?claim)) }}")
    return sorted(row["claim"].value for row in rows)


def nanopublication_quads(store: Store, base: str, published_at: datetime) -> Iterator[ox.Quad]:
    """The quads of every claim's nanopublication, claim by claim (sorted by claim IRI)."""
    description = read_description(store)
    for claim in claim_iris(store):
        yield from nanopublication(ox.NamedNode(claim), description, base, published_at)


def nanopublications_trig(store: Store, base: str, published_at: datetime) -> bytes:
    """The TriG document of every claim's nanopublication."""
    return ox.serialize(
        nanopublication_quads(store, base, published_at),
        format=ox.RdfFormat.TRIG,
        prefixes=TRIG_PREFIXES,
    )


def nanopublication_iri(claim: str, base: str) -> str:
    """``{base}np/<path>`` for the claim ``{base}id/<path>``; other claim IRIs get a hash.

    >>> nanopublication_iri("https://kg.example/id/a/claim/b", "https://kg.example/")
    'https://kg.example/np/a/claim/b'
    """
    entities = base + "id/"
    if claim.startswith(entities) and len(claim) > len(entities):
        return base + "np/" + claim[len(entities) :]
    return base + "np/claim-" + hashlib.sha256(claim.encode()).hexdigest()[:16]


def read_description(store: Store) -> Description:
    """The facts of every claim and blank node, and the labels of attributed agents (one query
    each, so blank node labels are consistent within the facts)."""
    union = _union(store)
    subjects = everywhere(
        f"?s ?p ?o FILTER (isBlank(?s) || EXISTS {{ ?s <{CQ.epistemicStatus}> ?status }})",
        union_default_graph=union,
    )
    facts: dict[Term, list[tuple[ox.NamedNode, Term]]] = defaultdict(list)
    for row in store.query(f"SELECT DISTINCT ?s ?p ?o WHERE {{ {subjects} }}"):
        facts[row["s"]].append((row["p"], row["o"]))
    agents = everywhere(
        f"?claim <{PROV.wasAttributedTo}> ?agent . ?agent <{RDFS.label}> ?label",
        union_default_graph=union,
    )
    labels: dict[str, list[ox.Literal]] = defaultdict(list)
    for row in store.query(f"SELECT DISTINCT ?agent ?label WHERE {{ {agents} }}"):
        labels[row["agent"].value].append(row["label"])
    return Description(facts, labels)


def nanopublication(
    claim: ox.NamedNode, description: Description, base: str, published_at: datetime
) -> list[ox.Quad]:
    """The four graphs of one claim's nanopublication."""
    this = nanopublication_iri(claim.value, base)
    graphs = {name: ox.NamedNode(f"{this}#{name}") for name in GRAPH_NAMES}
    assertion = assertion_triples(claim, description)
    provenance = provenance_triples(claim, graphs["assertion"], description, assertion)
    pubinfo = pubinfo_triples(claim, ox.NamedNode(this), description, base, published_at)
    skolem = Skolemiser(this)
    quads = [
        ox.Quad(*triple, graphs["Head"]) for triple in head_triples(ox.NamedNode(this), graphs)
    ]
    for name, triples in (
        ("assertion", assertion),
        ("provenance", provenance),
        ("pubinfo", pubinfo),
    ):
        quads += [
            ox.Quad(*skolem.triple(triple), graphs[name])
            for triple in sorted(set(triples), key=lambda t: triple_key(t, description))
        ]
    return quads


def head_triples(this: ox.NamedNode, graphs: Mapping[str, ox.NamedNode]) -> list[ox.Triple]:
    return [
        ox.Triple(this, _iri(RDF.type), _iri(NP.Nanopublication)),
        ox.Triple(this, _iri(NP.hasAssertion), graphs["assertion"]),
        ox.Triple(this, _iri(NP.hasProvenance), graphs["provenance"]),
        ox.Triple(this, _iri(NP.hasPublicationInfo), graphs["pubinfo"]),
    ]


def assertion_triples(claim: ox.NamedNode, description: Description) -> list[ox.Triple]:
    """The claim's statement: its triple (with a blank-node object's description), or else its
    proposition."""
    subject = description.value(claim, str(RDF.subject))
    predicate = description.value(claim, str(RDF.predicate))
    value = description.value(claim, str(RDF.object))
    if subject is not None and isinstance(predicate, ox.NamedNode) and value is not None:
        statement = ox.Triple(subject, predicate, value)
        return [statement, *blank_node_closure((subject, value), description)]
    return [
        ox.Triple(claim, p, o)
        for p, o in description.facts[claim]
        if p.value == str(CQ.proposition)
    ]


def provenance_triples(
    claim: ox.NamedNode,
    assertion_graph: ox.NamedNode,
    description: Description,
    assertion: list[ox.Triple],
) -> list[ox.Triple]:
    """What the claim says about itself, said of the assertion graph (see the module docstring)."""
    proposition_asserted = any(t.predicate.value == str(CQ.proposition) for t in assertion)
    kept = [
        (p, o)
        for p, o in description.facts[claim]
        if p.value not in LEFT_OUT_OF_PROVENANCE
        and not (proposition_asserted and p.value == str(CQ.proposition))
    ]
    triples = [ox.Triple(assertion_graph, p, o) for p, o in kept]
    triples.append(ox.Triple(assertion_graph, _iri(PROV.alternateOf), claim))
    triples += blank_node_closure((o for _, o in kept), description)
    for p, agent in kept:
        if p.value == str(PROV.wasAttributedTo) and isinstance(agent, ox.NamedNode):
            triples += [
                ox.Triple(agent, _iri(RDFS.label), label)
                for label in description.labels.get(agent.value, [])
            ]
    return triples


def pubinfo_triples(
    claim: ox.NamedNode,
    this: ox.NamedNode,
    description: Description,
    base: str,
    published_at: datetime,
) -> list[ox.Triple]:
    created = ox.Literal(published_at.isoformat(), datatype=_iri(XSD.dateTime))
    triples = [
        ox.Triple(this, _iri(DCTERMS.created), created),
        ox.Triple(this, _iri(DCTERMS.license), ox.NamedNode(DATA_LICENCE)),
        ox.Triple(this, _iri(DCTERMS.creator), ox.NamedNode(base + CREATOR_PATH)),
    ]
    for predicate, label in description.facts[claim]:
        if predicate.value == str(RDFS.label) and isinstance(label, ox.Literal):
            text = ox.Literal(
                f"Nanopublication of the claim: {label.value}", language=label.language
            )
            triples.append(ox.Triple(this, _iri(RDFS.label), text))
    return triples


def blank_node_closure(terms: Iterable[Term], description: Description) -> list[ox.Triple]:
    """The triples describing the blank nodes among `terms`, and the blank nodes they reach."""
    triples: list[ox.Triple] = []
    seen: set[ox.BlankNode] = set()
    pending = [term for term in terms if isinstance(term, ox.BlankNode)]
    while pending:
        node = pending.pop()
        if node in seen:
            continue
        seen.add(node)
        for predicate, value in description.facts.get(node, []):
            triples.append(ox.Triple(node, predicate, value))
            if isinstance(value, ox.BlankNode):
                pending.append(value)
    return triples


class Skolemiser:
    """Blank nodes of one nanopublication as ``this#_1``, ``this#_2``…, numbered in the order
    they are first met (triples are met in an order fixed by their content)."""

    def __init__(self, this: str):
        self._this = this
        self._iris: dict[ox.BlankNode, ox.NamedNode] = {}

    def triple(self, triple: ox.Triple) -> ox.Triple:
        return ox.Triple(self.term(triple.subject), triple.predicate, self.term(triple.object))

    def term(self, term: Term) -> Term:
        if not isinstance(term, ox.BlankNode):
            return term
        if term not in self._iris:
            self._iris[term] = ox.NamedNode(f"{self._this}#_{len(self._iris) + 1}")
        return self._iris[term]


def signature(node: Term, description: Description, depth: int = 0) -> str:
    """A text standing for a blank node's content (its facts, recursively), for ordering."""
    if not isinstance(node, ox.BlankNode):
        return str(node)
    if depth == MAX_SIGNATURE_DEPTH:
        return "[…]"
    parts = sorted(
        f"{p} {signature(o, description, depth + 1)}" for p, o in description.facts.get(node, [])
    )
    return "[" + " ; ".join(parts) + "]"


def triple_key(triple: ox.Triple, description: Description) -> tuple[str, str, str]:
    """Orders triples by content, a blank node standing for its `signature`."""
    return tuple(signature(term, description) for term in triple)


def _iri(term: object) -> ox.NamedNode:
    return ox.NamedNode(str(term))


def _union(store: Store) -> bool:
    return store.union_default_graph
