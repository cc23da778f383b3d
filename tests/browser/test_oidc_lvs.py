"""Signing in to an LVS through koppel as a person would, in a real browser: the LVS's login
link, koppel's /oidc/authorize, the simulator IdP's login page, koppel's ACS, back to the LVS,
whose stock OIDC client (authlib) shows the claims it checked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import ip_network
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import BrowserContext, Page
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.oidc.broker import install_continuations
from core.models import OidcCode, Pupil, SamlRequest, Staff
from core.oidc.clients import add_client
from tests.live_server import serve
from tests.oidc.lvs_app import CALLBACK, INITIATE_LOGIN, connect, lvs_app
from tests.sso.simulator import SyncedSchool, serve_koppel, sync_simulator_school


@dataclass
class Running:
    lvs: str  # the LVS's address
    koppel: str
    synced: SyncedSchool
    sim: Any


@contextmanager
def lvs_and_koppel(db: Session, sim: Any, monkeypatch: Any, **settings: Any) -> Iterator[Running]:
    synced = sync_simulator_school(db, sim, monkeypatch)
    lvs = lvs_app()
    with serve_koppel(db, synced.plugins, **settings) as koppel, serve(lvs) as lvs_url:
        install_continuations(koppel.app)  # koppel's own, over the SAML tests' recorder
        new = add_client(
            db, "lvs-browser-test", [f"{lvs_url}{CALLBACK}"], f"{lvs_url}{INITIATE_LOGIN}"
        )
        db.commit()
        connect(lvs, koppel.url, new.client.client_id, new.secret)
        yield Running(lvs_url, koppel.url, synced, sim)


def sign_in_at_the_lvs(page: Page, running: Running, who: str) -> None:
    """Click the LVS's login, choose the school at the simulator IdP, click ``who``."""
    page.goto(running.lvs)
    page.click("#login")
    # koppel sent the browser on to sign in; the simulator asks for the school first.
    page.locator(f'a[href*="school={running.synced.school.source_school_id}"]').click()
    page.locator("button", has_text=who).first.click()


@pytest.mark.browser
def test_a_teacher_lands_in_the_lvs_with_checked_claims(db, sim_http_server, monkeypatch, page):
    with lvs_and_koppel(db, sim_http_server, monkeypatch) as running:
        sign_in_at_the_lvs(page, running, "Leerkracht")
        page.wait_for_url(re.compile(re.escape(f"{running.lvs}{CALLBACK}") + r"\?code="))
        claims = {
            key: page.locator(f"#{key}").text_content()
            for key in ("person_kind", "person_id", "brin6", "iss", "aud", "roles")
        }

    teacher = db.get_one(Staff, int(claims["person_id"] or 0))
    assert page.locator("#welcome").text_content() == "Welkom"
    assert claims["person_kind"] == "staff"
    assert claims["brin6"] == running.synced.school.brin6
    assert claims["iss"] == running.koppel
    assert "Leerkracht" in (claims["roles"] or "") and teacher.school_id == running.synced.school.id


@pytest.mark.browser
def test_a_pupil_outside_the_schools_networks_is_refused_and_the_lvs_gets_no_code(
    db, sim_http_server, monkeypatch, page
):
    # The browser connects from 127.0.0.1, which is none of the school's networks.
    with lvs_and_koppel(db, sim_http_server, monkeypatch) as running:
        sign_in_at_the_lvs(page, running, "leerling")
        page.wait_for_url(f"{running.koppel}/sso/basispoort/acs")
        refusal = page.locator("main").text_content() or ""

    assert "Inloggen kan alleen vanaf het netwerk van de school." in refusal
    assert db.scalar(select(func.count()).select_from(OidcCode)) == 0


@pytest.mark.browser
def test_a_pupil_at_school_lands_in_the_lvs(
    db: Session, sim_http_server, monkeypatch, context: BrowserContext
):
    with lvs_and_koppel(
        db, sim_http_server, monkeypatch, trusted_proxies=["127.0.0.1/32"]
    ) as running:
        # As if through the school's proxy: koppel believes 127.0.0.1's X-Forwarded-For.
        inside = str(next(ip_network(running.synced.networks[0]).hosts()))
        context.set_extra_http_headers({"X-Forwarded-For": inside})
        page = context.new_page()
        sign_in_at_the_lvs(page, running, "leerling")
        page.wait_for_url(re.compile(re.escape(f"{running.lvs}{CALLBACK}") + r"\?code="))
        kind = page.locator("#person_kind").text_content()
        person_id = int(page.locator("#person_id").text_content() or 0)

    assert kind == "pupil"
    assert db.get_one(Pupil, person_id).school_id == running.synced.school.id


@pytest.mark.browser
def test_a_teacher_from_basispoorts_deep_link_lands_in_the_lvs_without_a_second_sign_in(
    db, sim_http_server, monkeypatch, page
):
    with lvs_and_koppel(db, sim_http_server, monkeypatch) as running:
        target = {
            "TARGET": f"{running.koppel}/sso/basispoort/acs",
            "INSTELLING_REF": running.synced.school.source_ref,
        }
        page.goto(f"{running.sim.url}login/leerlingen/snelkoppelaar?{urlencode(target)}")
        page.locator("button", has_text="Leerkracht").first.click()
        # koppel's ACS -> the LVS's login initiation -> /oidc/authorize (broker session) -> code
        page.wait_for_url(re.compile(re.escape(f"{running.lvs}{CALLBACK}") + r"\?code="))
        kind = page.locator("#person_kind").text_content()
        iss = page.locator("#iss").text_content()

    assert kind == "staff" and iss == running.koppel
    assert db.scalar(select(func.count()).select_from(OidcCode)) == 1
    # No AuthnRequest was sent: the broker session stood in for a second sign-in.
    assert db.scalar(select(func.count()).select_from(SamlRequest)) == 0
