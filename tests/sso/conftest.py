"""Fixtures for the SAML tests: a pysaml2 identity provider and koppel served over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import PlainTextResponse, Response

from api.app import create_app
from api.signin import SignedIn, add_continuation
from core.hookspecs import hookimpl
from core.models import LoginDenial
from core.settings import load_settings
from plugins.basispoort.sso import BasispoortLogin, EntreeLogin
from tests.live_server import serve
from tests.login.conftest import TOKEN, login_plugins, seed  # noqa: F401 (seed: a fixture)
from tests.sso.idp import Assertion, TestIdp

PUBLIC = "https://koppel.test.example"
ACS = f"{PUBLIC}/sso/basispoort/acs"
SP_ENTITY = f"{PUBLIC}/sso/basispoort/metadata"
ENTREE_ACS = f"{PUBLIC}/sso/entree/acs"
ENTREE_ENTITY = f"{PUBLIC}/sso/entree/metadata"


@pytest.fixture(scope="session")
def idp(tmp_path_factory: pytest.TempPathFactory) -> TestIdp:
    return TestIdp(tmp_path_factory.mktemp("idp"))


@dataclass
class Koppel:
    """koppel's app over HTTP, and what its continuation was handed (nothing, when refused)."""

    app: FastAPI
    http: httpx.Client
    signed_in: list[tuple[SignedIn, str]] = field(default_factory=list)
    continuations: list[str] = field(default_factory=list)  # the prefix each was handed to

    def post(self, form: dict[str, str], idp: str = "basispoort", **kwargs: Any) -> httpx.Response:
        return self.http.post(f"/sso/{idp}/acs", data=form, **kwargs)


class StrictLogin(BasispoortLogin):
    """Basispoort's mapping, but only for sign-ins koppel asked for (no deep links)."""

    name = "strict"
    unsolicited = False


class _Methods:
    """The Basispoort plugin's own two login methods (and a strict one), reading the test IdP."""

    def __init__(self, metadata: Path | None) -> None:
        self.metadata = str(metadata) if metadata else None  # None: the (unset) settings

    @hookimpl
    def koppel_register_login_methods(self, register: Any) -> None:
        register(BasispoortLogin(self.metadata))
        register(EntreeLogin(self.metadata))
        register(StrictLogin(self.metadata))


@pytest.fixture
def make_koppel(db: Session, idp: TestIdp) -> Iterator[Any]:
    """Start koppel over HTTP on the test's database; settings are keyword overrides."""
    stack = ExitStack()

    def session_factory() -> Session:
        return Session(
            bind=db.get_bind(), join_transaction_mode="create_savepoint", expire_on_commit=False
        )

    def make(configured: bool = True, **settings: Any) -> Koppel:
        app = create_app(
            load_settings(
                **{
                    "api_tokens": [TOKEN],
                    "public_url": PUBLIC,
                    "trusted_proxies": ["127.0.0.1/32"],
                    **settings,
                }
            ),
            session_factory=session_factory,
            plugins=login_plugins(_Methods(idp.metadata_file if configured else None)),
        )
        url = stack.enter_context(serve(app))
        http = stack.enter_context(httpx.Client(base_url=url, timeout=20))
        koppel = Koppel(app, http)

        def recorder(prefix: str) -> Any:
            def record(request: Request, who: SignedIn, relay_state: str) -> Response:
                koppel.signed_in.append((who, relay_state))
                koppel.continuations.append(prefix)
                return PlainTextResponse(f"signed in: {who.person_kind} {who.person_id}")

            return record

        for prefix in ("", "oidc"):
            add_continuation(app, prefix, recorder(prefix))
        return koppel

    try:
        yield make
    finally:
        stack.close()


@pytest.fixture
def koppel(make_koppel: Any) -> Koppel:
    return make_koppel()


def basispoort_assertion(school: Any, person: Any, **fields: Any) -> Assertion:
    """An IdP-initiated Basispoort assertion naming ``person`` at ``school`` (instellingRef)."""
    attributes = {"instellingRef": school.source_ref, "userId": person.source_id}
    fields = {"acs_url": ACS, "audience": SP_ENTITY, "attributes": attributes, **fields}
    return Assertion(**fields)


def audit_rows(db: Session, policy: str) -> list[LoginDenial]:
    db.expire_all()
    return list(db.scalars(select(LoginDenial).where(LoginDenial.policy == policy)))


def audit_count(db: Session) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(LoginDenial)) or 0
