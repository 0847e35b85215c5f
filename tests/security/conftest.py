"""Fixtures for the security tests: a canary listener, hostile data, the servers under attack,
and the summary of attacks printed at the end of the session.

No fixture here starts a thread in the test process (tests elsewhere fork query pools
in-process, which a running thread forbids): the canary is its own process.
"""

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from communique.web.security import CONTENT_SECURITY_POLICY, SECURITY_HEADERS
from tests.conftest import ServerProcess

CANARY_SCRIPT = Path(__file__).with_name("canary.py")
DOS_TIMEOUT_SECONDS = 3
"""--timeout of the server under denial-of-service attack."""

HOSTILE_DATA = """\
@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix schema: <http://schema.org/> .
@prefix id: <https://w3id.org/communique/id/> .
@prefix cq: <https://w3id.org/communique/ontology/> .

id:xss-label a cq:Person , ex:Hostile ;
    rdfs:label "<script>alert('xss-label')</script>" ;
    skos:altLabel "\\"><img src=x onerror=alert('xss-attribute')>" ;
    schema:description "</script><script>alert('xss-json-ld')</script>" ;
    rdfs:comment "'-alert('xss-quote')-'"@en , "<b onmouseover=alert('xss-lang')>x</b>"@en-x-evil ;
    rdfs:seeAlso <javascript:alert('xss-iri')> ,
        <data:text/html;base64,PHNjcmlwdD5hbGVydCgneHNzLWRhdGEnKTwvc2NyaXB0Pg==> ;
    ex:link <https://w3id.org/communique/id/x'onmouseover='alert(1)> ,
        <https://w3id.org/communique/id/%3Cscript%3Ealert('xss-path')%3C%2Fscript%3E> .

<https://w3id.org/communique/id/x'onmouseover='alert(1)> a ex:Hostile ;
    rdfs:label "x'onmouseover='alert(1)" .

<https://w3id.org/communique/graph/hostile> {
    id:in-graph a ex:Hostile ;
        rdfs:label "<svg/onload=alert('xss-graph')>" ;
        ex:value "1"^^<javascript:alert('xss-datatype')> .
}
"""

PAYLOAD_MARKERS = (
    "<script>alert(",
    "<img src=x",
    "<svg/onload",
    "<b onmouseover",
    "</script><script>",
)
"""Fragments of the hostile data that must never appear unescaped in HTML."""


@dataclass(frozen=True)
class Canary:
    url: str
    log_path: Path

    def hits(self) -> list[dict]:
        if not self.log_path.exists():
            return []
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line]


@pytest.fixture(scope="session")
def canary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canary]:
    """An HTTP listener on a loopback port, in its own process, that records every contact."""
    log_path = tmp_path_factory.mktemp("canary") / "contacts.jsonl"
    process = subprocess.Popen(
        [sys.executable, str(CANARY_SCRIPT), str(log_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(process.stdout.readline())
        yield Canary(f"http://127.0.0.1:{port}/", log_path)
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()


@pytest.fixture(scope="session")
def hostile_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "hostile.trig"
    path.write_text(HOSTILE_DATA, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def hostile_server(servers, hostile_file, dataset_files) -> ServerProcess:
    """A server whose data holds script in labels, literals, IRIs and datatypes."""
    return servers("--data", str(hostile_file), *map(str, dataset_files))


@pytest.fixture(scope="session")
def dos_server(servers, dataset_files) -> ServerProcess:
    """The server under denial-of-service attack: a short time limit, two query workers."""
    return servers(
        *("--data", *map(str, dataset_files)),
        *("--timeout", str(DOS_TIMEOUT_SECONDS), "--query-workers", "2"),
        *("--workers", "2", "--threads", "8"),
    )


def header_problems(headers) -> list[str]:
    """The security headers: exactly ours, or a view's own policy that still runs no script
    from elsewhere and no plugin (the reconciliation preview's, which other sites may frame)."""
    policy = headers.get("Content-Security-Policy", "")
    expected = dict(SECURITY_HEADERS)
    if policy != CONTENT_SECURITY_POLICY:
        directives = {part.strip() for part in policy.split(";")}
        if not directives & {"script-src 'self'", "script-src 'none'"}:
            return [f"Content-Security-Policy: {policy!r}"]
        if not {"object-src 'none'", "base-uri 'none'"} <= directives:
            return [f"Content-Security-Policy: {policy!r}"]
        del expected["Content-Security-Policy"], expected["X-Frame-Options"]
    return [
        f"{name}: {headers.get(name)!r}"
        for name, value in expected.items()
        if headers.get(name) != value
    ]


# --- the attack summary -----------------------------------------------------------------------


@dataclass(frozen=True)
class AttackOutcome:
    family: str
    attack: str
    status: int | None = None
    seconds: float | None = None
    cheap_query_worst: float | None = None
    """Worst latency of a cheap query sent while the attack ran (seconds)."""


ATTACK_OUTCOMES: list[AttackOutcome] = []


@pytest.fixture(scope="session")
def attack_log() -> list[AttackOutcome]:
    """Tests append what each attack got; the session's end prints the table."""
    return ATTACK_OUTCOMES


def pytest_terminal_summary(terminalreporter) -> None:
    """The denial-of-service table (answer time, worst cheap query meanwhile), then each other
    family of attacks with its count of answers by status."""
    if not ATTACK_OUTCOMES:
        return
    write = terminalreporter.write_line
    denial = [o for o in ATTACK_OUTCOMES if o.cheap_query_worst is not None]
    if denial:
        terminalreporter.write_sep("-", "denial of service: status, answer time, worst cheap query")
        for outcome in denial:
            write(
                f"{outcome.attack:<40} {outcome.status:>4} {outcome.seconds:6.2f} s "
                f"{outcome.cheap_query_worst * 1000:6.0f} ms"
            )
    terminalreporter.write_sep("-", "attacks by family: answers by status")
    families: dict[str, list[AttackOutcome]] = {}
    for outcome in ATTACK_OUTCOMES:
        families.setdefault(outcome.family, []).append(outcome)
    for family, outcomes in families.items():
        statuses = Counter(o.status for o in outcomes if o.status is not None)
        counts = ", ".join(f"{count} × {status}" for status, count in sorted(statuses.items()))
        write(f"{family:<12} {len(outcomes):>4} tried  {counts}")
        for outcome in outcomes:
            if outcome.status is None:
                write(f"{'':<12}      {outcome.attack}")
