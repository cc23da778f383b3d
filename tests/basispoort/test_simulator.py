"""The Basispoort simulator: a deterministic world, the API over real HTTP(S), faults, control."""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from ipaddress import ip_network
from pathlib import Path

import httpx
import pytest

from plugins.basispoort.simulator import (
    SimulatorServer,
    TLSFiles,
    World,
    client_ssl_context,
    make_test_pki,
)
from plugins.basispoort.simulator.errors import InvalidFault, UnknownPupil, UnknownSchool

API = "rest/v2/instellingen"
GROUP_FIELDS = {"lasKey", "naam", "jaargroep", "omschrijving"}
STUDENT_FIELDS = {"id", "eckid", "lasKey", "persoonsgegevens", "jaargroep", "groep", "subgroepen"}
STAFF_FIELDS = {
    "id", "eckid", "lasKey", "persoonsgegevens", "emailadres", "einddatum", "rollen", "groepen",
    "subgroepen",
}  # fmt: skip
PERSON_FIELDS = {"achternaam", "voornaam", "voorvoegsel", "voorletters"}
DETAIL_FIELDS = {
    "naam", "straat", "huisnummer", "huisnummertoevoeging", "postcode", "woonplaats", "brincode",
    "dependancecode", "schoolkey", "instellingRef", "bestuurscode", "actief", "gefuseerdNaar",
    "metaResult",
}  # fmt: skip
SEARCH_FIELDS = {
    "id", "naam", "actief", "brincode", "straat", "huisnummer", "huisnummerToevoeging",
    "postcode", "woonplaats", "telefoonNet", "telefoonAbon", "emailadres", "bestuurscode",
}  # fmt: skip
KNOWN_ROLES = {"Leerkracht", "ICTCoordinator", "IBRTer", "Stagiair", "Inval"}


@pytest.fixture
def http(sim_http_server: SimulatorServer) -> Iterator[httpx.Client]:
    # verify=False only skips loading the CA bundle, which plain HTTP never uses
    with httpx.Client(base_url=sim_http_server.url, timeout=10, verify=False) as client:
        yield client


@pytest.fixture
def https(sim_server: SimulatorServer, sim_pki: TLSFiles) -> Iterator[httpx.Client]:
    context = client_ssl_context(sim_pki)
    with httpx.Client(base_url=sim_server.url, verify=context, timeout=10) as client:
        yield client


def rfc3339(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text)


def pupil_state(world: World, school_id: int) -> dict[int, tuple[object, ...]]:
    return {
        p["id"]: (p["groep"], tuple(p["subgroepen"]), json.dumps(p["persoonsgegevens"]))
        for p in world.leerlingen(school_id)["leerlingen"]
    }


# -- the world ---------------------------------------------------------------------------------


def test_same_seed_same_world_other_seed_other_world() -> None:
    one, two, other = (
        World(seed=7, schools=12),
        World(seed=7, schools=12),
        World(seed=8, schools=12),
    )
    first = one.school_ids[0]
    assert one.school_ids == two.school_ids
    assert [one.details(i) for i in one.school_ids] == [two.details(i) for i in two.school_ids]
    assert one.overview(first) == two.overview(first)
    assert one.search({}) == two.search({})
    assert one.overview(first)["leerlingen"] != other.overview(first)["leerlingen"]
    one.advance_night(0.1)
    two.advance_night(0.1)
    assert [one.overview(i) for i in one.school_ids] == [two.overview(i) for i in two.school_ids]


def test_fixed_kinds_of_school(sim_world: World) -> None:
    no_consent = sim_world.school(sim_world.find("no_consent"))
    inactive = sim_world.school(sim_world.find("inactive"))
    merged = sim_world.school(sim_world.find("merged"))
    second = sim_world.school(sim_world.find("second_location"))
    consented = sim_world.school(sim_world.find("consented"))
    assert not no_consent.consent and no_consent.actief
    assert consented.consent and consented.actief and consented.merged_into is None
    assert inactive.consent and not inactive.actief and inactive.merged_into is None
    assert merged.consent and merged.merged_into == sim_world.find("merge_target")
    assert second.location == "01"
    main = [sim_world.school(i) for i in sim_world.school_ids if i != second.id]
    assert any(h.brin == second.brin and h.location == "00" for h in main)
    assert sim_world.ipadressen(sim_world.find("no_networks")) == {"ipadressen": []}
    assert sim_world.school(sim_world.find("largest")).size == 400
    with pytest.raises(UnknownSchool):
        sim_world.find("haunted")
    with pytest.raises(UnknownSchool):
        sim_world.school(42)


