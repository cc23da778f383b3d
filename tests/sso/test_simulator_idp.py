"""The simulator's identity provider signs (signxml, EC key); koppel reads its metadata by URL."""

from __future__ import annotations

import html
from ipaddress import ip_network
from urllib.parse import urlencode

import httpx

from core.models import Staff
from tests.sso.simulator import (
    choose_school,
    person_buttons,
    serve_koppel,
    sign_in_at_simulator,
    sync_simulator_school,
)

HOME = "198.51.100.7"


def form_person(page: str, label_part: str) -> str:
    return next(v for label, v in person_buttons(page).items() if label_part in label)


def deep_link(sim, acs: str, ref: str) -> str:
    query = urlencode({"TARGET": acs, "INSTELLING_REF": ref})
    return f"{sim.url}login/leerlingen/snelkoppelaar?{query}"


def test_a_teacher_signs_in_through_the_simulators_deep_link(db, sim_http_server, monkeypatch):
    synced = sync_simulator_school(db, sim_http_server, monkeypatch)
    with serve_koppel(db, synced.plugins) as koppel:
        url = koppel.url
        page = httpx.get(
            deep_link(sim_http_server, f"{url}/sso/basispoort/acs", synced.school.source_ref)
        )
        assert page.status_code == 200 and "Leerkracht" in page.text
        form = sign_in_at_simulator(sim_http_server, page.text, "Leerkracht")
        response = httpx.post(f"{url}/sso/basispoort/acs", data=form)
    assert response.status_code == 200, response.text
    [(who, _)] = koppel.signed_in
    teacher = db.get(Staff, who.person_id)
    assert teacher is not None and teacher.source_id == form_person(page.text, "Leerkracht")
    assert (who.person_kind, who.school_id, who.roles) == (
        "staff",
        synced.school.id,
        ("Leerkracht",),
    )


def test_a_pupil_is_refused_at_home_and_let_in_at_school(db, sim_http_server, monkeypatch):
    synced = sync_simulator_school(db, sim_http_server, monkeypatch)
    inside = str(next(ip_network(synced.networks[0]).hosts()))
    with serve_koppel(db, synced.plugins, trusted_proxies=["127.0.0.1/32"]) as koppel:
        acs = f"{koppel.url}/sso/basispoort/acs"
        page = httpx.get(deep_link(sim_http_server, acs, synced.school.source_ref)).text
        home = httpx.post(
            acs,
            data=sign_in_at_simulator(sim_http_server, page, "leerling"),
            headers={"X-Forwarded-For": HOME},
        )
        school = httpx.post(
            acs,
            data=sign_in_at_simulator(sim_http_server, page, "leerling"),
            headers={"X-Forwarded-For": inside},
        )
    assert home.status_code == 403
    assert "Inloggen kan alleen vanaf het netwerk van de school." in html.unescape(home.text)
    assert school.status_code == 200, school.text
    assert [who.person_kind for who, _ in koppel.signed_in] == ["pupil"]


def test_an_sp_initiated_sign_in_goes_through_the_simulator(db, sim_http_server, monkeypatch):
    synced = sync_simulator_school(db, sim_http_server, monkeypatch)
    with serve_koppel(db, synced.plugins) as koppel:
        url = koppel.url
        start = httpx.get(f"{url}/sso/basispoort/login", params={"relay_state": "x:1"})
        assert start.status_code == 303
        chooser = httpx.get(start.headers["location"])
        assert chooser.status_code == 200
        page = choose_school(sim_http_server, chooser.text, synced.school)
        form = sign_in_at_simulator(sim_http_server, page, "Leerkracht")
        response = httpx.post(f"{url}/sso/basispoort/acs", data=form)
    assert response.status_code == 200, response.text
    [(who, relay_state)] = koppel.signed_in
    assert who.person_kind == "staff" and relay_state == "1"  # the relay state koppel stored
