"""School endpoints over HTTP: status, connection check, and the networks pupils log in from."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.orm import Session

from core.connection import SENTENCES, ConnectionStatus
from core.errors import SourceUnavailable
from core.models import SyncRun
from tests.fakes import FakeSource, FakeSourcePlugin, make_snapshot
from tests.login.conftest import (
    HOME,
    INSIDE,
    SCHOOL_NET,
    SCHOOL_NET_V6,
    MakeApi,
    Seed,
    login_body,
    login_plugins,
    unique_brin6,
)


def test_status_of_a_school(api: httpx.Client, seed: Seed, db: Session):
    started = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
    db.add(
        SyncRun(
            school_id=seed.school.id,
            trigger="nightly",
            started_at=started,
            finished_at=started.replace(minute=1),
            outcome="succeeded",
        )
    )
    db.commit()
    response = api.get(f"/v1/schools/{seed.school.brin6.lower()}/status")
    assert response.status_code == 200, response.text
    status = response.json()
    assert status["brin6"] == seed.school.brin6
    assert (status["consent"], status["active"], status["merged_into"]) == ("granted", True, None)
    assert status["last_sync"]["outcome"] == "succeeded"
    assert status["last_sync"]["started_at"].startswith("2026-11-29T02:00:00")
    # The pupil who left is not counted.
    assert status["counts"] == {"pupils": 1, "staff": 1, "groups": 0, "networks": 2}


def test_status_of_an_unknown_or_malformed_school(api: httpx.Client, seed: Seed):
    response = api.get("/v1/schools/00XX99/status")
    assert response.status_code == 404
    assert "connection-check" in response.json()["hint"]
    response = api.get("/v1/schools/12AB0/status")
    assert response.status_code == 422
    assert "12AB0" in response.json()["detail"] and "12AB00" in response.json()["hint"]


def test_networks_show_their_origin(api: httpx.Client, seed: Seed):
    response = api.get(f"/v1/schools/{seed.school.brin6}/networks")
    assert response.status_code == 200
    assert [(n["origin"], n["network"]) for n in response.json()["networks"]] == [
        ("admin", SCHOOL_NET),
        ("basispoort", SCHOOL_NET_V6),
    ]


def test_replacing_the_admin_networks_keeps_the_sources_and_takes_effect(
    api: httpx.Client, seed: Seed
):
    path = f"/v1/schools/{seed.school.brin6}/networks"
    body = {
        "networks": [{"network": "198.51.100.0/24", "description": "dependance"}, "203.0.113.9"]
    }
    response = api.put(path, json=body)
    assert response.status_code == 200, response.text
    assert [(n["origin"], n["network"], n["description"]) for n in response.json()["networks"]] == [
        ("admin", "198.51.100.0/24", "dependance"),
        ("admin", "203.0.113.9/32", None),
        ("basispoort", SCHOOL_NET_V6, None),
    ]
    assert api.get(path).json() == response.json()
    # The pupil at HOME (198.51.100.7) is now inside; the old school network no longer is.
    evaluate = "/v1/logins/evaluate"
    assert api.post(evaluate, json=login_body(seed.school, seed.pupil, HOME)).json()["allowed"]
    assert not api.post(evaluate, json=login_body(seed.school, seed.pupil, INSIDE)).json()[
        "allowed"
    ]


def test_malformed_networks_are_422_naming_each_and_change_nothing(api: httpx.Client, seed: Seed):
    path = f"/v1/schools/{seed.school.brin6}/networks"
    before = api.get(path).json()
    response = api.put(path, json={"networks": ["198.51.100.0/24", "10.0.0.1/8", "thuis"]})
    assert response.status_code == 422
    problem = response.json()
    assert problem["entries"] == ["10.0.0.1/8", "thuis"]
    assert "10.0.0.0/8" in problem["detail"] and "'thuis'" in problem["detail"]
    assert api.get(path).json() == before
    for bad in ({"networks": "192.0.2.0/24"}, {"nets": []}, {"networks": [{"cidr": "x"}]}):
        assert api.put(path, json=bad).status_code == 422


@pytest.fixture
def fake_source() -> FakeSource:
    brin, location = unique_brin6()
    snapshot = make_snapshot(pupils=0, staff=0, groups=0, source_school_id=f"9{brin}{location}")
    return FakeSource(
        replace(snapshot, school=replace(snapshot.school, brin=brin, location_code=location))
    )


def test_a_connection_check_links_the_school(make_api: MakeApi, fake_source: FakeSource):
    api = make_api(plugins=login_plugins(FakeSourcePlugin(fake_source)))
    brin6 = f"{fake_source.snapshot.school.brin}{fake_source.snapshot.school.location_code}"
    response = api.post(f"/v1/schools/{brin6}/connection-check", params={"source": "fake"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "brin6": brin6,
        "status": "connected",
        "sentence_nl": SENTENCES[ConnectionStatus.CONNECTED][0],
        "sentence_en": SENTENCES[ConnectionStatus.CONNECTED][1],
        "linked": True,
    }
    status = api.get(f"/v1/schools/{brin6}/status").json()
    assert (status["source"], status["consent"]) == ("fake", "granted")
    assert status["last_sync"] is None

    fake_source.fail["check_connection"] = SourceUnavailable("Basispoort answered 503")
    response = api.post(f"/v1/schools/{brin6}/connection-check", params={"source": "fake"})
    assert response.status_code == 200
    failed = response.json()
    assert failed["status"] == "error" and failed["linked"] is True
    assert failed["sentence_nl"] == SENTENCES[ConnectionStatus.ERROR][0]
    # the operator's detail is logged, not shown to schools (not "503" alone: a BRIN may hold it)
    assert "answered 503" not in response.text


def test_core_sentences_name_no_source():
    # A OneRoster or Entree school's administrator must not be sent to Basispoort's menus.
    for dutch, english in SENTENCES.values():
        for name in ("Basispoort", "Entree", "OneRoster"):
            assert name not in dutch and name not in english


def test_a_source_says_the_connection_check_in_its_own_words(
    make_api: MakeApi, fake_source: FakeSource
):
    words = {
        ConnectionStatus.NO_CONSENT: ("Vink de uitgever aan in LAS X.", "Tick it in LAS X."),
        ConnectionStatus.ERROR: ("LAS X gaf geen antwoord.", "LAS X did not answer."),
    }
    fake_source.connection_sentences = words  # type: ignore[attr-defined]
    api = make_api(plugins=login_plugins(FakeSourcePlugin(fake_source)))
    brin6 = f"{fake_source.snapshot.school.brin}{fake_source.snapshot.school.location_code}"
    check = f"/v1/schools/{brin6}/connection-check"

    fake_source.fail["check_connection"] = SourceUnavailable("LAS X answered 503")
    failed = api.post(check, params={"source": "fake"}).json()
    assert (failed["sentence_nl"], failed["sentence_en"]) == words[ConnectionStatus.ERROR]

    del fake_source.fail["check_connection"]
    connected = api.post(check, params={"source": "fake"}).json()  # an outcome it left out
    assert connected["status"] == "connected"
    assert connected["sentence_en"] == SENTENCES[ConnectionStatus.CONNECTED][1]


def test_a_failed_check_of_a_new_school_links_nothing(make_api: MakeApi, fake_source: FakeSource):
    api = make_api(plugins=login_plugins(FakeSourcePlugin(fake_source)))
    fake_source.fail["check_connection"] = SourceUnavailable("down")
    brin, location = unique_brin6()
    response = api.post(f"/v1/schools/{brin}{location}/connection-check?source=fake")
    assert response.json()["status"] == "error" and response.json()["linked"] is False
    assert api.get(f"/v1/schools/{brin}{location}/status").status_code == 404


def test_a_connection_check_with_a_source_that_is_not_installed(api: httpx.Client):
    response = api.post("/v1/schools/12AB00/connection-check", params={"source": "entree"})
    assert response.status_code == 400
    assert "entree" in response.json()["detail"]