def test_school_contents_look_like_basispoort(sim_world: World) -> None:
    school_id = sim_world.find("largest")
    groups = sim_world.groepen(school_id)
    pupils = sim_world.leerlingen(school_id)["leerlingen"]
    staff = sim_world.staf(school_id)["medewerkers"]
    group_keys = {g["lasKey"] for g in groups["groepen"]}
    assert {g["jaargroep"] for g in groups["groepen"]} >= {"3", "8", None}
    assert any("/" in g["naam"] and g["jaargroep"] is None for g in groups["groepen"])
    assert len(pupils) == 400 and len({p["id"] for p in pupils}) == 400
    assert all(p["groep"] in group_keys for p in pupils if p["groep"] is not None)
    assert all(p["jaargroep"] in {str(y) for y in range(1, 9)} for p in pupils)
    assert any("eckid" not in p for p in pupils) and any("lasKey" not in p for p in pupils)
    with_eckid = [p["eckid"] for p in pupils if "eckid" in p]
    assert all(e.startswith("https://ketenid.nl/201703/") for e in with_eckid)
    assert any(p["persoonsgegevens"]["voorvoegsel"] for p in pupils)
    assert any(p["subgroepen"] for p in pupils)
    assert {r for m in staff for r in m["rollen"]} >= KNOWN_ROLES
    every_role = {
        r
        for i in sim_world.school_ids
        for m in sim_world.staf(i)["medewerkers"]
        for r in m["rollen"]
    }
    assert every_role - KNOWN_ROLES == {"Directeur"}  # a role newer than the documented ones
    assert any(m["einddatum"] for m in staff)
    assert all(isinstance(i, int) and 0 < i < 2**63 for i in (p["id"] for p in pupils))


def test_a_national_world_is_built_lazily_and_serves_the_largest_school() -> None:
    world = World(seed=3, schools=6500, sizes=(20, 1200))
    headers = [world.school(i) for i in world.school_ids]
    assert len(headers) == 6500
    assert len({h.brin6 for h in headers}) == 6500
    average = sum(h.size for h in headers) / len(headers)
    assert 200 <= average <= 260
    assert sum(100 <= h.size <= 400 for h in headers) > 0.7 * len(headers)
    largest = world.find("largest")
    assert len(world.leerlingen(largest)["leerlingen"]) == 1200
    world.advance_night()  # one night for 6,500 schools, paid only by schools that are read
    assert world.night == 1 and world.leerlingen(largest)["leerlingen"]


def test_an_evicted_school_is_rebuilt_exactly_from_its_history() -> None:
    world = World(seed=5, schools=15, cache_size=2)
    school_id = world.find("consented")
    world.advance_night(0.1)
    removed = world.remove_pupils(school_id, 0.1)
    world.advance_night(0.1)
    renamed = world.pupil_ids(school_id)[0]
    world.rename_pupil(school_id, renamed)
    new_id = world.change_pupil_id(school_id, world.pupil_ids(school_id)[1])
    world.edit(school_id, lambda contents: contents.staff.clear())
    before = world.overview(school_id)
    for other in world.school_ids[5:10]:  # pushes the school out of the two-school cache
        world.leerlingen(other)
    assert world.overview(school_id) == before
    assert removed and not set(removed) & set(world.pupil_ids(school_id))
    assert new_id in world.pupil_ids(school_id) and before["medewerkers"] == []


def test_details_serve_the_stamp_of_the_data_across_nights_edits_and_evictions() -> None:
    world = World(seed=9, schools=12, cache_size=2)
    ids = world.school_ids

    def stamps(read: str) -> dict[int, str]:
        return {i: getattr(world, read)(i)["metaResult"]["mutationTimestamp"] for i in ids}

    for step in range(4):
        from_data = stamps("groepen")  # rebuilds each school (the cache holds two)
        assert stamps("details") == from_data, step
        if step == 1:
            world.remove_pupils(ids[3], 0.2)
        else:
            world.advance_night(churn=0.2)
    # After a night the details of a school not read since are not taken from memory.
    world.advance_night(churn=0.5)
    assert stamps("details") == stamps("groepen")
    assert stamps("details") != from_data


