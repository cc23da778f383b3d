"""'koppel logins denied' lists the audit; 'koppel api' refuses to start without a token."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cli.main import cli
from tests.login.conftest import HOME, NAMES
from tests.login.helpers import deny_logins


def test_logins_denied_lists_one_school(cli_db: str):
    first, second, pupil_id = deny_logins(cli_db)
    result = CliRunner().invoke(cli, ["logins", "denied", second])
    assert result.exit_code == 0, result.output
    [line] = result.output.strip().splitlines()
    assert second in line and first not in line
    assert f"pupil:{pupil_id}" in line and HOME in line and "denied" in line
    assert "ip_restriction: You can only log in from the school's network." in line
    for name in NAMES:
        assert name not in result.output


def test_logins_denied_all_schools_as_json(cli_db: str):
    first, second, _ = deny_logins(cli_db)
    result = CliRunner().invoke(cli, ["logins", "denied", "--json", "--limit", "5"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["brin6"] for r in rows] == [second, first]  # newest first (same time: by id)
    assert rows[0]["reason_nl"] == "Inloggen kan alleen vanaf het netwerk van de school."
    assert rows[0]["client_address"] == HOME and rows[0]["shadow"] is False
    result = CliRunner().invoke(cli, ["logins", "denied", "--json", "--limit", "1"])
    assert len(json.loads(result.output)) == 1


def test_logins_denied_of_an_unknown_school(cli_db: str):
    result = CliRunner().invoke(cli, ["logins", "denied", "99ZZ98"])
    assert result.exit_code == 1
    assert "99ZZ98" in result.output
    result = CliRunner().invoke(cli, ["logins", "denied"])
    assert result.exit_code == 0 and "no denied logins" in result.output


def test_the_api_command_refuses_to_start_without_a_token(cli_db: str):
    result = CliRunner().invoke(cli, ["api", "--port", "8999"])
    assert result.exit_code == 1
    assert "KOPPEL_API_TOKENS" in result.output
