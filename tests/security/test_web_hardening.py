"""Web hardening across every route the app registers: security headers, path traversal, CR/LF,
open redirects and script injection through the data (labels, literals, IRIs) and the URL.

The routes come from the app itself (``app.url_map``, read in a child process); hostile values
fill their variables and hostile parameters are added. Pages are also reached by following
links from the home page, so that every page type shows the hostile data.
"""

import json
import re
import subprocess
import sys
from collections import deque
from collections.abc import Iterator
from urllib.parse import quote, urljoin, urlsplit

import pytest
import requests
from bs4 import BeautifulSoup

from communique.web.security import CONTENT_SECURITY_POLICY
from tests.security.conftest import PAYLOAD_MARKERS, AttackOutcome, header_problems
from tests.security.raw_http import raw_request

PASSWD_CONTENT = "root:x:0:0"
CRAWL_LIMIT = 250
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "data", "poster", "xlink:href")
DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:text/html")
FORBIDDEN_ELEMENTS = ("iframe", "object", "embed", "base", "style")

RULES_SCRIPT = """
import json, sys
from communique.web.app import create_app
app = create_app({"data": sys.argv[1:], "query_workers": 1})
rules = [(rule.rule, sorted(rule.methods)) for rule in app.url_map.iter_rules()]
app.extensions["communique"].close()
print(json.dumps(rules))
"""

HOSTILE_SEGMENTS = (
    "../../../../etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "%2E%2E%5C%2E%2E%5Cetc%5Cpasswd",
    "....//....//etc/passwd",
    quote("<script>alert('walk')</script>", safe=""),
    quote("x\" onmouseover=\"alert('walk')", safe=""),
    "%0d%0aSet-Cookie:%20injected=1",
    "%ff%fe",
    "a%00b",
    "x" * 3000,
)
HOSTILE_PARAMETERS = (
    ("q", "<script>alert('walk-q')</script>"),
    ("query", "ASK {} #<script>alert('walk-query')</script>"),
    ("class", "<script>alert('walk-class')</script>"),
    ("format", "<img src=x onerror=alert('walk-format')>"),
    ("page", "-1"),
    ("limit", "99999999999999999999"),
    ("uri", "javascript:alert('walk-uri')"),
    ("id", "file:///etc/passwd"),
    ("next", "//evil.example/"),
    ("redirect", "http://evil.example/"),
    ("callback", "alert"),
)
REDIRECT_TARGETS = (
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "/%2F%2Fevil.example/",
    "/%5Cevil.example/",
    "/sparql/..%2F%2Fevil.example",
    "/id//evil.example/",
    "/id/%2F%2Fevil.example",
    "/page//evil.example",
    "/ontology//evil.example",
    "/static//evil.example/x",
    "/sparql?next=http://evil.example/",
    "/id/x?redirect=//evil.example/",
)


# --- what every response must be ---------------------------------------------------------------


def injection_problems(html: str) -> list[str]:
    """Ways in which `html` could run script, or break the Content-Security-Policy."""
    problems = [f"raw {marker!r}" for marker in PAYLOAD_MARKERS if marker in html]
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(True):
        problems += _tag_problems(tag)
    return problems


def _tag_problems(tag) -> list[str]:
    problems = []
    if tag.name in FORBIDDEN_ELEMENTS:
        problems.append(f"<{tag.name}> element")
    for name, value in tag.attrs.items():
        text = " ".join(value) if isinstance(value, list) else str(value)
        if name.lower().startswith("on"):
            problems.append(f"<{tag.name} {name}=...> event handler")
        if name.lower() == "style":
            problems.append(f"<{tag.name} style=...> inline style")
        if name.lower() in URL_ATTRIBUTES and text.strip().lower().startswith(DANGEROUS_SCHEMES):
            problems.append(f"<{tag.name} {name}={text[:40]!r}>")
    if tag.name == "script":
        problems += _script_problems(tag)
    return problems