def test_a_night_changes_about_the_churn_and_only_changed_schools_move_their_stamp() -> None:
    world = World(seed=7, schools=12)
    before = {i: pupil_state(world, i) for i in world.school_ids}
    staff_before = {i: world.staf(i)["medewerkers"] for i in world.school_ids}
    stamps = {i: world.groepen(i)["metaResult"]["mutationTimestamp"] for i in world.school_ids}
    world.advance_night(churn=0.1)
    changed_pupils = total = 0
    for school_id in world.school_ids:
        old, new = before[school_id], pupil_state(world, school_id)
        differences = len(old.keys() ^ new.keys()) + sum(
            old[k] != new[k] for k in old.keys() & new.keys()
        )
        changed_pupils += differences
        total += len(old)
        data_changed = (
            differences > 0 or world.staf(school_id)["medewerkers"] != staff_before[school_id]
        )
        stamp = world.groepen(school_id)["metaResult"]["mutationTimestamp"]
        assert (stamp != stamps[school_id]) == data_changed, school_id
        if data_changed:
            assert rfc3339(stamp) > rfc3339(stamps[school_id])
    assert 0.05 <= changed_pupils / total <= 0.15
    quiet = world.find("quiet")
    assert pupil_state(world, quiet) == before[quiet]
    meta = world.leerlingen(quiet)["metaResult"]
    assert meta["mutationTimestamp"] == stamps[quiet]
    assert rfc3339(meta["generationTimestamp"]) == datetime(2025, 9, 2, 8, tzinfo=UTC)


def test_edits_change_one_school_and_move_its_stamp(sim_world: World) -> None:
    school_id = sim_world.find("largest")
    other = sim_world.find("quiet")
    other_stamp = sim_world.details(other)["metaResult"]["mutationTimestamp"]
    stamp = sim_world.details(school_id)["metaResult"]["mutationTimestamp"]
    pupils = sim_world.leerlingen(school_id)["leerlingen"]
    count = len(pupils)
    removed = sim_world.remove_pupils(school_id, 0.5)
    assert len(removed) == round(count * 0.5)
    assert len(sim_world.pupil_ids(school_id)) == count - len(removed)
    after_remove = sim_world.details(school_id)["metaResult"]["mutationTimestamp"]
    assert after_remove > stamp

    keeper = next(p for p in sim_world.leerlingen(school_id)["leerlingen"] if "eckid" in p)
    new_id = sim_world.change_pupil_id(school_id, keeper["id"])
    moved = sim_world.leerlingen(school_id, ids=[new_id])["leerlingen"][0]
    assert moved["eckid"] == keeper["eckid"] and moved.get("lasKey") == keeper.get("lasKey")
    assert keeper["id"] not in sim_world.pupil_ids(school_id)

    sim_world.rename_pupil(school_id, new_id, achternaam="Anders", voorvoegsel=None)
    renamed = sim_world.leerlingen(school_id, ids=[new_id])["leerlingen"][0]["persoonsgegevens"]
    assert (renamed["achternaam"], renamed["voorvoegsel"]) == ("Anders", None)

    groups = sim_world.groepen(school_id)["groepen"]
    target = next(g for g in groups if g["jaargroep"] and g["jaargroep"] != moved["jaargroep"])
    sim_world.move_pupil(school_id, new_id, target["lasKey"])
    placed = sim_world.leerlingen(school_id, ids=[new_id])["leerlingen"][0]
    assert (placed["groep"], placed["jaargroep"]) == (target["lasKey"], target["jaargroep"])

    last = sim_world.details(school_id)["metaResult"]["mutationTimestamp"]
    with pytest.raises(UnknownPupil):
        sim_world.move_pupil(school_id, 12345, None)
    assert sim_world.details(school_id)["metaResult"]["mutationTimestamp"] == last

    sim_world.empty_school(school_id)
    overview = sim_world.overview(school_id)
    assert overview["leerlingen"] == overview["medewerkers"] == overview["groepen"] == []
    assert sim_world.details(other)["metaResult"]["mutationTimestamp"] == other_stamp


def test_consent_changes_are_listed_per_day(sim_world: World) -> None:
    school_id = sim_world.find("no_consent")
    granted_before = sim_world.school(sim_world.find("consented")).granted_on
    assert granted_before is not None and granted_before < sim_world.today
    assert sim_world.find("consented") in sim_world.granted_on(granted_before)
    sim_world.set_consent(school_id, True)
    sim_world.set_consent(school_id, True)  # no change, no second entry
    assert sim_world.granted_on(sim_world.today).count(school_id) == 1
    sim_world.advance_night()
    sim_world.set_consent(school_id, False)
    assert sim_world.revoked_on(sim_world.today) == [school_id]
    assert sim_world.revoked_on(sim_world.today - timedelta(days=1)) == []


# -- the API over HTTP -------------------------------------------------------------------------


