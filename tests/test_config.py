"""Configuration: one readable error for a bad value, and a reference that matches the code."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.config_cmd import markdown
from cli.main import cli
from core.errors import ConfigError
from core.settings import load_settings

DOCS = Path(__file__).parents[1] / "docs" / "configuration.md"


def test_the_reference_in_docs_is_up_to_date():
    assert DOCS.read_text().strip() == markdown().strip(), "run: koppel config --markdown"


def test_a_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("KOPPEL_LEASE_SECONDS", "ten minutes")
    with pytest.raises(ConfigError, match="KOPPEL_LEASE_SECONDS"):
        load_settings()


def test_config_hides_passwords_and_tokens(monkeypatch):
    monkeypatch.setenv("KOPPEL_DATABASE_URL", "postgresql+psycopg://koppel:hunter22@db/koppel")
    monkeypatch.setenv("KOPPEL_API_TOKENS", '["a-very-long-secret-token"]')
    from core.settings import get_settings

    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(cli, ["config"]).stdout
    finally:
        get_settings.cache_clear()
    assert "KOPPEL_DATABASE_URL='postgresql+psycopg://***@db/koppel'" in out
    assert "hunter22" not in out
    assert "a-very-long-secret-token" not in out
    assert "KOPPEL_BASISPOORT_URL=" in out


def test_an_unknown_time_zone_is_refused_at_start(monkeypatch):
    monkeypatch.setenv("KOPPEL_SCHEDULER_TIMEZONE", "Europe/Amsterdm")
    with pytest.raises(ConfigError, match=r"KOPPEL_SCHEDULER_TIMEZONE: .*unknown time zone"):
        load_settings()


def test_a_plugin_setting_that_is_not_json_names_the_variable(monkeypatch):
    from plugins.ip_restriction.settings import load_ip_restriction_settings

    monkeypatch.setenv("KOPPEL_IP_RESTRICTION_ROLES", "pupil, staff")
    with pytest.raises(ConfigError, match="KOPPEL_IP_RESTRICTION_ROLES"):
        load_ip_restriction_settings()


def test_every_setting_has_a_meaning():
    from cli.config_cmd import describe, settings_classes

    empty = [v for cls in settings_classes() for v, _d, meaning in describe(cls) if not meaning]
    assert empty == []


def test_config_checks_and_prints_an_installed_plugins_settings(monkeypatch):
    # The OneRoster plugin in contrib/ is installed as a plugin author's would be (scripts/test).
    pytest.importorskip(
        "koppel_oneroster", reason="pip install -e contrib/koppel-oneroster (scripts/test does)"
    )
    from core.plugins import set_plugins

    set_plugins(None)
    monkeypatch.setenv("KOPPEL_ONEROSTER_REST_CLIENT_SECRET", "hush-Hush-1")
    shown = CliRunner().invoke(cli, ["config"])
    assert shown.exit_code == 0, shown.output
    assert "KOPPEL_ONEROSTER_REST_CLIENT_SECRET=***" in shown.output
    assert "hush-Hush-1" not in shown.output

    monkeypatch.setenv("KOPPEL_ONEROSTER_REST_DEADLINE", "soon")
    refused = CliRunner().invoke(cli, ["config"])
    assert refused.exit_code != 0
    assert "KOPPEL_ONEROSTER_REST_DEADLINE" in refused.output
    assert "Traceback" not in refused.output