def _script_problems(tag) -> list[str]:
    if tag.get("type") == "application/ld+json":
        try:
            json.loads(tag.string or "")
        except ValueError:
            return ["a JSON-LD block that is not JSON (broken out of?)"]
        return []
    source = tag.get("src")
    if source is None:
        return ["an inline <script>"]
    if urlsplit(source).netloc:
        return [f"a script from elsewhere: {source}"]
    return []


def check_response(response: requests.Response, base_url: str) -> list[str]:
    problems = []
    if response.status_code >= 500 and response.status_code != 503:
        problems.append(f"status {response.status_code}")
    problems += header_problems(response.headers)
    if response.is_redirect:
        problems += redirect_problems(response.headers.get("Location", ""), base_url)
    if "text/html" in response.headers.get("Content-Type", ""):
        problems += injection_problems(response.text)
    if PASSWD_CONTENT in response.text:
        problems.append("the content of /etc/passwd")
    if any(name.lower() == "injected" for name in response.headers):
        problems.append("an injected header")
    if "injected=1" in response.headers.get("Set-Cookie", ""):
        problems.append("an injected cookie")
    return problems


def redirect_problems(location: str, base_url: str) -> list[str]:
    target = urlsplit(urljoin(base_url, location))
    if target.netloc != urlsplit(base_url).netloc or location.startswith(("//", "/\\", "\\")):
        return [f"a redirect off the site: {location}"]
    return []