def test_every_endpoint_answers_with_basispoort_paths_and_fields(
    sim_http_server: SimulatorServer, http: httpx.Client
) -> None:
    world = sim_http_server.world
    school_id = world.find("consented")
    ids = http.get(API).json()
    assert ids == [i for i in world.school_ids if world.school(i).consent]
    assert world.find("no_consent") not in ids

    overview = http.get(f"{API}/{school_id}").json()
    assert set(overview) == {
        "groepen", "subgroepen", "leerlingen", "medewerkers", "actief", "gefuseerdNaar",
        "metaResult",
    }  # fmt: skip
    assert set(overview["metaResult"]) == {"mutationTimestamp", "generationTimestamp"}
    rfc3339(overview["metaResult"]["mutationTimestamp"])

    details = http.get(f"{API}/{school_id}/details").json()
    assert set(details) == DETAIL_FIELDS
    assert len(details["brincode"]) == 4 and details["dependancecode"] == "00"

    groups = http.get(f"{API}/{school_id}/groepen").json()
    assert set(groups) == {"groepen", "subgroepen", "metaResult"}
    assert all(set(g) == GROUP_FIELDS for g in groups["groepen"] + groups["subgroepen"])

    response = http.get(f"{API}/{school_id}/leerlingen")
    assert response.headers["content-type"].startswith("application/json")
    pupils = response.json()["leerlingen"]
    assert pupils and all(
        set(p) <= STUDENT_FIELDS and {"id", "persoonsgegevens"} <= set(p) for p in pupils
    )
    assert all(set(p["persoonsgegevens"]) == PERSON_FIELDS for p in pupils)

    staff = http.get(f"{API}/{school_id}/staf").json()["medewerkers"]
    assert staff and all(set(m) <= STAFF_FIELDS and "rollen" in m for m in staff)

    ref = http.get(f"{API}/{school_id}/ref")
    assert ref.json() == world.school(school_id).instelling_ref and ref.text.startswith('"')

    permission = http.get(
        f"{API}/{school_id}/uitgever/synchronizationpermission",
        params={"request-permission": "false"},
    )
    assert permission.json() == {"hasSynchronizationPermission": True}

    networks = http.get(f"{API}/{school_id}/ipadressen").json()["ipadressen"]
    assert {ip_network(n).version for n in networks} == {4, 6}


def test_pupils_by_id_and_by_eckid(sim_http_server: SimulatorServer, http: httpx.Client) -> None:
    school_id = sim_http_server.world.find("consented")
    pupils = http.get(f"{API}/{school_id}/leerlingen").json()["leerlingen"]
    chosen = [pupils[0]["id"], pupils[5]["id"], 1]  # an unknown id is skipped
    by_id = http.post(f"{API}/{school_id}/leerlingen", json=chosen).json()
    assert [p["id"] for p in by_id["leerlingen"]] == chosen[:2] and "metaResult" in by_id
    eckids = [p["eckid"] for p in pupils if "eckid" in p][:3]
    by_eckid = http.post(f"{API}/{school_id}/leerlingen_eckid", json=eckids).json()
    assert [p["eckid"] for p in by_eckid["leerlingen"]] == eckids
    assert http.post(f"{API}/{school_id}/leerlingen", json={"ids": [1]}).status_code == 400
    assert http.post(f"{API}/{school_id}/leerlingen_eckid", json=[1, 2]).status_code == 400


def test_without_consent_the_data_is_refused_but_the_permission_answers(
    sim_http_server: SimulatorServer, http: httpx.Client
) -> None:
    school_id = sim_http_server.world.find("no_consent")
    for tail in ("", "/details", "/groepen", "/leerlingen", "/staf", "/ref", "/ipadressen"):
        response = http.get(f"{API}/{school_id}{tail}")
        assert response.status_code == 403, tail
        assert response.headers["content-type"].startswith("text/plain") and response.text
    assert http.post(f"{API}/{school_id}/leerlingen", json=[1]).status_code == 403
    permission = http.get(f"{API}/{school_id}/uitgever/synchronizationpermission")
    assert permission.status_code == 200
    assert permission.json() == {"hasSynchronizationPermission": False}


def test_unknown_schools_paths_and_the_disabled_ipadressen_endpoint_are_404(
    sim_http_server: SimulatorServer, http: httpx.Client
) -> None:
    school_id = sim_http_server.world.find("consented")
    assert http.get(f"{API}/99").status_code == 404
    assert http.get(f"{API}/99/leerlingen").status_code == 404
    assert http.get(f"{API}/99/uitgever/synchronizationpermission").status_code == 404
    assert http.get(f"{API}/{school_id}/geheim").status_code == 404
    assert http.get("rest/v1/instellingen").status_code == 404
    assert http.get(f"{API}/123456789012345678901234").status_code == 404
    assert http.get(f"{API}/{school_id}/ipadressen").status_code == 200
    sim_http_server.ipadressen = False
    assert http.get(f"{API}/{school_id}/ipadressen").status_code == 404


