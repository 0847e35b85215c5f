"""The W3C SPARQL 1.1 query syntax tests, sent through the protocol to one real server.

Every ``mf:PositiveSyntaxTest11`` and ``mf:NegativeSyntaxTest11`` of the query suites (the
``syntax-query`` suite, and the syntax tests in the evaluation suites' manifests) is sent byte
for byte as an ``application/sparql-query`` POST to ``w3c_query_server`` (see ``conftest.py``),
whose own default graph is empty, with no protocol dataset: the query is treated exactly as a
client's would be. A positive test must be answered 200; a negative test 400, in the error
shape of every error (``error``, ``status``, ``request_id``).

Two tables hold the exceptions, each asserted rather than skipped: `REFUSED_BY_DESIGN` (valid
queries the public endpoint refuses on purpose: 400 with a message that says why) and
`KNOWN_DIFFERENCES` (valid queries the engine cannot evaluate).
"""

from dataclasses import dataclass

import pytest
import requests

from tests.w3c_manifest import QUERY_SUITES, ManifestEntry, read_manifest

SYNTAX_KINDS = ("PositiveSyntaxTest11", "NegativeSyntaxTest11")
TESTS = [
    entry for suite in QUERY_SUITES for entry in read_manifest(suite) if entry.kind in SYNTAX_KINDS
]
ACCEPT = "application/sparql-results+json, application/n-triples"


@dataclass(frozen=True)
class ExpectedRefusal:
    """A valid query answered 400, with `message` in the error, for `reason`."""

    reason: str
    message: str


REFUSED_BY_DESIGN = {
    "syntax-query/test_42": ExpectedRefusal(
        "CONSTRUCT FROM <file>: FROM may only name graphs the endpoint publishes (it never "
        "fetches a graph), and <file> is not one",
        "FROM <file> is not allowed: only the dataset's own graphs can be named",
    ),
}
KNOWN_DIFFERENCES = {
    "syntax-query/test_4": ExpectedRefusal(
        "pyoxigraph refuses to evaluate a call to an unknown extension function; SPARQL makes "
        "the call an error that leaves ?F unbound. The endpoint should say so with a 400",
        "http://example/function",
    ),
}
"""Valid queries the engine (pyoxigraph 0.5) cannot evaluate: the endpoint must refuse them
as a client error naming what is unsupported, so an engine upgrade that fixes one shows up."""


def send(server, test: ManifestEntry) -> requests.Response:
    return requests.post(
        server.sparql,
        data=test.query.read_bytes(),
        headers={"Content-Type": "application/sparql-query", "Accept": ACCEPT},
        timeout=30,
    )


def entry_id(test: ManifestEntry) -> str:
    return f"{test.suite}/{test.name}"


@pytest.mark.parametrize("test", TESTS, ids=entry_id)
def test_query_syntax(w3c_query_server, record_property, test: ManifestEntry):
    record_property("w3c_suite", test.suite)
    response = send(w3c_query_server, test)
    if entry_id(test) in REFUSED_BY_DESIGN:
        record_property("w3c_outcome", "refused by design")
        check_refusal(response, REFUSED_BY_DESIGN[entry_id(test)])
    elif entry_id(test) in KNOWN_DIFFERENCES:
        record_property("w3c_outcome", "known engine difference")
        check_refusal(response, KNOWN_DIFFERENCES[entry_id(test)])
    elif test.kind == "PositiveSyntaxTest11":
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 400, response.text
        assert response.json()["status"] == 400


def check_refusal(response: requests.Response, refusal: ExpectedRefusal) -> None:
    assert response.status_code == 400, f"{refusal.reason}; answered {response.text}"
    assert refusal.message in response.json()["error"]


def test_exception_tables_name_positive_syntax_tests():
    positive = {entry_id(test) for test in TESTS if test.kind == "PositiveSyntaxTest11"}
    assert set(REFUSED_BY_DESIGN) | set(KNOWN_DIFFERENCES) <= positive
