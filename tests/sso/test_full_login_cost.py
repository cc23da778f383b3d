"""What a full login costs the database: the deep link's assertion, /oidc/authorize, /oidc/token.

Counted at the driver (every statement the three requests send, savepoints and their releases
included: the tests' sessions turn each commit into one), through the real app, the pysaml2
identity provider's signed assertion, and a registered client, as bench/logins runs it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from api.app import create_app
from core.oidc.clients import add_client
from core.settings import load_settings
from tests.login.conftest import TOKEN, login_plugins
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


def full_login(browser: TestClient, idp: Any, seed: Any, client_id: str, secret: str) -> str:
    """The three requests of one deep-link login; the id_token."""
    xml = idp.response_xml(basispoort_assertion(seed.school, seed.teacher))
    posted = browser.post("/sso/basispoort/acs", data=idp.form(xml))
    assert posted.status_code == 302 and posted.headers["location"].startswith(LOGIN)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
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
    full_login(browser, idp, seed, client_id, new.secret)  # the first: makes the signing key

    with counted(db) as statements:
        full_login(browser, idp, seed, client_id, new.secret)

    assert len(statements) <= MOST_STATEMENTS, "\n".join(statements)
