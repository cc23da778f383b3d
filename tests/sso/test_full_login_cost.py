"""What a full login costs the database: the deep link's assertion, /oidc/authorize, /oidc/token.

Counted at the driver (every statement the three requests send, savepoints and their releases
included: the tests' sessions turn each commit into one), through the real app, the pysaml2
identity provider's signed assertion, and a registered client, as bench/logins runs it; and on
the API's own engine, as ``koppel api`` builds it, where libpq's trace counts the round trips.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from api.app import create_app
from core.db import make_sessionmaker
from core.models import School, Staff
from core.oidc.clients import add_client
from core.settings import load_settings
from tests.conftest import BACKENDS, migrated_database
from tests.login.conftest import TOKEN, add_school, add_staff, login_plugins
from tests.login.test_round_trips import api_engine, round_trips
from tests.sso.conftest import PUBLIC, _Methods, basispoort_assertion

REDIRECT = "https://lvs.test/oidc/callback"
LOGIN = "https://lvs.test/oidc/login"
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


def full_login(
    browser: TestClient,
    idp: Any,
    school: School,
    person: Staff,
    client_id: str,
    secret: str,
    before_each: Callable[[], None] = lambda: None,
) -> str:
    """The three requests of one deep-link login (``before_each`` runs before each); the
    id_token."""
    xml = idp.response_xml(basispoort_assertion(school, person))
    before_each()
    posted = browser.post("/sso/basispoort/acs", data=idp.form(xml))
    assert posted.status_code == 302 and posted.headers["location"].startswith(LOGIN)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    before_each()
    authorized = browser.get(
        "/oidc/authorize",
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "scope": "openid",
            "state": "s",
            "nonce": secrets.token_urlsafe(8),
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        },
    )
    assert authorized.status_code == 302, authorized.text
    code = parse_qs(urlsplit(authorized.headers["location"]).query)["code"][0]
    before_each()
    token = browser.post(
        "/oidc/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        auth=(client_id, secret),
    )
    assert token.status_code == 200, token.text
    return str(token.json()["id_token"])


def test_a_full_login_sends_few_statements(db, seed, idp, browser):
    new = add_client(db, "lvs-cost", [REDIRECT], LOGIN)
    db.commit()
    client_id = new.client.client_id
    # The first makes the signing key.
    full_login(browser, idp, seed.school, seed.teacher, client_id, new.secret)

    with counted(db) as statements:
        full_login(browser, idp, seed.school, seed.teacher, client_id, new.secret)

    assert len(statements) <= MOST_STATEMENTS, "\n".join(statements)


@dataclass
class OwnEngine:
    """koppel's app on an engine of its own, as ``koppel api`` builds it, and who signs in."""

    browser: TestClient
    engine: Engine
    school: School
    teacher: Staff
    client_id: str
    secret: str

    def full_login(self, idp: Any, before_each: Callable[[], None] = lambda: None) -> str:
        return full_login(
            self.browser, idp, self.school, self.teacher, self.client_id, self.secret, before_each
        )


@contextmanager
def own_engine(url: str, idp: Any, engine: Engine) -> Iterator[OwnEngine]:
    """A committed school, teacher and client on ``engine``'s database, and the app on it."""
    with Session(engine, expire_on_commit=False) as db:
        school = add_school(db)
        teacher = add_staff(db, school)
        new = add_client(db, "lvs-own-engine", [REDIRECT], LOGIN)
        db.commit()
    settings = load_settings(
        api_tokens=[TOKEN],
        public_url=PUBLIC,
        web_secret=secrets.token_urlsafe(32),
        database_url=url,
    )
    app = create_app(
        settings, make_sessionmaker(engine), login_plugins(_Methods(idp.metadata_file))
    )
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as browser:
        yield OwnEngine(browser, engine, school, teacher, new.client.client_id, new.secret)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_full_login_on_the_apis_own_engine_is_six_round_trips(backend, idp, tmp_path):
    # Before: each of the three requests was a transaction, a BEGIN and a COMMIT around its
    # statements (12 round trips); now each statement is its own (autocommit on PostgreSQL).
    url = migrated_database(backend, tmp_path)
    trace = tmp_path / "libpq.trace"
    engine, statements = api_engine(url, trace)
    try:
        with own_engine(url, idp, engine) as koppel:
            koppel.full_login(idp)  # the first: makes the signing key, connects
            statements.clear()
            start = trace.stat().st_size if trace.exists() else 0
            koppel.full_login(idp)
            sent = [" ".join(s.split())[:90] for s in statements if s != "BEGIN IMMEDIATE"]
            assert len(sent) == 6, "\n".join(sent)  # (SQLite's own BEGIN left out)
            if engine.dialect.name == "postgresql":
                assert round_trips(trace.read_text()[start:]) == 6, "\n".join(sent)
    finally:
        engine.dispose()
