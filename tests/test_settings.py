"""Settings are data: each has help text, reads from the environment, and is documented."""

import dataclasses

import pytest

from communique.settings import PROJECT_ROOT, Settings

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


def test_the_readme_shows_the_two_setup_commands():
    assert "make run" in README and "make test" in README