def test_nawsearch_brincode_includes_the_location(
    sim_http_server: SimulatorServer, http: httpx.Client
) -> None:
    world = sim_http_server.world
    second = world.school(world.find("second_location"))
    main = next(
        world.school(i) for i in world.school_ids if world.school(i).brin6 == second.brin + "00"
    )

    def search(**params: str) -> list[dict[str, object]]:
        return http.get("rest/v2/nawsearch", params=params).json()

    hits = search(brincode=main.brin6)
    assert [h["id"] for h in hits] == [main.id] and hits[0]["brincode"] == main.brin6
    assert set(hits[0]) == SEARCH_FIELDS and "huisnummerToevoeging" in hits[0]
    assert [h["id"] for h in search(brincode=second.brin6.lower())] == [second.id]
    assert {h["id"] for h in search(brincode=main.brin)} == {main.id, second.id}
    assert search(brincode="00ZZ99") == []
    postcode = main.postcode.replace(" ", "").lower()
    assert main.id in [h["id"] for h in search(postcode=postcode, plaatsnaam=main.woonplaats)]
    assert main.id in [h["id"] for h in search(naam=main.naam.split(" ", 1)[1].upper())]
    assert main.id in [h["id"] for h in search(bestuurscode=main.bestuurscode)]
    inactive = world.find("inactive")
    assert inactive in [h["id"] for h in search(brincode=world.school(inactive).brin6)]
    assert search(brincode=world.school(inactive).brin6, activeOnly="true") == []


def test_giving_up_and_regaining_consent_shows_in_the_day_lists(
    sim_http_server: SimulatorServer, http: httpx.Client
) -> None:
    world = sim_http_server.world
    school_id = world.find("consented")
    today = world.today.isoformat()
    permission = f"{API}/{school_id}/uitgever/synchronizationpermission"
    response = http.delete(permission)
    assert response.status_code == 204 and response.content == b""
    assert http.get(permission).json() == {"hasSynchronizationPermission": False}
    assert http.get(f"{API}/{school_id}/leerlingen").status_code == 403
    revoked = http.get(f"{API}/synchronizationpermission/ingetrokken/{today}")
    assert revoked.json() == [school_id]
    assert http.get(f"{API}/synchronizationpermission/toegekend/{today}").json() == []
    world.set_consent(school_id, True)
    assert http.get(f"{API}/synchronizationpermission/toegekend/{today}").json() == [school_id]
    earlier = world.school(school_id).granted_on
    assert earlier is not None
    assert school_id in http.get(f"{API}/synchronizationpermission/toegekend/{earlier}").json()
    assert http.get(f"{API}/synchronizationpermission/toegekend/gisteren").status_code == 400


def test_concurrent_requests_are_all_answered(
    sim_http_server: SimulatorServer, http: httpx.Client
) -> None:
    world = sim_http_server.world
    expected = {i: len(world.pupil_ids(i)) for i in world.school_ids if world.school(i).consent}
    results: dict[int, int] = {}

    def fetch(school_id: int) -> None:
        with httpx.Client(base_url=sim_http_server.url, timeout=10, verify=False) as client:
            results[school_id] = len(
                client.get(f"{API}/{school_id}/leerlingen").json()["leerlingen"]
            )

    threads = [threading.Thread(target=fetch, args=(i,)) for i in expected]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert results == expected


def test_requests_leave_no_log_lines(
    sim_http_server: SimulatorServer, http: httpx.Client, capfd: pytest.CaptureFixture[str]
) -> None:
    school_id = sim_http_server.world.find("consented")
    assert http.get(f"{API}/{school_id}/leerlingen").status_code == 200
    assert http.get(f"{API}/1/leerlingen").status_code == 404
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert sim_http_server.hits[f"GET /{API}/{school_id}/leerlingen"] == 1


def _raw(server: SimulatorServer, request: bytes) -> tuple[bytes, bool]:
    """Send bytes as they are; the reply's bytes, and whether the server then hung up."""
    with socket.create_connection((server.host, server.port), timeout=10) as conn:
        conn.sendall(request)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = conn.recv(65536)
            if not chunk:
                return reply, True
            reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
        while len(body) < length:
            body += conn.recv(65536)
        conn.settimeout(0.5)
        try:
            closed = conn.recv(1) == b""
        except TimeoutError:
            closed = False
        return head + b"\r\n\r\n" + body, closed


