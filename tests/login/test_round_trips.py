"""What one login decision costs the database: statements, and round trips on the wire."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from structlog.testing import capture_logs

from core.hookspecs import hookimpl
from core.login import Denial, LoginAttempt
from core.login.networks import ADMIN_ORIGIN, replace_networks
from core.models import LoginDenial, Pupil, School, SchoolNetwork
from core.settings import load_settings
from tests.conftest import BACKENDS, migrated_database
from tests.live_server import serve
from tests.login.conftest import (
    HOME,
    INSIDE,
    SCHOOL_NET,
    TOKEN,
    add_pupil,
    add_school,
    login_body,
    login_plugins,
)
from tests.login.helpers import api_engine, round_trips


class Refusing:
    """A second policy, refusing everyone while ``on``: a login denied twice."""

    name = "refusing"
    on = False

    def judge(self, attempt: LoginAttempt) -> Denial | None:
        return Denial(self.name, "Nee.", "No.") if self.on else None

    @hookimpl
    def koppel_register_login_policies(self, register: Callable[[Any], None]) -> None:
        register(self)


@dataclass
class Counted:
    """The API's own engine, with every statement it runs and (PostgreSQL) its wire trace."""

    api: httpx.Client
    engine: Engine
    trace: Path
    statements: list[str]
    school: School
    pupil: Pupil
    refusing: Refusing

    def evaluate(self, peer: str) -> tuple[dict[str, Any], list[str], int]:
        """One login; its answer, its statements and its round trips (PostgreSQL, else 0)."""
        self.statements.clear()
        start = self.trace.stat().st_size if self.trace.exists() else 0
        answer = self.api.post(
            "/v1/logins/evaluate", json=login_body(self.school, self.pupil, peer)
        )
        assert answer.status_code == 200, answer.text
        traced = self.trace.read_text()[start:] if self.trace.exists() else ""
        return answer.json(), list(self.statements), round_trips(traced)


@pytest.fixture(scope="module", params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database of this module's own: its commits (the audit rows) stay out of the others'."""
    return migrated_database(request.param, tmp_path_factory.mktemp("db"))


@pytest.fixture
def counted(database: str, tmp_path: Path) -> Iterator[Counted]:
    """The real API, built as 'koppel api' builds it, on a committed school and pupil."""
    url = database
    settings = load_settings(api_tokens=[TOKEN], database_url=url)
    trace = tmp_path / "libpq.trace"
    pools, statements = api_engine(url, trace)
    engine = pools.engine
    with Session(engine, expire_on_commit=False) as db:
        school = add_school(db)
        db.add(SchoolNetwork(school_id=school.id, network=SCHOOL_NET, origin="admin"))
        pupil = add_pupil(db, school)
        db.commit()
    refusing = Refusing()
    plugins = login_plugins()
    plugins.pm.register(refusing, name="test-refusing")
    app = pools.app(settings, plugins)
    try:
        with serve(app, lifespan="on") as base:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            with httpx.Client(base_url=base, headers=headers, timeout=30) as api:
                counted = Counted(api, engine, trace, statements, school, pupil, refusing)
                counted.evaluate(INSIDE)  # connects: the dialect's own first statements
                yield counted
    finally:
        pools.dispose()


def test_an_allowed_login_is_one_statement_and_one_round_trip(counted: Counted) -> None:
    # Before: a pre-ping, BEGIN, the school, the pupil, the staff, the networks, COMMIT (7).
    answer, statements, trips = counted.evaluate(INSIDE)
    assert answer["allowed"] is True and answer["person"]["id"] == counted.pupil.id
    reads = [s for s in statements if not s.startswith("BEGIN")]  # SQLite's own BEGIN
    assert len(reads) == 1 and reads[0].lstrip().startswith("SELECT")
    if counted.engine.dialect.name == "postgresql":
        assert trips == 1


def test_a_denied_login_adds_one_statement_for_its_audit_rows(counted: Counted) -> None:
    answer, statements, trips = counted.evaluate(HOME)
    assert answer["allowed"] is False
    assert [d["policy"] for d in answer["denials"]] == ["ip_restriction"]
    written = [s for s in statements if s.lstrip().startswith("INSERT")]
    assert len(written) == 1 and len(statements) - statements.count("BEGIN IMMEDIATE") == 2
    if counted.engine.dialect.name == "postgresql":
        assert trips == 2
    with Session(counted.engine) as db:
        audited = select(func.count()).where(LoginDenial.person_id == counted.pupil.id)
        assert db.scalar(audited) == 1


def test_a_login_denied_twice_writes_both_audit_rows_in_one_statement(counted: Counted) -> None:
    # One statement is one transaction, also where the reads run in autocommit: both or none.
    counted.refusing.on = True
    answer, statements, trips = counted.evaluate(HOME)
    assert sorted(d["policy"] for d in answer["denials"]) == ["ip_restriction", "refusing"]
    assert len([s for s in statements if s.lstrip().startswith("INSERT")]) == 1
    if counted.engine.dialect.name == "postgresql":
        assert trips == 2
    with Session(counted.engine) as db:
        audited = select(LoginDenial.policy).where(LoginDenial.person_id == counted.pupil.id)
        assert sorted(db.scalars(audited)) == ["ip_restriction", "refusing"]


def test_a_network_removed_takes_effect_at_the_next_login(counted: Counted) -> None:
    # The networks come with each login's own statement: nothing is kept between logins.
    assert counted.evaluate(INSIDE)[0]["allowed"] is True
    with Session(counted.engine) as db:
        replace_networks(db, counted.school.id, ADMIN_ORIGIN, ["203.0.113.0/24"])
        db.commit()
    answer = counted.evaluate(INSIDE)[0]
    assert answer["allowed"] is False
    assert [d["policy"] for d in answer["denials"]] == ["ip_restriction"]


def test_a_stored_row_that_is_no_network_lets_nobody_in_from_it(counted: Counted) -> None:
    # Written around the validation, even looking like the login's aggregated column: left out.
    with Session(counted.engine) as db:
        for garbage in ("not a network", f"x,1:5:admin{len(HOME) + 3}:{HOME}/32", "3:abc", ":,"):
            db.add(SchoolNetwork(school_id=counted.school.id, network=garbage, origin="legacy"))
        db.commit()
    with capture_logs() as logs:
        assert counted.evaluate(INSIDE)[0]["allowed"] is True
        assert counted.evaluate(HOME)[0]["allowed"] is False
    assert "school_network_unreadable" in [e["event"] for e in logs]
