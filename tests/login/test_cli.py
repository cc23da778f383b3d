"""'koppel logins denied' lists the audit; 'koppel api' refuses to start without a token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from cli import runtime
from cli.main import cli
from core.db import make_engine
from core.login.attempt import make_attempt
from core.login.client_address import derive_client_address
from core.login.evaluate import evaluate_login
from core.login.identity import LoginIdentity, resolve_identity
from core.models import SchoolNetwork
from core.settings import get_settings, load_settings
from tests.login.conftest import HOME, NAMES, SCHOOL_NET, add_pupil, add_school, login_plugins


@pytest.fixture
def cli_db(fresh_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The CLI's settings point at a fresh SQLite database; caches are cleared around the test."""
    monkeypatch.setenv("KOPPEL_DATABASE_URL", fresh_db_url)
    monkeypatch.delenv("KOPPEL_API_TOKENS", raising=False)
    get_settings.cache_clear()
    runtime.session_factory.cache_clear()
    try:
        yield fresh_db_url
    finally:
        get_settings.cache_clear()
        runtime.session_factory.cache_clear()


def deny_logins(url: str) -> tuple[str, str, int]:
    """Two schools; a pupil of each refused from home. Returns the BRIN6s and a pupil id."""
    engine = make_engine(url)
    with Session(engine) as db:
        brins, pupil_id = [], 0
        for _ in range(2):
            school = add_school(db)
            db.add(SchoolNetwork(school_id=school.id, network=SCHOOL_NET, origin="admin"))
            pupil = add_pupil(db, school)
            identity = LoginIdentity("basispoort", school.source_ref, user_id=pupil.source_id)
            attempt = make_attempt(
                db,
                resolve_identity(db, identity),
                derive_client_address(HOME),
                datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
            )
            evaluate_login(db, attempt, login_plugins(), load_settings())
            brins.append(school.brin6)
            pupil_id = pupil.id
        db.commit()
    engine.dispose()
    return brins[0], brins[1], pupil_id


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
