"""What a full login costs the database: the deep link's assertion, /oidc/authorize, /oidc/token.

Counted at the driver (every statement the three requests send, savepoints and their releases
included: the tests' sessions turn each commit into one), through the real app, the pysaml2
identity provider's signed assertion, and a registered client, as bench/logins runs it; and on
the API's own engine, as ``koppel api`` builds it, where libpq's trace counts the round trips.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from api.app import create_app
from core.oidc.clients import add_client
from core.settings import load_settings
from tests.conftest import BACKENDS, migrated_database
from tests.login.conftest import TOKEN, login_plugins
from tests.login.helpers import api_engine, round_trips
from tests.sso.conftest import PUBLIC, _Methods
from tests.sso.full_login import LOGIN, REDIRECT, full_login, own_engine

# A steady-state login sent 27 here before (six savepoints among them); now each request is
# one transaction of only what it must send (docs/benchmarks.md, "Full logins").
MOST_STATEMENTS = 14


@contextmanager
def counted(db: Session) -> Iterator[list[str]]:
    """Every statement sent on the test's connection while inside."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split())[:90])

    bind = db.get_bind()
    event.listen(bind, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(bind, "before_cursor_execute", record)


@pytest.fixture
def browser(db: Session, idp: Any) -> Iterator[TestClient]:
    def session_factory() -> Session:
        return Session(
            bind=db.get_bind(), join_transaction_mode="create_savepoint", expire_on_commit=False
        )

    settings = load_settings(
        api_tokens=[TOKEN], public_url=PUBLIC, web_secret=secrets.token_urlsafe(32)
    )
    app = create_app(
        settings,
        session_factory=session_factory,
        plugins=login_plugins(_Methods(idp.metadata_file)),
    )
    # https: the broker session's cookie is Secure.
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


def test_a_full_login_sends_few_statements(db, seed, idp, browser):
    new = add_client(db, "lvs-cost", [REDIRECT], LOGIN)
    db.commit()
    client_id = new.client.client_id
    # The first makes the signing key.
    full_login(browser, idp, seed.school, seed.teacher, client_id, new.secret)

    with counted(db) as statements:
        full_login(browser, idp, seed.school, seed.teacher, client_id, new.secret)

    assert len(statements) <= MOST_STATEMENTS, "\n".join(statements)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_full_login_on_the_apis_own_engine_is_six_round_trips(backend, idp, tmp_path):
    # Before: each of the three requests was a transaction, a BEGIN and a COMMIT around its
    # statements (12 round trips); now each statement is its own (autocommit on PostgreSQL).
    url = migrated_database(backend, tmp_path)
    trace = tmp_path / "libpq.trace"
    pools, statements = api_engine(url, trace)
    engine = pools.engine
    try:
        with own_engine(url, idp, pools) as koppel:
            koppel.full_login(idp)  # the first: makes the signing key, connects
            statements.clear()
            start = trace.stat().st_size if trace.exists() else 0
            koppel.full_login(idp)
            sent = [" ".join(s.split())[:90] for s in statements if s != "BEGIN IMMEDIATE"]
            assert len(sent) == 6, "\n".join(sent)  # (SQLite's own BEGIN left out)
            if engine.dialect.name == "postgresql":
                assert round_trips(trace.read_text()[start:]) == 6, "\n".join(sent)
    finally:
        pools.dispose()
