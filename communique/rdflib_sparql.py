"""rdflib's SPARQL processor, with parsed queries cached.

pyshacl runs each SHACL-SPARQL constraint once per focus node and hands rdflib the query text
every time; rdflib then re-parses it with pyparsing (about 60 ms a query here), which made
validating the bundled graph take minutes. `use_cached_parsing()` registers a processor that
parses each distinct query text once and reuses the algebra, exactly as a prepared query is
reused, and runs one query so that the parser's lazy first-use initialisation (not thread-safe in
rdflib 7.6) is over before any thread uses it.
"""

import threading
from functools import lru_cache

import rdflib
from rdflib.plugin import Processor, register
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.processor import SPARQLProcessor
from rdflib.plugins.sparql.sparql import Query

_lock = threading.Lock()


@lru_cache(maxsize=1024)
def _translated(query: str, base: str | None, namespaces: tuple[tuple[str, str], ...]) -> Query:
    return translateQuery(parseQuery(query), base, dict(namespaces))


class CachingSPARQLProcessor(SPARQLProcessor):
    """Parses each distinct query text once; everything else is rdflib's own processor."""

    def query(self, strOrQuery, initBindings=None, initNs=None, base=None, DEBUG=False):
        if isinstance(strOrQuery, str):
            namespaces = tuple(sorted((str(k), str(v)) for k, v in (initNs or {}).items()))
            with _lock:
                strOrQuery = _translated(strOrQuery, base, namespaces)
        return super().query(strOrQuery, initBindings or {}, {}, base, DEBUG)


def use_cached_parsing() -> None:
    """Make rdflib's default SPARQL processor the caching one, and warm the parser up."""
    register("sparql", Processor, __name__, "CachingSPARQLProcessor")
    rdflib.Graph().query("ASK {}")
