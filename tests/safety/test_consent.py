"""Consent lifecycle against the simulator: grants link and sync, revocations stop and purge."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from core.consent import sweep_consent
from core.export import export_school
from core.login.networks import ADMIN_ORIGIN, NetworkEntry, replace_networks
from core.models import (
    Group,
    HeldPlan,
    LoginDenial,
    Pupil,
    PupilSubgroup,
    School,
    SchoolNetwork,
    Staff,
    StaffGroup,
    utcnow,
)
from core.retention import purge_revoked
from core.sync.engine import sync_school
from tests.fakes import FakeSource, fake_plugins, make_snapshot
from tests.safety.conftest import denied_login, link, unlink
from tests.sync.conftest import new_school

PUPIL_PERSONAL = (
    "eckid",
    "las_key",
    "first_name",
    "prefix",
    "last_name",
    "initials",
    "year_group",
    "group_id",
)
STAFF_PERSONAL = ("eckid", "las_key", "first_name", "prefix", "last_name", "initials", "email")


def _count(db, model, *where) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_a_new_grant_links_the_school_and_queues_its_sync(db, sim_world, sim_plugins, observer):
    new = sim_world.find("no_consent")
    header = sim_world.school(new)
    unlink(db, sim_world, new)
    sim_world.set_consent(new, True)
    queued: list[int] = []

    sweep = sweep_consent(db, sim_plugins, sim_world.today, enqueue_sync=queued.append)

    school = db.scalars(select(School).where(School.source_school_id == str(new))).one()
    assert (school.brin, school.location_code) == (header.brin, header.location)
    assert (school.consent, school.active) == ("granted", True)
    # Other schools granted on neighbouring days may be listed too; this one is queued once.
    assert school.id in sweep.granted and queued.count(school.id) == 1
    assert queued == sweep.queued
    assert (school.id, True) in observer.calls
    assert sync_school(db, school.id, plugins=sim_plugins).outcome == "succeeded"
    assert _count(db, Pupil, Pupil.school_id == school.id) == len(sim_world.pupil_ids(new))

    again = sweep_consent(db, sim_plugins, sim_world.today, enqueue_sync=queued.append)
    assert again.granted == [] and again.unchanged >= 1 and queued.count(school.id) == 1


def test_a_revocation_stops_syncs_at_once(db, sim_world, sim_plugins, observer):
    school = link(db, sim_world, "quiet")
    sync_school(db, school.id, plugins=sim_plugins)
    sim_world.set_consent(int(school.source_school_id), False)

    sweep = sweep_consent(db, sim_plugins, sim_world.today)

    assert sweep.revoked == [school.id]
    db.refresh(school)
    assert school.consent == "revoked" and school.consent_changed_at is not None
    assert (school.id, False) in observer.calls
    run = sync_school(db, school.id, plugins=sim_plugins)
    assert run.outcome == "skipped" and "consent" in run.error


def test_a_revoked_school_holds_no_personal_data_after_its_retention(db, sim_world, sim_plugins):
    school = link(db, sim_world, "quiet")
    sync_school(db, school.id, plugins=sim_plugins)
    sim_world.remove_pupils(int(school.source_school_id), 0.6)  # leaves a held plan behind
    assert sync_school(db, school.id, plugins=sim_plugins).outcome == "held"
    sim_world.set_consent(int(school.source_school_id), False)
    sweep_consent(db, sim_plugins, sim_world.today)
    people = _count(db, Pupil, Pupil.school_id == school.id)
    staff = _count(db, Staff, Staff.school_id == school.id)
    assert _count(db, Group, Group.school_id == school.id, Group.source_key.startswith("naam:"))
    replace_networks(db, school.id, ADMIN_ORIGIN, [NetworkEntry("192.0.2.0/24", "lokaal juf Ans")])
    pupil_id = db.scalar(select(Pupil.id).where(Pupil.school_id == school.id).limit(1))
    db.add(denied_login(school.id, pupil_id, "198.51.100.7"))
    db.commit()

    early = purge_revoked(db, utcnow(), retention_days=30)
    assert school.id not in early.schools
    dry = purge_revoked(db, utcnow() + timedelta(days=31), retention_days=30, dry_run=True)
    assert dry.schools[school.id]["pupils"] == people
    assert _count(db, Pupil, Pupil.school_id == school.id, Pupil.purged_at.is_not(None)) == 0

    report = purge_revoked(db, utcnow() + timedelta(days=31), retention_days=30)

    assert report.schools[school.id] == {
        "pupils": people,
        "staff": staff,
        "groups": 12,
        "networks": 1,
        "login_denials": 1,
    }
    for column in PUPIL_PERSONAL:
        assert (
            _count(db, Pupil, Pupil.school_id == school.id, getattr(Pupil, column).is_not(None))
            == 0
        ), column
    for column in STAFF_PERSONAL:
        assert (
            _count(db, Staff, Staff.school_id == school.id, getattr(Staff, column).is_not(None))
            == 0
        ), column
    roles = db.scalars(select(Staff.roles).where(Staff.school_id == school.id)).all()
    assert set(map(tuple, roles)) == {()}
    for model in (Pupil, Staff):
        assert _count(db, model, model.school_id == school.id, model.purged_at.is_(None)) == 0
        assert _count(db, model, model.school_id == school.id, model.left_at.is_(None)) == 0
    assert _count(db, Pupil, Pupil.school_id == school.id) == people  # ids and dates stay
    assert _count(db, Group, Group.school_id == school.id, Group.name.is_not(None)) == 0
    # Group keys may be names ("naam:Groep 3 juf …"): each becomes "purged:<its id>".
    keys = db.execute(select(Group.id, Group.source_key).where(Group.school_id == school.id)).all()
    assert {key for _, key in keys} == {f"purged:{group_id}" for group_id, _ in keys}
    networks = db.scalars(select(SchoolNetwork).where(SchoolNetwork.school_id == school.id))
    assert [n.description for n in networks if n.origin == ADMIN_ORIGIN] == [None]
    denial = db.scalars(select(LoginDenial).where(LoginDenial.school_id == school.id)).one()
    assert (denial.person_id, denial.client_address, denial.policy) == (
        None,
        None,
        "ip_restriction",
    )
    assert (
        db.scalar(
            select(func.count())
            .select_from(PupilSubgroup)
            .join(Pupil, Pupil.id == PupilSubgroup.pupil_id)
            .where(Pupil.school_id == school.id)
        )
        == 0
    )
    assert (
        db.scalar(
            select(func.count())
            .select_from(StaffGroup)
            .join(Staff, Staff.id == StaffGroup.staff_id)
            .where(Staff.school_id == school.id)
        )
        == 0
    )
    held = db.scalars(select(HeldPlan).where(HeldPlan.school_id == school.id)).all()
    assert held and all(p.plan == {} and p.status == "stale" for p in held)
    exported = export_school(db, school)
    assert all(set(p["names"].values()) == {None} for p in exported["pupils"])
    assert all(p["eckid"] is None and p["las_key"] is None for p in exported["pupils"])
    assert all(s["email"] is None for s in exported["staff"])
    served = sim_world.leerlingen(int(school.source_school_id))["leerlingen"]
    surnames = {p["persoonsgegevens"].get("achternaam") for p in served} - {None}
    text = str(exported)
    assert surnames and not any(name in text for name in surnames)

    # A second purge has nothing left to do.
    assert purge_revoked(db, utcnow() + timedelta(days=32), retention_days=30).schools == {}


def test_a_school_purged_before_keys_were_cleared_is_purged_again(db, sim_world, sim_plugins):
    school = link(db, sim_world, "quiet")
    sync_school(db, school.id, plugins=sim_plugins)
    named = db.scalars(
        select(Group).where(Group.school_id == school.id, Group.source_key.startswith("naam:"))
    ).first()
    name_key = named.source_key
    school.consent = "revoked"
    db.commit()
    purge_revoked(db, utcnow(), retention_days=0)
    # What the purge left before it cleared keys: the purged hash, but the name as key.
    db.execute(update(Group).where(Group.id == named.id).values(source_key=name_key))
    db.commit()

    report = purge_revoked(db, utcnow(), retention_days=0)

    assert report.schools[school.id]["groups"] == 1
    db.refresh(named)
    assert named.source_key == f"purged:{named.id}"


def test_consent_granted_again_brings_the_purged_people_back(db, sim_world, sim_plugins):
    school = link(db, sim_world, "quiet")
    sync_school(db, school.id, plugins=sim_plugins)
    sim_world.set_consent(int(school.source_school_id), False)
    sweep_consent(db, sim_plugins, sim_world.today)
    purge_revoked(db, utcnow(), retention_days=0)
    sim_world.set_consent(int(school.source_school_id), True)

    sweep = sweep_consent(db, sim_plugins, sim_world.today)
    run = sync_school(db, school.id, plugins=sim_plugins)

    assert sweep.granted == [school.id]
    assert run.outcome == "succeeded"
    served = len(sim_world.pupil_ids(int(school.source_school_id)))
    assert run.counts["pupils_restored"] == served
    live = _count(
        db, Pupil, Pupil.school_id == school.id, Pupil.left_at.is_(None), Pupil.purged_at.is_(None)
    )
    assert live == served
    assert _count(db, Pupil, Pupil.school_id == school.id, Pupil.last_name.is_not(None)) == served


def test_a_revocation_while_a_run_works_stops_its_commit(db):
    school = new_school(db)
    source = FakeSource(make_snapshot(source_school_id=school.source_school_id))
    plugins, _ = fake_plugins(source)
    serve = source.fetch_snapshot

    def revoked_meanwhile(source_school_id: str):  # type: ignore[no-untyped-def]
        # The consent sweep commits a revocation while the source is being asked.
        db.execute(update(School).where(School.id == school.id).values(consent="revoked"))
        return serve(source_school_id)

    source.fetch_snapshot = revoked_meanwhile  # type: ignore[method-assign]

    run = sync_school(db, school.id, plugins=plugins)

    assert run.outcome == "skipped" and run.error == "consent was revoked while the run worked"
    assert _count(db, Pupil, Pupil.school_id == school.id) == 0


def test_the_sweep_notices_an_inactive_school_becoming_active_again(db, sim_world, sim_plugins):
    school = link(db, sim_world, "quiet")
    source_id = int(school.source_school_id)
    sim_world.set_active(source_id, False)
    db.execute(update(School).where(School.id == school.id).values(active=False))
    db.commit()
    assert sync_school(db, school.id, plugins=sim_plugins).outcome == "skipped"

    still = sweep_consent(db, sim_plugins, sim_world.today, enqueue_sync=lambda _id: None)
    assert school.id not in still.reactivated

    sim_world.set_active(source_id, True)
    queued: list[int] = []
    sweep = sweep_consent(db, sim_plugins, sim_world.today, enqueue_sync=queued.append)

    db.refresh(school)
    assert school.active is True
    assert school.id in sweep.reactivated and school.id in queued
    assert sync_school(db, school.id, plugins=sim_plugins).outcome == "succeeded"
