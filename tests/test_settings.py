"""Settings are data: each has help text, reads from the environment, and is documented."""

import dataclasses
import os
import re

import pytest

from communique.cli import main
from communique.errors import SettingError
from communique.settings import MAX_AUTOMATIC_WORKERS, PROJECT_ROOT, Settings

README = (PROJECT_ROOT / "README.md").read_text()
FIELDS = dataclasses.fields(Settings)


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f.name)
def test_every_setting_has_help_and_is_in_the_readme(field):
    assert field.metadata["help"]
    option = "--" + field.name.replace("_", "-")
    assert f"`{option}`" in README, f"{option} is not documented in README.md"
    assert f"`COMMUNIQUE_{field.name.upper()}`" in README


def test_environment_variables_are_read(monkeypatch):
    monkeypatch.setenv("COMMUNIQUE_TIMEOUT", "2.5")
    monkeypatch.setenv(
        "COMMUNIQUE_ALLOW_SERVICE", "http://a.example/sparql http://b.example/sparql"
    )
    settings = Settings.from_mapping({"max_rows": 7})
    assert settings.timeout == 2.5
    assert settings.allow_service == ("http://a.example/sparql", "http://b.example/sparql")
    assert settings.max_rows == 7


def test_unknown_settings_are_refused():
    with pytest.raises(ValueError, match="unknown setting"):
        Settings.from_mapping({"timeoutt": 1})


@pytest.mark.parametrize(
    "values",
    [{"workers": -1}, {"threads": 0}, {"query_workers": 0}, {"timeout": 0}, {"max_rows": 0},
     {"timeout": float("nan")}, {"memory_limit": -5}],
    ids=lambda values: next(iter(values)),
)  # fmt: skip
def test_settings_out_of_range_are_refused_naming_the_option_and_variable(values):
    (name,) = values
    option, variable = "--" + name.replace("_", "-"), f"COMMUNIQUE_{name.upper()}"
    with pytest.raises(SettingError, match=f"{option} \\({variable}\\) must be at least"):
        Settings.from_mapping(values)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"base": "kg.example.org/"}, "--base (COMMUNIQUE_BASE) must be an http(s) URL"),
        ({"base": "https://kg.example.org"}, "--base (COMMUNIQUE_BASE) must end with '/'"),
        ({"public_url": "ftp://kg.example.org/"}, "--public-url (COMMUNIQUE_PUBLIC_URL) must be"),
        ({"allow_service": ["https://a.example/sparql", "a.example"]}, "not 'a.example'"),
        ({"allow_service": ["https://a.example/\nHost: b"]}, "--allow-service"),
        ({"store": "file:///etc/passwd"}, "--store (COMMUNIQUE_STORE) must be an http(s) URL"),
    ],
)
def test_urls_that_are_not_http_urls_are_refused(values, message):
    with pytest.raises(SettingError, match=re.escape(message)):
        Settings.from_mapping(values)


def test_an_infinite_time_limit_is_refused(monkeypatch):
    monkeypatch.setenv("COMMUNIQUE_VALIDATION_TIMEOUT", "inf")
    with pytest.raises(SettingError, match="must be a finite number, not inf"):
        Settings.from_mapping()


def test_an_environment_variable_that_is_not_a_number_is_refused(monkeypatch):
    monkeypatch.setenv("COMMUNIQUE_THREADS", "eight")
    with pytest.raises(SettingError, match=r"COMMUNIQUE_THREADS.* must be an integer, not 'eight'"):
        Settings.from_mapping()


def test_the_cli_reports_a_bad_setting_in_one_line_and_exits_2(capsys):
    assert main(["serve", "--workers", "-2"]) == 2
    assert capsys.readouterr().err == (
        "communique: --workers (COMMUNIQUE_WORKERS) must be at least 0, not -2\n"
    )


def test_web_workers_are_one_per_usable_core_unless_set():
    assert Settings(workers=3).web_workers() == 3
    assert Settings().web_workers(cores=1) == 1
    assert Settings().web_workers(cores=64) == MAX_AUTOMATIC_WORKERS
    expected = min(len(os.sched_getaffinity(0)), MAX_AUTOMATIC_WORKERS)
    assert Settings().web_workers() == expected


def test_the_readme_shows_the_two_setup_commands():
    assert "make run" in README and "make test" in README