def test_requests_are_parsed_as_http_1_x_with_keep_alive_and_close(
    sim_http_server: SimulatorServer,
) -> None:
    school_id = sim_http_server.world.find("consented")
    get = f"GET /{API}/{school_id}/details HTTP/1.1\r\nHost: sim\r\n".encode()
    reply, closed = _raw(sim_http_server, get + b"\r\n")
    assert reply.startswith(b"HTTP/1.1 200 ") and not closed  # kept alive
    assert b'"brincode"' in reply  # headers and body arrive together
    reply, closed = _raw(sim_http_server, get + b"conNECTion: Close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 ") and closed
    http10 = f"GET /{API}/{school_id}/details HTTP/1.0\r\n\r\n".encode()
    assert _raw(sim_http_server, http10)[1]  # 1.0 closes unless asked to keep alive
    assert sim_http_server.hits[f"GET /{API}/{school_id}/details"] == 3


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /x\r\n\r\n",  # no version (HTTP/0.9 is not served)
        b"GET /x HTTP/2.0\r\n\r\n",
        b"GET /x HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET /x HTTP/1.1\r\n Folded: value\r\n\r\n",
        b"GET /x HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n",
    ],
)
def test_a_malformed_request_is_refused_and_the_connection_closed(
    sim_http_server: SimulatorServer, request_bytes: bytes
) -> None:
    reply, closed = _raw(sim_http_server, request_bytes)
    assert re.match(rb"HTTP/1\.[01] 4(00|31) ", reply), reply[:40]
    assert closed
    assert not sim_http_server.hits  # nothing reached the API


# -- mutual TLS --------------------------------------------------------------------------------


def test_https_with_the_client_certificate_over_tls_1_2(
    sim_server: SimulatorServer, https: httpx.Client
) -> None:
    assert sim_server.url.startswith("https://127.0.0.1:")
    response = https.get(f"{API}/{sim_server.world.find('consented')}/leerlingen")
    assert response.status_code == 200 and response.json()["leerlingen"]
    stream = response.extensions["network_stream"]
    assert stream.get_extra_info("ssl_object").version() == "TLSv1.2"


def test_a_client_without_or_with_a_foreign_certificate_is_refused(
    sim_server: SimulatorServer, sim_pki: TLSFiles
) -> None:
    no_certificate = ssl.create_default_context(cafile=str(sim_pki.ca))
    with pytest.raises(httpx.ConnectError):
        httpx.get(sim_server.url + API, verify=no_certificate)
    stranger = client_ssl_context(sim_pki, certificate=sim_pki.untrusted_client)
    with pytest.raises(httpx.ConnectError):
        httpx.get(sim_server.url + API, verify=stranger)
    deadline = time.monotonic() + 5  # the server counts in its own thread, maybe a bit later
    while sim_server.failed_handshakes < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sim_server.failed_handshakes == 2
    assert httpx.get(sim_server.url + API, verify=client_ssl_context(sim_pki)).status_code == 200


def test_the_test_pki_is_reused_and_the_client_pem_holds_certificate_and_key(
    sim_pki: TLSFiles, tmp_path: Path
) -> None:
    client = sim_pki.client.read_text()
    assert "BEGIN CERTIFICATE" in client and "BEGIN PRIVATE KEY" in client
    files = make_test_pki(tmp_path)
    first = files.client.read_bytes()
    assert make_test_pki(tmp_path).client.read_bytes() == first
    assert (files.server_key.stat().st_mode & 0o077) == 0


# -- faults ------------------------------------------------------------------------------------


def test_5xx_fires_the_given_number_of_times_then_clears(
    sim_http_server: SimulatorServer, http: httpx.Client
) -> None:
    school_id = sim_http_server.world.find("consented")
    sim_http_server.faults.add(rf"/{school_id}/leerlingen$", "5xx", times=2)
    first, second = (
        http.get(f"{API}/{school_id}/leerlingen"),
        http.get(f"{API}/{school_id}/leerlingen"),
    )
    assert first.status_code == second.status_code == 503 and first.text
    assert http.get(f"{API}/{school_id}/staf").status_code == 200  # another path: untouched
    assert http.get(f"{API}/{school_id}/leerlingen").status_code == 200
    assert len(sim_http_server.faults) == 0


def test_slow_waits_before_answering(sim_http_server: SimulatorServer, http: httpx.Client) -> None:
    sim_http_server.faults.add("/details$", "slow", seconds=0.4)
    school_id = sim_http_server.world.find("consented")
    began = time.monotonic()
    assert http.get(f"{API}/{school_id}/details").status_code == 200
    assert time.monotonic() - began >= 0.4
    with pytest.raises(httpx.ReadTimeout):
        sim_http_server.faults.add("/details$", "slow", seconds=1.0)
        http.get(f"{API}/{school_id}/details", timeout=0.2)


