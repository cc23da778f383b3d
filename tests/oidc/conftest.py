"""Fixtures for the OpenID Connect provider: koppel served over HTTP, seeded people, and a
stock OIDC client (authlib's) standing in for the LVS."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from api.app import create_app
from cli.demo_lvs import StockClient
from core.db import make_engine, make_sessionmaker
from core.models import Group, Pupil, Staff, StaffGroup, utcnow
from core.oidc.clients import add_client
from core.settings import load_settings
from tests.live_server import serve
from tests.login.conftest import (
    TOKEN,
    add_pupil,
    add_school,
    add_staff,
    login_plugins,
    sessions_on,
)
from tests.oidc.stub_sign_in import PATH as STUB_SIGN_IN
from tests.oidc.stub_sign_in import install_stub_sign_in

REDIRECT = "https://lvs.test/oidc/callback"
WEB_SECRET = "test-web-secret-0123456789abcdefghij"


@dataclass
class Registered:
    name: str
    client_id: str
    secret: str
    redirect_uri: str = REDIRECT


@dataclass
class Koppel:
    """koppel over real HTTP on the test's database, a teacher and a pupil of one school."""

    app: FastAPI
    url: str
    db: Session
    teacher: Staff
    pupil: Pupil
    browser: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.browser = httpx.Client(base_url=self.url, follow_redirects=False, timeout=10)

    def register(
        self, name: str | None = None, initiate_login_uri: str | None = None
    ) -> Registered:
        name = name or f"lvs-{secrets.token_hex(3)}"
        new = add_client(self.db, name, [REDIRECT], initiate_login_uri)
        self.db.commit()
        return Registered(name, new.client.client_id, new.secret)

    def set_clock(self, moment: datetime) -> None:
        """Move the provider's clock by hand (no sleeping in tests)."""
        self.app.state.oidc_clock = lambda: moment

    def later(self, **delta: float) -> None:
        self.set_clock(utcnow() + timedelta(**delta))

    def sign_in(self, authorization_url: str, person: Pupil | Staff) -> httpx.Response:
        """The browser's part: /oidc/authorize, the (stub) identity provider, back to the LVS.

        Returns koppel's last answer: normally the redirect to the LVS with code and state.
        """
        return self.come_back(self.ask(authorization_url), person)

    def ask(self, authorization_url: str) -> str:
        """The browser at /oidc/authorize, sent on to sign in: the relay state it carries."""
        asked = self.browser.get(authorization_url)
        assert asked.status_code == 302, asked.text
        sign_in = urlsplit(asked.headers["location"])
        assert sign_in.path == "/sso/basispoort/login", sign_in
        return parse_qs(sign_in.query)["relay_state"][0]

    def come_back(self, relay_state: str, person: Pupil | Staff) -> httpx.Response:
        """The identity provider vouched for ``person`` (test-only stand-in for api/sso)."""
        kind = "pupil" if isinstance(person, Pupil) else "staff"
        return self.browser.get(
            STUB_SIGN_IN, params={"relay_state": relay_state, "kind": kind, "person_id": person.id}
        )


def seed_people(db: Session) -> tuple[Staff, Pupil]:
    """A school with a group, its teacher (a Leerkracht of the group) and a pupil in it."""
    school = add_school(db)
    group = Group(
        school_id=school.id,
        source="basispoort",
        kind="group",
        source_key="g7a",
        name="Groep 7A",
        row_hash="0" * 32,
    )
    db.add(group)
    db.flush()
    teacher = add_staff(db, school, roles=["Leerkracht"])
    db.add(StaffGroup(staff_id=teacher.id, group_id=group.id))
    pupil = add_pupil(db, school, group_id=group.id)
    db.commit()
    return teacher, pupil


@contextmanager
def running_koppel(
    db: Session, session_factory: Callable[[], Session], **settings: Any
) -> Iterator[Koppel]:
    """koppel's real app over HTTP, plus the test-only sign-in standing in for api/sso."""
    teacher, pupil = seed_people(db)
    loaded = load_settings(api_tokens=[TOKEN], web_secret=WEB_SECRET, **settings)
    app = create_app(loaded, session_factory=session_factory, plugins=login_plugins())
    install_stub_sign_in(app)
    with serve(app) as url:
        # The issuer is where the LVS reaches koppel: known once the server has its port.
        loaded.public_url = url
        running = Koppel(app, url, db, teacher, pupil)
        try:
            yield running
        finally:
            running.browser.close()


@pytest.fixture
def koppel(db: Session) -> Iterator[Koppel]:
    with running_koppel(db, sessions_on(db)) as running:
        yield running


class Lvs(StockClient):
    """The LVS's side, as any LVS would write it with a stock OIDC client library."""

    def __init__(
        self, koppel: Koppel, registered: Registered, auth_method: str = "client_secret_basic"
    ) -> None:
        super().__init__(
            koppel.url,
            registered.client_id,
            registered.secret,
            registered.redirect_uri,
            auth_method,
        )
        self.koppel = koppel
        self.registered = registered

    def sign_in(self, person: Pupil | Staff) -> tuple[dict[str, Any], dict[str, Any]]:
        """The whole login: the token response and the verified id_token's claims."""
        login = self.start()
        callback = self.koppel.sign_in(login.url, person)
        assert callback.status_code == 302, callback.text
        token = self.exchange(callback.headers["location"], login)
        return token, self.verify(token, login)


def query_of(response: httpx.Response) -> dict[str, str]:
    """The parameters of a redirect's Location, one value each."""
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


@pytest.fixture
def koppel_on_cli_db(cli_db: str) -> Iterator[Koppel]:
    engine = make_engine(cli_db)
    try:
        # expire_on_commit=False: reading a seeded id must not open a (locking) SQLite transaction.
        db = Session(engine, expire_on_commit=False)
        with db, running_koppel(db, make_sessionmaker(engine)) as running:
            yield running
    finally:
        engine.dispose()
