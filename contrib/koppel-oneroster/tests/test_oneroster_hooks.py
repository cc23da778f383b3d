"""The plugin registers each source only when configured: KOPPEL_ONEROSTER_DIR, _REST_URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from koppel.plugin import ConfigError, IdentitySource, read_settings
from koppel_oneroster.hooks import OneRosterSettings, koppel_register_identity_sources


def registered() -> list[object]:
    found: list[object] = []
    koppel_register_identity_sources(register=found.append)
    return found


def test_unconfigured_it_registers_nothing(monkeypatch):
    monkeypatch.delenv("KOPPEL_ONEROSTER_DIR", raising=False)
    monkeypatch.delenv("KOPPEL_ONEROSTER_REST_URL", raising=False)
    assert registered() == []


def test_configured_it_registers_a_source_reading_that_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("KOPPEL_ONEROSTER_DIR", str(tmp_path))
    monkeypatch.delenv("KOPPEL_ONEROSTER_REST_URL", raising=False)
    [source] = registered()
    assert isinstance(source, IdentitySource)
    assert (source.name, source.directory) == ("oneroster", tmp_path)


def test_a_rest_url_registers_the_rest_source(monkeypatch):
    monkeypatch.delenv("KOPPEL_ONEROSTER_DIR", raising=False)
    monkeypatch.setenv("KOPPEL_ONEROSTER_REST_URL", "https://sis.example/api")
    monkeypatch.setenv("KOPPEL_ONEROSTER_REST_TOKEN_URL", "https://sis.example/oauth/token")
    monkeypatch.setenv("KOPPEL_ONEROSTER_REST_CLIENT_ID", "koppel")
    monkeypatch.setenv("KOPPEL_ONEROSTER_REST_CLIENT_SECRET", "hush-Hush-1")
    [source] = registered()
    assert isinstance(source, IdentitySource)
    assert source.name == "oneroster-rest"
    assert "hush-Hush-1" not in repr(read_settings(OneRosterSettings))


def test_a_rest_url_without_credentials_is_one_clear_config_error(monkeypatch):
    monkeypatch.setenv("KOPPEL_ONEROSTER_REST_URL", "https://sis.example/api")
    for name in ("TOKEN_URL", "CLIENT_ID", "CLIENT_SECRET"):
        monkeypatch.delenv(f"KOPPEL_ONEROSTER_REST_{name}", raising=False)
    with pytest.raises(ConfigError) as caught:
        registered()
    assert "set KOPPEL_ONEROSTER_REST_TOKEN_URL, KOPPEL_ONEROSTER_REST_CLIENT_ID, " in str(
        caught.value
    )


def test_the_readme_lists_every_setting():
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    for name in OneRosterSettings.model_fields:
        assert f"| `KOPPEL_ONEROSTER_{name.upper()}` |" in readme, name