def test_truncated_garbled_and_wrong_types(
    sim_http_server: SimulatorServer, http: httpx.Client
) -> None:
    school_id = sim_http_server.world.find("consented")
    url = f"{API}/{school_id}/leerlingen"
    sim_http_server.faults.add("leerlingen$", "truncated")
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(url)
    sim_http_server.faults.add("leerlingen$", "garbled")
    garbled = http.get(url)
    assert garbled.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        garbled.json()
    sim_http_server.faults.add("leerlingen$", "wrong_types")
    wrong = http.get(url).json()
    assert isinstance(wrong["leerlingen"], dict) and isinstance(wrong["metaResult"], list)
    sim_http_server.faults.add("/ref$", "wrong_types")
    assert isinstance(http.get(f"{API}/{school_id}/ref").json(), int)
    assert isinstance(http.get(url).json()["leerlingen"], list)  # every fault used up


def test_answers_that_do_not_arrive_whole_bombs_and_trickles_through_the_control_endpoint(
    sim_http_server: SimulatorServer, http: httpx.Client
) -> None:
    """The faults a chaos test sets from outside, as a raw HTTP client sees them."""
    school_id = sim_http_server.world.find("consented")
    url = f"{API}/{school_id}/details"
    whole = http.get(url).content

    def fault(kind: str, **more: object) -> None:
        body = {"path": "/details$", "kind": kind, **more}
        assert http.post("_sim/faults", json=body).status_code == 201

    fault("chunked_cut")
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(url)
    fault("gzip_cut")
    with http.stream("GET", url) as cut:
        assert cut.status_code == 200 and cut.headers["Content-Encoding"] == "gzip"
        raw = b"".join(cut.iter_raw())  # HTTP-complete: Content-Length is met
    inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)
    assert whole.startswith(inflate.decompress(raw)) and not inflate.eof
    fault("gzip_bomb", size=5_000_000)
    with http.stream("GET", url) as bomb:
        compressed = b"".join(bomb.iter_raw())
    assert len(compressed) < 50_000 and len(zlib.decompress(compressed, wbits=31)) == 5_000_000
    fault("trickle", seconds=0.01)
    with socket.create_connection((sim_http_server.host, sim_http_server.port)) as conn:
        conn.sendall(f"GET /{url} HTTP/1.1\r\nHost: sim\r\n\r\n".encode())
        assert conn.recv(100) == b"H"  # one byte at a time
    assert (
        http.post("_sim/faults", json={"path": "x", "kind": "gzip_bomb", "size": 0}).status_code
        == 400
    )
    assert len(sim_http_server.faults) == 0


def test_a_bad_fault_is_refused(sim_http_server: SimulatorServer) -> None:
    with pytest.raises(InvalidFault):
        sim_http_server.faults.add("x", "meltdown")
    with pytest.raises(InvalidFault):
        sim_http_server.faults.add("(", "5xx")
    with pytest.raises(InvalidFault):
        sim_http_server.faults.add("x", "5xx", times=0)


# -- control endpoints -------------------------------------------------------------------------


def test_control_endpoints(sim_http_server: SimulatorServer, http: httpx.Client) -> None:
    world = sim_http_server.world
    schools = http.get("_sim/schools").json()
    assert [s["id"] for s in schools] == world.school_ids
    by_id = {s["id"]: s for s in schools}
    merged = by_id[world.find("merged")]
    assert merged["merged"] and merged["merged_into"] == world.find("merge_target")
    assert by_id[world.find("no_consent")]["consent"] is False
    assert by_id[world.find("inactive")]["active"] is False
    assert by_id[world.find("second_location")]["brin6"].endswith("01")

    state = http.post("_sim/advance-night", params={"churn": "0.05"}).json()
    assert state == {"night": 1, "now": "2025-09-02T08:00:00Z", "today": "2025-09-02"}
    assert world.night == 1

    school_id = world.find("no_consent")
    granted = http.post(f"_sim/consent/{school_id}", params={"granted": "true"})
    assert granted.json() == {"id": school_id, "consent": True}
    assert http.get(f"{API}/{school_id}/leerlingen").status_code == 200
    assert http.post(f"_sim/consent/{school_id}", params={"granted": "ja"}).status_code == 400
    assert http.post("_sim/consent/7", params={"granted": "true"}).status_code == 404

    fault = {"path": "/staf$", "kind": "5xx", "times": 1}
    assert http.post("_sim/faults", json=fault).status_code == 201
    assert http.get(f"{API}/{school_id}/staf").status_code == 503
    assert http.get(f"{API}/{school_id}/staf").status_code == 200
    assert http.post("_sim/faults", json={"path": "x", "kind": "meltdown"}).status_code == 400
    http.post("_sim/faults", json={"path": "x", "kind": "5xx", "times": 3})
    assert http.delete("_sim/faults").json() == {"pending": 0}

    count = len(world.pupil_ids(school_id))
    removed = http.post(f"_sim/schools/{school_id}/remove-pupils", json={"fraction": 0.5}).json()
    assert len(world.pupil_ids(school_id)) == count - len(removed["result"])
    assert http.post(f"_sim/schools/{school_id}/teleport", json={}).status_code == 404
    assert (
        http.post(
            f"_sim/schools/{school_id}/move-pupil", json={"pupil_id": 1, "group_key": None}
        ).status_code
        == 400
    )
    assert http.get("_sim/state").json()["night"] == 1


