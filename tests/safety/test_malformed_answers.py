"""Malformed answers from Basispoort: the snapshot is refused, the run names the field, nothing
of the school changes. Served by the simulator over HTTPS, synced on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from core.errors import SourceDataError
from core.export import export_school
from core.models import SchoolNetwork, SyncRun
from core.sync.engine import sync_school
from plugins.basispoort.simulator import SimulatorServer, World
from tests.safety.conftest import link

BIG = 100_000  # characters: far beyond any column, small enough for the simulator to serve fast
SECRET = "Geheimnaam"


def _first(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The first person of ``key`` (leerlingen, medewerkers) or group (groepen) in a payload."""
    return lambda payload: payload[key][0]


def _person(payload: dict[str, Any]) -> dict[str, Any]:
    return payload["leerlingen"][0]["persoonsgegevens"]


def _set(where: Callable[[Any], dict[str, Any]], field: str, value: Any) -> Callable[[Any], Any]:
    def change(payload: Any) -> Any:
        where(payload)[field] = value
        return payload

    return change


# What the overview serves instead (one field of one record), and what the run's error names.
BAD_OVERVIEWS = {
    "first name a number": (_set(_person, "voornaam", 5), "'persoonsgegevens.voornaam' is a"),
    "last name a list": (_set(_person, "achternaam", [SECRET]), "'persoonsgegevens.achternaam'"),
    "initials an object": (_set(_person, "voorletters", {"a": SECRET}), "'persoonsgegevens.voor"),
    "persoonsgegevens a list": (
        _set(_first("leerlingen"), "persoonsgegevens", [SECRET, 5]),
        "'persoonsgegevens' is an array, not an object",
    ),
    "jaargroep 10^30": (_set(_first("leerlingen"), "jaargroep", 10**30), "'jaargroep' is a"),
    "jaargroep 30 digits": (_set(_first("leerlingen"), "jaargroep", "1" + "0" * 30), "jaargroep"),
    "huge first name": (_set(_person, "voornaam", SECRET * BIG), "first_name has 1000000 char"),
    "huge ECK iD": (_set(_first("leerlingen"), "eckid", SECRET * BIG), "eckid has 1000000"),
    "NUL in a last name": (_set(_person, "achternaam", f"{SECRET}\x00x"), "last_name contains a"),
    "huge e-mail": (
        _set(_first("medewerkers"), "emailadres", SECRET * BIG),
        "email has 1000000 characters",
    ),
    "huge group name": (_set(_first("groepen"), "naam", SECRET * BIG), "a group: name has 1000000"),
    "einddatum not a date": (_set(_first("medewerkers"), "einddatum", "31-07-2025"), "'einddatum'"),
}


def _networks(db, school) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return sorted(
        db.execute(
            select(SchoolNetwork.network, SchoolNetwork.origin).where(
                SchoolNetwork.school_id == school.id
            )
        )
    )


def _refused(db, school, plugins, reason: str) -> SyncRun:  # type: ignore[no-untyped-def]
    """The nightly sync of ``school`` fails naming ``reason``; the school is as it was."""
    before = export_school(db, school)
    with pytest.raises(SourceDataError):
        sync_school(db, school.id, plugins=plugins, trigger="nightly")
    run = db.scalars(
        select(SyncRun).where(SyncRun.school_id == school.id).order_by(SyncRun.id.desc())
    ).first()
    db.refresh(run)
    assert run.outcome == "failed"
    assert reason in run.error
    assert SECRET not in run.error
    assert export_school(db, school) == before
    return run


@pytest.mark.parametrize("case", BAD_OVERVIEWS)
def test_a_malformed_person_or_group_refuses_the_snapshot(
    db, sim_world: World, sim_server: SimulatorServer, sim_plugins, case: str
) -> None:
    school = link(db, sim_world, "quiet")
    assert sync_school(db, school.id, plugins=sim_plugins).outcome == "succeeded"
    source_id = int(school.source_school_id)
    sim_world.rename_pupil(source_id, sim_world.pupil_ids(source_id)[0])  # the stamp moves
    change, reason = BAD_OVERVIEWS[case]
    sim_server.tamper(rf"/instellingen/{source_id}$", change)

    _refused(db, school, sim_plugins, reason)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("naam", SECRET * BIG, "name has 1000000 characters, more than the 200 koppel stores"),
        ("naam", 5, "'naam' is a number, not a string"),
        ("instellingRef", f"ref\x00{SECRET}", "ref contains a NUL character"),
    ],
)
def test_a_malformed_school_name_or_reference_refuses_the_snapshot(
    db, sim_world: World, sim_server: SimulatorServer, sim_plugins, field, value, reason
) -> None:
    school = link(db, sim_world, "quiet")
    assert sync_school(db, school.id, plugins=sim_plugins).outcome == "succeeded"
    source_id = int(school.source_school_id)
    sim_world.rename_pupil(source_id, sim_world.pupil_ids(source_id)[0])
    sim_server.tamper(rf"/instellingen/{source_id}/details$", _set(lambda d: d, field, value))

    _refused(db, school, sim_plugins, reason)


