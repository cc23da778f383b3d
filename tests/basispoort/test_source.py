"""BasispoortSource over real HTTPS against the simulator: connection check, snapshot, consent."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta

import pytest

from core.connection import ConnectionStatus
from core.errors import ConfigError, SourceDataError, SourceRefused, SourceUnavailable
from core.plugins import Plugins, make_plugin_manager
from core.snapshot import GroupKind, SchoolSnapshot
from core.sources import IdentitySource
from plugins.basispoort.client import NoConsent, NotFound
from plugins.basispoort.settings import BasispoortSettings
from plugins.basispoort.simulator import SimulatorServer, TLSFiles, World
from plugins.basispoort.source import BasispoortSource

API = "/rest/v2/instellingen"


def settings_for(server: SimulatorServer, pki: TLSFiles, **changes: object) -> BasispoortSettings:
    values: dict[str, object] = {
        "url": server.url,
        "cert": pki.client,
        "ca": pki.ca,
        "retries": 1,
        "backoff": 0.001,
        "read_timeout": 5.0,
        "ipadressen": True,
    }
    values.update(changes)
    return BasispoortSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def source(sim_server: SimulatorServer, sim_pki: TLSFiles) -> Iterator[BasispoortSource]:
    src = BasispoortSource(settings_for(sim_server, sim_pki))
    try:
        yield src
    finally:
        src.close()


@pytest.fixture
def no_basispoort_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ENV", "URL", "CERT", "CA", "IPADRESSEN"):
        monkeypatch.delenv(f"KOPPEL_BASISPOORT_{var}", raising=False)


# -- construction and registration ----------------------------------------------------------------


@pytest.mark.usefixtures("no_basispoort_env")
def test_created_without_configuration_fails_only_when_used() -> None:
    source = BasispoortSource()
    assert source.name == "basispoort"
    assert source.capabilities.networks is False
    with pytest.raises(ConfigError, match="set KOPPEL_BASISPOORT_ENV"):
        source.check_connection("12AB", "00")


def test_invalid_configuration_does_not_break_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOPPEL_BASISPOORT_RETRIES", "many")
    source = Plugins(make_plugin_manager()).source("basispoort")
    with pytest.raises(ConfigError, match="KOPPEL_BASISPOORT_RETRIES"):
        source.fetch_snapshot("1")


@pytest.mark.usefixtures("no_basispoort_env")
def test_the_entry_point_registers_the_source() -> None:
    source = Plugins(make_plugin_manager()).source("basispoort")
    assert isinstance(source, BasispoortSource)
    assert isinstance(source, IdentitySource)


def test_capabilities(source: BasispoortSource) -> None:
    caps = source.capabilities
    assert (caps.complete_snapshots, caps.change_stamps, caps.consent_feed) == (True, True, True)
    assert caps.networks is True
    assert BasispoortSource(BasispoortSettings(ipadressen=False)).capabilities.networks is False


# -- connection check -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("consented", ConnectionStatus.CONNECTED),
        ("no_consent", ConnectionStatus.NO_CONSENT),
        ("inactive", ConnectionStatus.INACTIVE),
        ("merged", ConnectionStatus.MERGED),
    ],
)
def test_every_connection_outcome(
    source: BasispoortSource, sim_world: World, kind: str, status: ConnectionStatus
) -> None:
    header = sim_world.school(sim_world.find(kind))
    check = source.check_connection(header.brin, header.location)
    assert check.status is status
    assert check.school is not None
    info = check.school
    assert (info.source_school_id, info.name) == (str(header.id), header.naam)
    assert (info.brin, info.location_code) == (header.brin, header.location)
    if status is not ConnectionStatus.NO_CONSENT:  # found through the details
        assert info.ref == header.instelling_ref
        assert info.active is header.actief
        expected_merge = None if header.merged_into is None else str(header.merged_into)
        assert info.merged_into == expected_merge
    assert header.permission_requested is False  # only read, never asked the school


def test_a_brin6_nobody_has_is_not_found(source: BasispoortSource) -> None:
    check = source.check_connection("99ZZ", "00")
    assert check.status is ConnectionStatus.NOT_FOUND
    assert check.school is None


def test_the_location_code_must_match_exactly(source: BasispoortSource, sim_world: World) -> None:
    second = sim_world.school(sim_world.find("second_location"))
    first_location = next(
        h for h in map(sim_world.school, sim_world.school_ids)
        if h.brin == second.brin and h.id != second.id
    )  # fmt: skip
    found = source.check_connection(second.brin.lower(), second.location)
    assert found.school is not None and found.school.source_school_id == str(second.id)
    assert source.check_connection(second.brin, "07").status is ConnectionStatus.NOT_FOUND
    other = source.check_connection(first_location.brin, first_location.location)
    assert other.school is not None and other.school.source_school_id == str(first_location.id)


def test_consent_revoked_after_linking_is_no_consent(
    source: BasispoortSource, sim_world: World
) -> None:
    header = sim_world.school(sim_world.find("consented"))
    assert (
        source.check_connection(header.brin, header.location).status is ConnectionStatus.CONNECTED
    )
    sim_world.set_consent(header.id, False)
    assert (
        source.check_connection(header.brin, header.location).status is ConnectionStatus.NO_CONSENT
    )


def test_connection_check_failures_raise_for_the_caller(
    source: BasispoortSource,
    sim_server: SimulatorServer,
    sim_pki: TLSFiles,
    sim_world: World,
) -> None:
    header = sim_world.school(sim_world.find("consented"))
    sim_server.faults.add(r"/nawsearch$", "5xx", times=2)
    with pytest.raises(SourceUnavailable):
        source.check_connection(header.brin, header.location)
    sim_server.faults.add(r"/nawsearch$", "garbled", times=1)
    with pytest.raises(SourceDataError):
        source.check_connection(header.brin, header.location)
    stranger = BasispoortSource(settings_for(sim_server, sim_pki, cert=sim_pki.untrusted_client))
    with pytest.raises(SourceRefused):
        stranger.check_connection(header.brin, header.location)
    stranger.close()


# -- change stamps --------------------------------------------------------------------------------


def test_latest_change_follows_the_schools_data(source: BasispoortSource, sim_world: World) -> None:
    sid = sim_world.find("consented")
    first = source.latest_change(str(sid))
    assert isinstance(first, datetime) and first.utcoffset() == timedelta(0)
    assert first == sim_world.contents(sid).mutated_at
    assert source.latest_change(str(sid)) == first
    sim_world.add_pupils(sid, 1)
    later = source.latest_change(str(sid))
    assert later is not None and later > first
    assert source.fetch_snapshot(str(sid)).mutated_at == later


def test_an_unchanged_school_costs_one_small_request(
    source: BasispoortSource, sim_server: SimulatorServer, sim_world: World
) -> None:
    sid = sim_world.find("largest")
    synced = source.fetch_snapshot(str(sid)).mutated_at
    sim_server.hits.clear()
    assert source.latest_change(str(sid)) == synced  # unchanged: the engine fetches nothing more
    # Only the details (no people in them), never the overview that carries every pupil.
    assert dict(sim_server.hits) == {f"GET {API}/{sid}/details": 1}
    assert not {"leerlingen", "medewerkers", "groepen"} & set(sim_world.details(sid))


def test_a_snapshot_costs_the_details_and_one_overview(
    source: BasispoortSource, sim_server: SimulatorServer, sim_world: World
) -> None:
    sid = sim_world.find("consented")
    sim_server.hits.clear()
    source.fetch_snapshot(str(sid))
    # Groups, pupils and staff come in one response: one consistent read, two requests.
    assert sim_server.hits[f"GET {API}/{sid}/details"] == 1
    assert sim_server.hits[f"GET {API}/{sid}"] == 1
    assert not [hit for hit in sim_server.hits if hit.endswith(("leerlingen", "groepen", "staf"))]


# -- snapshots ------------------------------------------------------------------------------------


def assert_snapshot_is_the_world(snap: SchoolSnapshot, world: World, school_id: int) -> None:
    header, contents = world.school(school_id), world.contents(school_id)
    assert snap.complete is True
    assert snap.mutated_at == contents.mutated_at
    info = snap.school
    assert (info.source_school_id, info.name, info.brin, info.location_code) == (
        str(school_id),
        header.naam,
        header.brin,
        header.location,
    )
    assert (info.active, info.ref) == (header.actief, header.instelling_ref)

    def key(group) -> str:  # type: ignore[no-untyped-def]
        return group.las_key or f"naam:{group.naam}"

    expected_groups = [(key(g), GroupKind.GROUP, g.naam) for g in contents.groepen]
    expected_groups += [(key(g), GroupKind.SUBGROUP, g.naam) for g in contents.subgroepen]
    assert [(g.key, g.kind, g.name) for g in snap.groups] == expected_groups
    year_groups = {g.las_key: (g.years[0] if len(g.years) == 1 else None) for g in contents.groepen}
    assert {g.key: g.year_group for g in snap.groups if g.kind is GroupKind.GROUP} == year_groups

    assert [p.source_id for p in snap.pupils] == [str(i) for i in contents.pupils]
    group_keys = {g.key for g in snap.groups if g.kind is GroupKind.GROUP}
    for record in snap.pupils:
        pupil = contents.pupils[int(record.source_id)]
        assert (record.eckid, record.las_key) == (pupil.eckid, pupil.las_key)
        assert (record.first_name, record.prefix, record.last_name, record.initials) == (
            pupil.voornaam,
            pupil.voorvoegsel,
            pupil.achternaam,
            pupil.voorletters,
        )
        assert record.year_group == pupil.jaargroep
        assert record.group_key == (pupil.groep if pupil.groep in group_keys else None)
        assert record.subgroup_keys == tuple(pupil.subgroepen)

    assert [m.source_id for m in snap.staff] == [str(i) for i in contents.staff]
    for record in snap.staff:
        member = contents.staff[int(record.source_id)]
        assert (record.eckid, record.las_key, record.email) == (
            member.eckid,
            member.las_key,
            member.emailadres,
        )
        assert (record.first_name, record.last_name) == (member.voornaam, member.achternaam)
        assert record.end_date == member.einddatum
        assert record.roles == tuple(member.rollen)
        assert record.group_keys == tuple(k for k in member.groepen if k)
        assert record.subgroup_keys == tuple(member.subgroepen)


def test_snapshot_equals_what_the_simulator_serves(
    source: BasispoortSource, sim_world: World
) -> None:
    for school_id in (sim_world.find("largest"), sim_world.find("merge_target")):
        snap = source.fetch_snapshot(str(school_id))
        assert_snapshot_is_the_world(snap, sim_world, school_id)
        assert snap.networks == sim_world.school(school_id).networks
        assert set(snap.notes) <= {"group_keyed_by_name"}


def test_snapshot_after_nights_of_churn(source: BasispoortSource, sim_world: World) -> None:
    for _ in range(3):
        sim_world.advance_night(churn=0.05)
    school_id = sim_world.find("consented")
    assert_snapshot_is_the_world(source.fetch_snapshot(str(school_id)), sim_world, school_id)


def test_unknown_roles_reach_the_snapshot(source: BasispoortSource, sim_world: World) -> None:
    known = {"Leerkracht", "ICTCoordinator", "IBRTer", "Stagiair", "Inval"}
    unknown: set[str] = set()
    for school_id in sim_world.find_all("consented"):
        for member in source.fetch_snapshot(str(school_id)).staff:
            unknown.update(set(member.roles) - known)
    assert "Directeur" in unknown


def test_a_school_without_networks_has_an_empty_list_not_none(
    source: BasispoortSource, sim_world: World
) -> None:
    assert source.fetch_snapshot(str(sim_world.find("no_networks"))).networks == ()


def test_ipadressen_not_offered_means_networks_unknown(sim_world: World, sim_pki: TLSFiles) -> None:
    sid = str(sim_world.find("consented"))
    with SimulatorServer(sim_world, tls=sim_pki, ipadressen=False) as server:
        source = BasispoortSource(settings_for(server, sim_pki))
        snap = source.fetch_snapshot(sid)
        source.close()
    assert snap.networks is None
    assert server.hits[f"GET {API}/{sid}/ipadressen"] == 1
    assert len(snap.pupils) == len(sim_world.pupil_ids(int(sid)))


def test_ipadressen_switched_off_is_never_asked(
    sim_server: SimulatorServer, sim_pki: TLSFiles, sim_world: World
) -> None:
    sid = str(sim_world.find("consented"))
    source = BasispoortSource(settings_for(sim_server, sim_pki, ipadressen=False))
    assert source.fetch_snapshot(sid).networks is None
    source.close()
    assert sim_server.hits[f"GET {API}/{sid}/ipadressen"] == 0
    assert sim_server.hits[f"GET {API}/{sid}"] == 1  # the overview, with the people


def test_snapshot_of_a_school_without_consent_is_refused(
    source: BasispoortSource, sim_world: World
) -> None:
    with pytest.raises(NoConsent):
        source.fetch_snapshot(str(sim_world.find("no_consent")))
    with pytest.raises(NotFound):
        source.fetch_snapshot("999")


def test_wrong_types_refuse_the_snapshot(
    source: BasispoortSource, sim_server: SimulatorServer, sim_world: World
) -> None:
    # The overview's lists (groups, pupils, staff) arrive as objects: nothing can be trusted.
    sim_server.faults.add(r"/instellingen/\d+$", "wrong_types", times=1)
    with pytest.raises(SourceDataError):
        source.fetch_snapshot(str(sim_world.find("consented")))


def test_a_transient_5xx_mid_snapshot_is_retried(
    source: BasispoortSource, sim_server: SimulatorServer, sim_world: World
) -> None:
    school_id = sim_world.find("consented")
    sim_server.faults.add(r"/instellingen/\d+$", "5xx", times=1)  # the overview
    assert_snapshot_is_the_world(source.fetch_snapshot(str(school_id)), sim_world, school_id)


def test_threads_share_one_source(source: BasispoortSource, sim_world: World) -> None:
    ids = sim_world.find_all("consented")
    with ThreadPoolExecutor(max_workers=4) as pool:
        snaps = list(pool.map(lambda i: source.fetch_snapshot(str(i)), ids))
    for school_id, snap in zip(ids, snaps, strict=True):
        assert snap.school.source_school_id == str(school_id)
        assert len(snap.pupils) == len(sim_world.pupil_ids(school_id))


# -- consent feed ---------------------------------------------------------------------------------


def test_grants_and_revocations_of_the_day(source: BasispoortSource, sim_world: World) -> None:
    refuser = sim_world.find("no_consent")
    leaver = sim_world.find("consented")
    sim_world.set_consent(refuser, True)
    sim_world.set_consent(leaver, False)
    changes = source.consent_changes(sim_world.today)
    assert str(refuser) in changes.granted and str(refuser) not in changes.revoked
    assert str(leaver) in changes.revoked and str(leaver) not in changes.granted


def test_neighbouring_days_are_asked_too(source: BasispoortSource, sim_world: World) -> None:
    header = sim_world.school(sim_world.find("consented"))
    granted_on: date = header.granted_on  # type: ignore[assignment]
    for day in (granted_on - timedelta(days=1), granted_on, granted_on + timedelta(days=1)):
        assert str(header.id) in source.consent_changes(day).granted, day
    assert str(header.id) not in source.consent_changes(granted_on - timedelta(days=3)).granted


def test_granted_and_revoked_in_one_window_is_settled_by_asking(
    source: BasispoortSource, sim_world: World
) -> None:
    back = sim_world.find("consented")
    gone = sim_world.find_all("consented")[1]
    sim_world.set_consent(back, False)
    sim_world.set_consent(back, True)  # changed its mind: consent now
    sim_world.set_consent(gone, False)
    sim_world.set_consent(gone, True)
    sim_world.set_consent(gone, False)  # and this one has none now
    changes = source.consent_changes(sim_world.today)
    assert str(back) in changes.granted and str(back) not in changes.revoked
    assert str(gone) in changes.revoked and str(gone) not in changes.granted


def test_giving_up_consent(source: BasispoortSource, sim_world: World) -> None:
    sid = sim_world.find("consented")
    source.give_up_consent(str(sid))
    assert sim_world.school(sid).consent is False
    assert str(sid) in source.consent_changes(sim_world.today).revoked
    header = sim_world.school(sid)
    assert (
        source.check_connection(header.brin, header.location).status is ConnectionStatus.NO_CONSENT
    )


def test_search_hits_are_matched_exactly_and_ambiguity_is_refused() -> None:
    from plugins.basispoort.source import _the_match

    hits = [
        {"id": 1, "brincode": "12AB01", "actief": True},
        {"id": 2, "brincode": "12ab00", "actief": False},
        {"id": 3, "brincode": "12AB00", "actief": True},
    ]
    assert _the_match(hits, "12AB00") == hits[2]  # the active one of two exact hits
    assert _the_match(hits[:2], "12AB00") == hits[1]  # an inactive one when that is all
    assert _the_match(hits, "12AB0") is None
    with pytest.raises(SourceDataError, match="2 schools with BRIN6 12AB00"):
        _the_match([*hits, {"id": 4, "brincode": "12AB00"}], "12AB00")