def test_a_merge_or_a_change_of_status_moves_the_school_stamp(
    sim_http_server: SimulatorServer, http: httpx.Client
) -> None:
    """What changed since the last sync is asked by the details' stamp: a school merged or
    made inactive must show as changed, as any change of its data does."""
    world = sim_http_server.world
    school_id, target = world.find("consented"), world.find("merge_target")

    def details() -> dict:  # type: ignore[type-arg]
        return http.get(f"{API}/{school_id}/details").json()

    def edit(name: str, **arguments: object) -> None:
        assert http.post(f"_sim/schools/{school_id}/{name}", json=arguments).status_code == 200

    def moved(before: dict) -> bool:  # type: ignore[type-arg]
        stamp = rfc3339(details()["metaResult"]["mutationTimestamp"])
        return stamp > rfc3339(before["metaResult"]["mutationTimestamp"])

    before = details()
    edit("merge", into=target)
    assert details()["gefuseerdNaar"] == target and moved(before)
    overview = http.get(f"{API}/{school_id}").json()
    assert overview["metaResult"] == details()["metaResult"]  # one stamp for the school

    before = details()
    edit("merge", into=None)
    assert details()["gefuseerdNaar"] is None and details()["actief"] and moved(before)
    before = details()
    edit("set-active", actief=False)
    assert details()["actief"] is False and moved(before)
    before = details()
    edit("set-active", actief=False)  # no change, no move
    assert details()["metaResult"]["mutationTimestamp"] == before["metaResult"]["mutationTimestamp"]
    assert http.post(f"_sim/schools/{school_id}/merge", json={"into": 7}).status_code == 404
    assert details() == before


def test_the_cli_serves_the_same_world_from_another_process(tmp_path: Path) -> None:
    """Out of process: 'koppel basispoort-sim' on port 0 with a test PKI, driven over /_sim/."""
    command = [
        sys.executable, "-c", "from cli.main import main; main()", "basispoort-sim",
        "--port", "0", "--seed", "7", "--schools", "12", "--tls-dir", str(tmp_path), "--ipadressen",
    ]  # fmt: skip
    env = {**os.environ, "KOPPEL_LOG_FORMAT": "json"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("basispoort-sim listening on https://"), line
        url = line.rsplit(" ", 1)[1].strip()
        tls = make_test_pki(tmp_path)  # the files the process made: reused, not replaced
        with httpx.Client(base_url=url, verify=client_ssl_context(tls), timeout=10) as client:
            world = World(seed=7, schools=12)
            school_id = world.find("consented")
            served = client.get(f"{API}/{school_id}/leerlingen").json()
            assert served == world.leerlingen(school_id)
            assert client.post("_sim/advance-night").json()["night"] == 1
            world.advance_night()
            assert client.get(f"{API}/{school_id}/staf").json() == world.staf(school_id)
            assert client.get(f"{API}/{school_id}/ipadressen").status_code == 200
    finally:
        process.terminate()
        process.wait(10)
    assert process.returncode == 0
    assert process.stderr is not None
    stderr = process.stderr.read()
    assert "simulator_stopped" in stderr and "achternaam" not in stderr


def test_the_server_stops_answering_when_stopped(sim_world: World) -> None:
    server = SimulatorServer(sim_world).start()
    with httpx.Client(base_url=server.url, timeout=2, verify=False) as client:
        assert client.get(API).status_code == 200  # leaves a keep-alive connection open
        server.stop()
        with pytest.raises(httpx.TransportError):
            client.get(API)


def test_generation_timestamp_follows_the_world_clock(sim_world: World) -> None:
    school_id = sim_world.find("consented")
    first = rfc3339(sim_world.staf(school_id)["metaResult"]["generationTimestamp"])
    assert first.date() == date(2025, 9, 1)
    sim_world.advance_night()
    second = rfc3339(sim_world.staf(school_id)["metaResult"]["generationTimestamp"])
    assert second - first == timedelta(days=1)
