"""A full login through the real app (the deep link's assertion, /oidc/authorize, /oidc/token),
and koppel's app on an engine of its own as ``koppel api`` builds it: for the cost and restart
tests."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.models import School, Staff
from core.oidc.clients import add_client
from core.settings import load_settings
from tests.login.conftest import TOKEN, add_school, add_staff, login_plugins
from tests.login.helpers import ApiPools
from tests.sso.conftest import PUBLIC, _Methods, basispoort_assertion

REDIRECT = "https://lvs.test/oidc/callback"
LOGIN = "https://lvs.test/oidc/login"


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
def own_engine(url: str, idp: Any, pools: ApiPools) -> Iterator[OwnEngine]:
    """A committed school, teacher and client on the pools' database, and the app on them."""
    engine = pools.engine
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
    app = pools.app(settings, login_plugins(_Methods(idp.metadata_file)))
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as browser:
        yield OwnEngine(browser, engine, school, teacher, new.client.client_id, new.secret)


def start_sign_in(koppel: Any, idp: str = "basispoort", relay_state: str = "oidc:abc") -> dict:
    """koppel's redirect to the identity provider for a sign-in it starts: the query it sends."""
    start = koppel.http.get(f"/sso/{idp}/login", params={"relay_state": relay_state})
    assert start.status_code == 303
    return dict(parse_qsl(urlsplit(start.headers["location"]).query))