# --- the routes ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def routes(hostile_file, dataset_files) -> list[tuple[str, list[str]]]:
    done = subprocess.run(
        [sys.executable, "-c", RULES_SCRIPT, str(hostile_file), *map(str, dataset_files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


_VARIABLE = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")


def urls_for(rule: str) -> Iterator[str]:
    """The rule with each variable filled by every hostile value (and, for ``any``, each
    allowed word)."""
    variables = list(_VARIABLE.finditer(rule))
    if not variables:
        yield rule
        return
    for value in HOSTILE_SEGMENTS:
        url = rule
        for variable in reversed(variables):
            converter, arguments, _name = variable.groups()
            filled = value
            if converter == "any":
                filled = arguments.split(",")[0].strip()
            elif converter == "int":
                filled = "-1" if value.startswith("x") else "99999999999999999999"
            url = url[: variable.start()] + filled + url[variable.end() :]
        yield url


def with_hostile_parameters(url: str) -> str:
    query = "&".join(f"{name}={quote(value, safe='')}" for name, value in HOSTILE_PARAMETERS)
    return f"{url}{'&' if '?' in url else '?'}{query}"


def test_every_route_survives_hostile_variables_and_parameters(hostile_server, routes, attack_log):
    problems = {}
    tried = 0
    for rule, methods in routes:
        for url in urls_for(rule):
            for target in (url, with_hostile_parameters(url)):
                for method in ("GET", "POST") if "POST" in methods else ("GET",):
                    response = requests.request(
                        method,
                        hostile_server.url.rstrip("/") + target,
                        allow_redirects=False,
                        timeout=30,
                    )
                    tried += 1
                    if found := check_response(response, hostile_server.url):
                        problems[f"{method} {target[:120]}"] = found
    attack_log.append(AttackOutcome("route walk", f"{len(routes)} routes, {tried} requests"))
    assert tried > len(routes)
    assert not problems, json.dumps(problems, indent=1)


@pytest.mark.parametrize(
    "target",
    [
        "/static/../../../../etc/passwd",
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2f..%2f..%2fetc%2fpasswd",
        "/static/..%5c..%5c..%5cetc%5cpasswd",
        "/page/../../../../etc/passwd",
        "/page/id/..%2f..%2f..%2fetc%2fpasswd",
        "/data/%2e%2e/%2e%2e/etc/passwd.ttl",
        "/id/../../etc/passwd",
        "/id/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/dumps/..%2f..%2f..%2fetc%2fpasswd",
    ],
)
def test_path_traversal_is_404(hostile_server, attack_log, target):
    response = raw_request(hostile_server.url, target)
    assert response.status == 404, response.text
    assert PASSWD_CONTENT not in response.text
    attack_log.append(AttackOutcome("traversal", target, response.status))


@pytest.mark.parametrize(
    "target",
    [
        "/sparql%0d%0aSet-Cookie:%20injected=1",
        "/page/id/x%0d%0aInjected:%201",
        "/id/x%0aInjected:%201",
        "/sparql?format=json%0d%0aInjected:%201",
        "/search?page=1%0d%0aInjected:%201",
    ],
)
def test_cr_lf_in_a_url_is_400_and_reaches_no_header(hostile_server, attack_log, target):
    response = raw_request(hostile_server.url, target)
    assert response.status == 400, response.text
    assert "control character" in json.loads(response.body)["error"]
    assert "injected" not in [name.strip().lower() for name in response.header_names]
    assert "injected" not in response.headers.get("set-cookie", "")
    attack_log.append(AttackOutcome("CR/LF", target, response.status))


@pytest.mark.parametrize("target", REDIRECT_TARGETS)
def test_no_redirect_leaves_the_site(hostile_server, attack_log, target):
    response = raw_request(hostile_server.url, target)
    assert response.status < 500
    if 300 <= response.status < 400:
        assert redirect_problems(response.headers["location"], hostile_server.url) == []
    attack_log.append(AttackOutcome("redirect", target, response.status))


# --- the data on every page ------------------------------------------------------------------


def crawl(base_url: str, starts: list[str]) -> Iterator[tuple[str, requests.Response]]:
    """Pages reachable by links from `starts`, on this site, at most CRAWL_LIMIT."""
    seen = set(starts)
    queue = deque(starts)
    with requests.Session() as session:
        while queue and len(seen) <= CRAWL_LIMIT:
            url = queue.popleft()
            response = session.get(urljoin(base_url, url), timeout=30, allow_redirects=False)
            yield url, response
            if response.is_redirect:
                links = [response.headers["Location"]]
            elif "text/html" in response.headers.get("Content-Type", ""):
                links = [a.get("href") for a in BeautifulSoup(response.text, "html.parser")("a")]
            else:
                links = []
            for link in links:
                target = urljoin(base_url + url.lstrip("/"), link or "")
                parts = urlsplit(target)
                if parts.netloc != urlsplit(base_url).netloc:
                    continue
                local = parts.path + (f"?{parts.query}" if parts.query else "")
                if local not in seen and not local.startswith("/dumps/"):
                    seen.add(local)
                    queue.append(local)


def test_hostile_data_is_escaped_on_every_page(hostile_server, attack_log):
    starts = [
        "/",
        "/classes",
        "/page/id/xss-label",
        "/id/xss-label",
        "/page/id/in-graph",
        "/page/graph/hostile",
        "/page/id/x'onmouseover='alert(1)",
        "/search?q=alert",
        "/search?q=xss",
        "/sparql",
        "/validation",
    ]
    problems = {}
    pages = showing_hostile_data = 0
    for url, response in crawl(hostile_server.url, starts):
        if "text/html" in response.headers.get("Content-Type", ""):
            pages += 1
            showing_hostile_data += "&lt;script&gt;alert(" in response.text
        if found := check_response(response, hostile_server.url):
            problems[url] = found
    attack_log.append(AttackOutcome("XSS crawl", f"{pages} HTML pages"))
    assert showing_hostile_data >= 2, "the crawl must reach pages that show the hostile data"
    assert not problems, json.dumps(problems, indent=1)


def test_the_content_security_policy_is_exactly_the_agreed_one(hostile_server):
    for url in ("/", "/sparql", "/missing", "/healthz"):
        response = requests.get(hostile_server.url.rstrip("/") + url, timeout=10)
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
