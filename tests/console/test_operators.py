"""'koppel operators add/list/remove', and what a sign-in does to the stored account."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from api.app import create_app
from cli import runtime
from cli.main import cli
from core.models import Operator
from core.plugins import Plugins, make_plugin_manager
from core.settings import get_settings
from tests.console.conftest import NAME, PASSWORD, console_settings


@pytest.fixture
def koppel_cli(monkeypatch: pytest.MonkeyPatch, fresh_db_url: str) -> Iterator:  # type: ignore[type-arg]
    monkeypatch.setenv("KOPPEL_DATABASE_URL", fresh_db_url)
    get_settings.cache_clear()
    runtime.forget_engines()
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> tuple[int, str]:
        result = runner.invoke(cli, list(args), input=input, catch_exceptions=False)
        return result.exit_code, result.stdout + result.stderr

    yield run
    get_settings.cache_clear()
    runtime.forget_engines()


def test_operators_are_added_listed_and_removed(koppel_cli) -> None:  # type: ignore[no-untyped-def]
    code, out = koppel_cli("operators", "add", "Anna", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert code == 0 and "operator anna added" in out
    assert PASSWORD not in out
    code, out = koppel_cli("operators", "add", "bram", "--password-stdin", input=f"{PASSWORD}\n")
    assert code == 0
    code, out = koppel_cli("operators", "list")
    assert code == 0
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["anna", "bram"]
    assert "argon2" not in out and "$" not in out  # no hashes shown
    code, out = koppel_cli("operators", "remove", "ANNA")
    assert code == 0 and "operator anna removed" in out
    code, out = koppel_cli("operators", "list")
    assert [line.split()[0] for line in out.strip().splitlines()] == ["bram"]


def test_a_bad_password_or_name_is_refused_with_what_to_do(koppel_cli) -> None:  # type: ignore[no-untyped-def]
    code, out = koppel_cli("operators", "add", "anna", "--password-stdin", input="short\n")
    assert code == 1 and "shorter than 12 characters" in out and "Traceback" not in out
    code, out = koppel_cli("operators", "add", "anna", input=f"{PASSWORD}\nsomething else 1\n" * 3)
    assert code == 1 and "do not match" in out  # asked twice; never the same: nothing added
    code, out = koppel_cli(
        "operators", "add", "no spaces", "--password-stdin", input=f"{PASSWORD}\n"
    )
    assert code == 1 and "not a usable operator name" in out
    koppel_cli("operators", "add", "anna", "--password-stdin", input=f"{PASSWORD}\n")
    code, out = koppel_cli("operators", "add", "anna", "--password-stdin", input=f"{PASSWORD}\n")
    assert code == 1 and "already an operator 'anna'" in out
    code, out = koppel_cli("operators", "remove", "nobody")
    assert code == 1 and "there is no operator 'nobody'" in out


def test_a_sign_in_rehashes_an_old_hash_and_logs_no_name(
    sessions: sessionmaker[Session], console_url: str
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    with sessions() as s:
        operator = s.scalars(select(Operator).where(Operator.name == NAME)).one()
        operator.password_hash = weak.hash(PASSWORD)
        s.commit()
    app = create_app(
        console_settings(console_url),
        session_factory=sessions,
        plugins=Plugins(make_plugin_manager(entry_points=False)),
    )
    with TestClient(app, base_url="https://testserver") as client, capture_logs() as logs:
        form = client.get("/console/sign-in").text
        token = form.split('name="csrf_token" value="')[1].split('"')[0]
        answer = client.post(
            "/console/sign-in",
            data={"csrf_token": token, "name": NAME, "password": PASSWORD},
            follow_redirects=False,
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/console"
        assert client.get("/console").status_code == 200
    with sessions() as s:
        stored = s.scalars(select(Operator.password_hash).where(Operator.name == NAME)).one()
    assert "m=8192" not in stored and PasswordHasher().verify(stored, PASSWORD)
    lines = [line for line in logs if line["event"] == "operator_action"]
    assert lines and all(NAME not in str(line) for line in lines)