@pytest.mark.parametrize(
    ("networks", "reason"),
    [
        # Cleared to 10.0.0.0/8 it would let pupils in from the whole range.
        (["10.0.6.77/8"], "network number 1 in the snapshot has host bits set"),
        (["10.0.6.0/24", "0.0.0.0/0"], "network number 2 in the snapshot is too wide"),
        (["10.0.6.0/24", "abc"], "network number 2 in the snapshot is not an IP address"),
        # Dropping the garbage would leave no network: every pupil locked out.
        ([5, None, "abc", {}], "'ipadressen' item 0 is a number, not a string"),
        (["10.0.6.0/24", None], "'ipadressen' item 1 is null, not a string"),
    ],
)
def test_a_bad_network_list_is_refused_and_the_networks_stay(
    db, sim_world: World, sim_server: SimulatorServer, sim_plugins, networks, reason
) -> None:
    school = link(db, sim_world, "quiet")
    assert sync_school(db, school.id, plugins=sim_plugins).outcome == "succeeded"
    stored = _networks(db, school)
    assert stored == [("10.0.6.0/24", "basispoort"), ("2001:db8:6::/48", "basispoort")]
    source_id = int(school.source_school_id)
    sim_world.rename_pupil(source_id, sim_world.pupil_ids(source_id)[0])
    sim_server.tamper(r"/ipadressen$", lambda _: {"ipadressen": networks})

    _refused(db, school, sim_plugins, reason)

    assert _networks(db, school) == stored


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:30:00+01:00"])
def test_a_change_stamp_outside_the_dates_is_read_as_unknown(
    db, sim_world: World, sim_server: SimulatorServer, sim_plugins, stamp
) -> None:
    # Unknown means "fetch it all" every night, never "unchanged", and never a crash.
    school = link(db, sim_world, "quiet")
    assert sync_school(db, school.id, plugins=sim_plugins).outcome == "succeeded"
    source_id = int(school.source_school_id)
    sim_world.rename_pupil(source_id, sim_world.pupil_ids(source_id)[0])

    def restamp(payload: dict[str, Any]) -> dict[str, Any]:
        payload["metaResult"]["mutationTimestamp"] = stamp
        return payload

    sim_server.tamper(rf"/instellingen/{source_id}(/details)?$", restamp)
    for night in range(2):
        run = sync_school(db, school.id, plugins=sim_plugins, trigger="nightly")
        assert run.outcome == "succeeded", run.error
        assert run.counts["note_timestamp_invalid"] >= 1
        assert run.counts["pupils_updated"] == (1 - night)
    db.refresh(school)
    assert school.source_mutated_at is None


def test_koppel_sync_says_which_field_was_refused(koppel, sim_world: World, sim_server) -> None:
    source_id = sim_world.find("quiet")
    brin6 = sim_world.school(source_id).brin6
    assert koppel("check", brin6)[0] == 0
    assert koppel("sync", brin6)[0] == 0
    before = json.loads(koppel("export", brin6, "--json")[1])
    sim_server.tamper(rf"/instellingen/{source_id}$", _set(_person, "achternaam", [SECRET]))

    code, out = koppel("sync", brin6, "--force")

    assert code == 1
    assert "failed" in out and "'persoonsgegevens.achternaam' is an array" in out
    assert "nothing was changed" in out and SECRET not in out
    assert json.loads(koppel("export", brin6, "--json")[1]) == before


def test_koppel_check_refuses_a_malformed_school_and_links_nothing(
    koppel, sim_world: World, sim_server
) -> None:
    source_id = sim_world.find("quiet")
    brin6 = sim_world.school(source_id).brin6
    sim_server.tamper(r"/nawsearch$", lambda found: [{**r, "naam": SECRET * BIG} for r in found])

    code, out = koppel("check", brin6)

    assert code == 1
    assert "school " in out and "name has 1000000 characters" in out and SECRET not in out
    assert koppel("export", brin6, "--json")[0] != 0  # not linked
