"""koppel beside the Basispoort simulator's identity provider: a synced school, koppel served."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

import plugins.basispoort.hooks as basispoort_hooks
import plugins.ip_restriction.hooks as ip_restriction_hooks
from api.app import create_app
from api.signin import SignedIn, add_continuation
from cli.demo_sso import hidden_fields, person_buttons
from core.linking import link_school
from core.models import School, SchoolNetwork
from core.plugins import Plugins, make_plugin_manager
from core.settings import load_settings
from core.sync.engine import sync_school
from plugins.basispoort.simulator import SimulatorServer
from tests.live_server import serve
from tests.login.conftest import TOKEN


@dataclass
class SyncedSchool:
    school: School
    plugins: Plugins
    networks: list[str]  # the school's networks as synced from the simulator


def sync_simulator_school(db: Session, sim: SimulatorServer, monkeypatch: Any) -> SyncedSchool:
    """Link and sync the simulator's consenting school; its metadata is the simulator's IdP."""
    monkeypatch.setenv("KOPPEL_BASISPOORT_URL", sim.url)
    monkeypatch.setenv("KOPPEL_BASISPOORT_IPADRESSEN", "true")
    monkeypatch.setenv("KOPPEL_BASISPOORT_SSO_METADATA", f"{sim.url}idp/metadata")
    plugins = Plugins(
        make_plugin_manager(entry_points=False, extra=[basispoort_hooks, ip_restriction_hooks])
    )
    world = sim.world
    brin6 = world.school(world.find("consented")).brin6
    link_school(db, plugins, brin6, "basispoort")
    brin, location = brin6[:4], brin6[4:]
    # By BRIN6, not "the Basispoort school": other tests' schools may share the database.
    school = db.scalars(
        select(School).where(School.brin == brin, School.location_code == location)
    ).one()
    # "unchanged": an earlier test on the same simulator and database synced it already.
    assert sync_school(db, school.id, plugins=plugins).outcome in ("succeeded", "unchanged")
    networks = db.scalars(select(SchoolNetwork.network).where(SchoolNetwork.school_id == school.id))
    return SyncedSchool(school, plugins, list(networks))


@dataclass
class Served:
    """koppel served: its app, its address, and whom it handed on (with their relay state)."""

    app: Any
    url: str
    signed_in: list[tuple[SignedIn, str]] = field(default_factory=list)

    def record(self, request: Request, who: SignedIn, relay_state: str) -> Response:
        self.signed_in.append((who, relay_state))
        return HTMLResponse(f"<h1 id='who'>{who.person_kind} {who.person_id}</h1>")


@contextmanager
def serve_koppel(db: Session, plugins: Plugins, port: int = 0, **settings: Any) -> Iterator[Served]:
    """koppel over HTTP on the test's database; its public address is where it listens (a free
    port, or ``port``: koppel restarted where it was).

    Whoever signs in is recorded and shown as "<kind> <person id>" (the continuations for
    every relay state the tests use), whatever other continuations koppel has installed.
    """

    def session_factory() -> Session:
        return Session(
            bind=db.get_bind(), join_transaction_mode="create_savepoint", expire_on_commit=False
        )

    config = load_settings(api_tokens=[TOKEN], **settings)
    app = create_app(config, session_factory=session_factory, plugins=plugins)
    with serve(app, port=port) as url:
        services = app.state.services
        public = config.model_copy(update={"public_url": url})
        app.state.services = dataclasses.replace(services, settings=public)
        served = Served(app, url)
        for prefix in ("", "x"):
            add_continuation(app, prefix, served.record)
        yield served


def sign_in_at_simulator(sim: SimulatorServer, page: str, label_part: str) -> dict[str, str]:
    """Click the first person whose label holds ``label_part``: the form the browser posts on."""
    person = next(v for label, v in person_buttons(page).items() if label_part in label)
    form = {**hidden_fields(page), "person": person}
    answer = httpx.post(f"{sim.url}idp/sign-in", data=form, timeout=10)
    assert answer.status_code == 200, answer.text
    posted = hidden_fields(answer.text)
    return {k: posted[k] for k in ("SAMLResponse", "RelayState") if k in posted}


def choose_school(sim: SimulatorServer, chooser: str, school: School) -> str:
    """Click ``school`` on the IdP's school chooser (after an AuthnRequest): its people page."""
    link = next(
        html.unescape(href)
        for href in re.findall(r'href="(/idp/people\?[^"]+)"', chooser)
        if f"school={school.source_school_id}" in html.unescape(href)
    )
    return httpx.get(sim.url + link.lstrip("/"), timeout=10).text
