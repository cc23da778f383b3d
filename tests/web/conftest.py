"""The real app (pages and API) over HTTP, on each backend, with Basispoort as the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

import plugins.ip_restriction.hooks as ip_restriction_hooks
from api.app import create_app
from api.signin import SignedIn, continue_after_sign_in
from core.db import make_engine, make_sessionmaker
from core.models import School, utcnow
from core.plugins import Plugins, make_plugin_manager
from core.settings import load_settings
from plugins.basispoort.settings import BasispoortSettings
from plugins.basispoort.simulator import SimulatorServer, TLSFiles, World
from plugins.basispoort.source import BasispoortSource
from tests.conftest import migrated_database
from tests.live_server import serve
from tests.safety.conftest import BasispoortPlugin

TOKEN = "school-tab-test-token-0123456789"
SCOPED_TOKEN = "school-tab-scoped-token-0123456789"  # for the simulator's "consented" school only
SECRET = "w" * 40


@pytest.fixture
def tab_plugins(sim_server: SimulatorServer, sim_pki: TLSFiles) -> Iterator[Plugins]:
    """The Basispoort source on the simulator over mutual TLS, and the built-in IP rule."""
    source = BasispoortSource(
        BasispoortSettings(
            url=sim_server.url, cert=sim_pki.client, ca=sim_pki.ca, retries=1, backoff=0.001,
            read_timeout=10.0, ipadressen=True,
        )
    )  # fmt: skip
    try:
        yield Plugins(
            make_plugin_manager(
                entry_points=False, extra=[BasispoortPlugin(source), ip_restriction_hooks]
            )
        )
    finally:
        source.close()


def add_test_sign_in(app: FastAPI) -> None:
    """A test-only stand-in for the SAML side (api/sso): a SignedIn from the query, continued."""

    @app.get("/test/sign-in")
    def sign_in(request: Request, brin6: str, relay_state: str, kind: str, roles: str = ""):  # type: ignore[no-untyped-def]
        signed_in = SignedIn(
            source="basispoort",
            idp="basispoort",
            person_kind=kind,  # type: ignore[arg-type]
            person_id=4242,
            school_id=1,
            brin6=brin6,
            roles=tuple(r for r in roles.split(",") if r),
            groups=(),
            at=utcnow(),
        )
        return continue_after_sign_in(request, signed_in, relay_state)


@dataclass
class Tab:
    """The served app, its database and the simulator's world."""

    url: str
    engine: Engine
    world: World
    plugins: Plugins
    app: FastAPI

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def api(self, token: str = TOKEN) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def admin_link(self, brin6: str, token: str = TOKEN) -> str:
        """Mint a one-time link as the LVS does; the path (the test server's port is not the
        configured public URL's)."""
        with self.api(token) as api:
            answer = api.post(f"/v1/schools/{brin6}/admin-link", json={"admin": "lvs-user-7"})
        assert answer.status_code == 201, answer.text
        return urlsplit(answer.json()["url"]).path

    def school(self, brin6: str) -> School | None:
        from core.schools import school_by_brin6

        with self.session() as session:
            return school_by_brin6(session, brin6)


def make_tab_app(engine: Engine, plugins: Plugins, world: World) -> FastAPI:
    consented = world.school(world.find("consented")).brin6
    settings = load_settings(
        api_tokens=[TOKEN, {"token": SCOPED_TOKEN, "schools": [consented]}], web_secret=SECRET
    )
    app = create_app(settings, session_factory=make_sessionmaker(engine), plugins=plugins)
    add_test_sign_in(app)
    return app


@pytest.fixture
def tab_engine(db_engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    """A database of the tab's own, on the same backend: its pages commit for real, and the
    simulator's schools (the same seed in every test) must not meet another test's copies."""
    backend = "sqlite" if db_engine.dialect.name == "sqlite" else "postgres"
    engine = make_engine(migrated_database(backend, tmp_path))
    yield engine
    engine.dispose()  # tests/conftest.py drops the PostgreSQL database when the session ends


@pytest.fixture
def tab(tab_engine: Engine, tab_plugins: Plugins, sim_world: World) -> Iterator[Tab]:
    app = make_tab_app(tab_engine, tab_plugins, sim_world)
    with serve(app) as url:
        yield Tab(url, tab_engine, sim_world, tab_plugins, app)
