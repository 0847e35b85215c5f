"""The workload: a mix of 15 SPARQL queries typical of Communiqué's users, and the page requests.

Each query is filled in with IRIs of the generated graph (`Manifest`): a hub state with very high
degree, an ordinary state, a person, a site three ``cq:inPlace`` steps from its state, a claim, a
source graph, a label search term. The same text goes to every engine, by GET, asking for SPARQL
JSON results (SELECT, ASK) or N-Triples (CONSTRUCT, DESCRIBE).
"""

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from bench.client import Request
from bench.generator import Manifest

PROLOGUE = """\
PREFIX cq: <https://w3id.org/communique/ontology/>
PREFIX status: <https://w3id.org/communique/ontology/epistemic-status/>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX oa: <http://www.w3.org/ns/oa#>
PREFIX time: <http://www.w3.org/2006/time#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX sem: <http://semanticweb.cs.vu.nl/2009/11/sem/>
"""
RESULTS_JSON = "application/sparql-results+json"
N_TRIPLES = "application/n-triples"


@dataclass(frozen=True)
class Query:
    name: str
    what: str
    text: str

    @property
    def graph_form(self) -> bool:
        return self.text.lstrip().startswith(("CONSTRUCT", "DESCRIBE"))

    @property
    def accept(self) -> str:
        return N_TRIPLES if self.graph_form else RESULTS_JSON


def query_mix(manifest: Manifest) -> list[Query]:
    hub = manifest.hubs[0]
    state = manifest.states[0] if manifest.states else manifest.hubs[-1]
    person = manifest.people[0]
    site = manifest.sites[0]
    claim = manifest.claims[0]
    graph = manifest.graphs[0]
    term = manifest.search_terms[0]
    return [
        Query(
            "describe",
            "all properties of one resource",
            f"SELECT ?p ?o WHERE {{ <{state}> ?p ?o }}",
        ),
        Query("describe-form", "DESCRIBE one person", f"DESCRIBE <{person}>"),
        Query(
            "backlinks-hub",
            "backlinks of a hub (first 500)",
            f"SELECT ?s ?p WHERE {{ ?s ?p <{hub}> }} LIMIT 500",
        ),
        Query(
            "label-search",
            "label search (CONTAINS, first 20)",
            "SELECT ?s ?label WHERE { ?s rdfs:label ?label "
            f'FILTER(CONTAINS(LCASE(STR(?label)), "{term}")) }} LIMIT 20',
        ),
        Query(
            "events-in-range",
            "events in a date range with participants",
            "SELECT ?event ?label ?actor ?day WHERE { ?event sem:hasActor ?actor ;"
            " rdfs:label ?label ; time:hasTime/time:hasBeginning/time:inXSDDate ?day ."
            ' FILTER(LANG(?label) = "en"'
            ' && ?day >= "2019-01-01"^^xsd:date && ?day < "2020-01-01"^^xsd:date) }'
            " ORDER BY ?day LIMIT 200",
        ),
        Query(
            "claims-by-status",
            "claims per epistemic status",
            "SELECT ?status (COUNT(?claim) AS ?n) WHERE { ?claim cq:epistemicStatus ?status }"
            " GROUP BY ?status ORDER BY DESC(?n)",
        ),
        Query(
            "speculation-about-hub",
            "speculative claims about a hub, with who holds them",
            "SELECT ?claim ?label ?agent WHERE { ?claim cq:about "
            f"<{hub}> ; cq:epistemicStatus ?status ; rdfs:label ?label ;"
            " prov:wasAttributedTo ?agent . FILTER(?status != status:asserted) } LIMIT 100",
        ),
        Query(
            "count-by-class",
            "instances per class",
            "SELECT ?class (COUNT(?s) AS ?n) WHERE { ?s a ?class }"
            " GROUP BY ?class ORDER BY DESC(?n)",
        ),
        Query(
            "two-hop",
            "two-hop neighbourhood of a person",
            f"SELECT ?p ?mid ?q ?far WHERE {{ <{person}> ?p ?mid . ?mid ?q ?far . "
            "FILTER(isIRI(?far)) } LIMIT 200",
        ),
        Query(
            "optional-heavy",
            "claims about a state with optional attribution, quote and offsets",
            "SELECT ?claim ?label ?agent ?agentLabel ?exact ?start ?end WHERE { "
            f"?claim cq:about <{state}> . OPTIONAL {{ ?claim rdfs:label ?label }} "
            "OPTIONAL { ?claim prov:wasAttributedTo ?agent "
            "OPTIONAL { ?agent rdfs:label ?agentLabel } } "
            "OPTIONAL { ?claim cq:evidence/oa:hasSelector ?quote . ?quote oa:exact ?exact } "
            "OPTIONAL { ?claim cq:evidence/oa:hasSelector ?position . "
            "?position oa:start ?start ; oa:end ?end } } LIMIT 200",
        ),
        Query(
            "latest-events",
            "the 10 latest events (ORDER BY + LIMIT over all events)",
            "SELECT ?event ?day WHERE { ?event time:hasTime/time:hasBeginning/time:inXSDDate ?day }"
            " ORDER BY DESC(?day) LIMIT 10",
        ),
        Query(
            "place-path",
            "places containing a site (cq:inPlace+)",
            f"SELECT ?place ?label WHERE {{ <{site}> cq:inPlace+ ?place . "
            '?place rdfs:label ?label FILTER(LANG(?label) = "en") }',
        ),
        Query(
            "subclass-path",
            "diplomatic events of any subclass (a/rdfs:subClassOf*)",
            "SELECT (COUNT(?event) AS ?n) WHERE { ?event a/rdfs:subClassOf* cq:DiplomaticEvent }",
        ),
        Query(
            "claim-evidence",
            "the evidence of one claim: quote, offsets, source",
            f"SELECT ?source ?exact ?start ?end WHERE {{ <{claim}> cq:evidence ?evidence . "
            "?evidence oa:hasSource ?source ; oa:hasSelector ?quote, ?position . "
            "?quote oa:exact ?exact . ?position oa:start ?start ; oa:end ?end }",
        ),
        Query(
            "source-graph",
            "CONSTRUCT the claims of one source graph",
            f"CONSTRUCT {{ ?claim ?p ?o }} WHERE {{ GRAPH <{graph}> {{ "
            "?claim cq:epistemicStatus ?s ; ?p ?o } }",
        ),
    ]


def ask_query(manifest: Manifest) -> Query:
    return Query("ask", "ASK whether a resource exists", f"ASK {{ <{manifest.people[0]}> ?p ?o }}")


FRESH = ("Cache-Control", "no-cache")
"""Asks Communiqué to evaluate the query, not to answer it from its response cache."""


def query_request(query: Query, query_path: str, *, fresh: bool = True) -> Request:
    """The GET request asking `query` of the endpoint at `query_path` (evaluated afresh unless
    `fresh` is false)."""
    path = f"{query_path or '/'}?{urlencode({'query': PROLOGUE + query.text}, quote_via=quote)}"
    headers = (("Accept", query.accept), FRESH) if fresh else (("Accept", query.accept),)
    return Request(query.name, path, headers)
