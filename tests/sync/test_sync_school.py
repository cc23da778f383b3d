"""sync_school end to end on both backends: creates, no-op resyncs, leavers, moves, re-keys."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sqlalchemy import select

from core.export import export_school
from core.models import Group, Pupil, PupilSubgroup, Staff, StaffGroup, SyncRun
from core.snapshot import SourceCapabilities
from core.sync.engine import sync_school
from tests.sync.conftest import PEOPLE_TABLES, count, recording, rows_written, stamps
from tests.sync.expect import expected_people, people_of


def _pupil(db, school, source_id):  # type: ignore[no-untyped-def]
    return db.execute(
        select(Pupil.id, Pupil.left_at, Pupil.group_id, Pupil.source_id).where(
            Pupil.school_id == school.id, Pupil.source_id == source_id
        )
    ).one()


def test_first_sync_creates_everything(db, school, source, plugins, plugin):
    written = rows_written(db)
    run = sync_school(db, school.id, plugins=plugins)

    assert run.outcome == "succeeded", run.error
    assert run.finished_at is not None
    counts = run.counts
    assert counts["groups_created"] == 8
    assert counts["pupils_created"] == 20
    assert counts["staff_created"] == 3
    assert counts["networks_added"] == 1
    for key in ("pupils_updated", "pupils_left", "pupils_restored", "pupils_rekeyed"):
        assert counts[key] == 0
    assert count(db, school, PupilSubgroup) == 20
    assert count(db, school, StaffGroup) == 6
    if written is not None:  # PostgreSQL counts the rows COPY wrote too
        assert rows_written(db) - written == 8 + 20 + 20 + 3 + 6 + 1
    assert people_of(export_school(db, school)) == expected_people(source.snapshot)
    assert school.name == "De Fakeschool"
    assert school.source_ref == "ref-fake"
    assert school.source_mutated_at == source.snapshot.mutated_at
    assert school.last_synced_at is not None
    assert [e[0] for e in plugin.events] == ["before", "after"]
    assert plugin.events[1][1]["outcome"] == "succeeded"


def test_second_sync_of_same_snapshot_writes_nothing(db, school, source, plugins):
    sync_school(db, school.id, plugins=plugins)
    before = stamps(db, school)

    written = rows_written(db)
    with recording(db) as statements:
        run = sync_school(db, school.id, plugins=plugins)

    assert run.outcome == "succeeded"
    assert set(run.counts.values()) == {0}
    assert statements.writes(*PEOPLE_TABLES) == []
    assert rows_written(db) == written
    assert stamps(db, school) == before


def test_leaver_is_tombstoned_and_restored_with_the_same_row(db, school, source, plugins):
    sync_school(db, school.id, plugins=plugins)
    first = _pupil(db, school, "1003")
    everyone = source.snapshot.pupils

    source.change(pupils=tuple(p for p in everyone if p.source_id != "1003"))
    run = sync_school(db, school.id, plugins=plugins)
    assert run.counts["pupils_left"] == 1
    assert run.counts["pupils_updated"] == 0
    gone = _pupil(db, school, "1003")
    assert gone.id == first.id and gone.left_at is not None
    exported = {p["source_id"]: p for p in export_school(db, school)["pupils"]}
    assert exported["1003"]["left"] is True
    assert exported["1003"]["subgroups"] == ["S3"]  # nothing hard-deleted

    returning = replace(everyone[3], first_name="Teruggekomen")
    source.change(pupils=(*source.snapshot.pupils, returning))
    run = sync_school(db, school.id, plugins=plugins)
    assert run.counts["pupils_restored"] == 1
    assert run.counts["pupils_created"] == 0
    back = _pupil(db, school, "1003")
    assert back.id == first.id and back.left_at is None
    assert db.scalar(select(Pupil.first_name).where(Pupil.id == first.id)) == "Teruggekomen"


def test_group_move_and_subgroup_change(db, school, source, plugins):
    sync_school(db, school.id, plugins=plugins)
    pupils = list(source.snapshot.pupils)
    pupils[0] = replace(pupils[0], group_key="G2")  # moves class
    pupils[1] = replace(pupils[1], subgroup_keys=("S0", "S2"))  # only sub-groups change
    source.change(pupils=tuple(pupils))

    run = sync_school(db, school.id, plugins=plugins)

    assert run.counts["pupils_updated"] == 2
    assert run.counts["pupils_moved"] == 1
    exported = {p["source_id"]: p for p in export_school(db, school)["pupils"]}
    assert exported["1000"]["group"] == "G2"
    assert exported["1001"]["subgroups"] == ["S0", "S2"]
    assert exported["1001"]["group"] == "G1"
    assert people_of(export_school(db, school)) == expected_people(source.snapshot)


def test_move_into_a_new_group(db, school, source, plugins):
    sync_school(db, school.id, plugins=plugins)
    new_group = replace(source.snapshot.groups[0], key="G9", name="Groep 9")
    pupils = list(source.snapshot.pupils)
    pupils[5] = replace(pupils[5], group_key="G9")
    source.change(groups=(*source.snapshot.groups, new_group), pupils=tuple(pupils))

    run = sync_school(db, school.id, plugins=plugins)

    assert run.counts["groups_created"] == 1
    assert run.counts["pupils_moved"] == 1
    assert {p["source_id"]: p["group"] for p in export_school(db, school)["pupils"]}["1005"] == "G9"


def test_staff_role_change(db, school, source, plugins):
    sync_school(db, school.id, plugins=plugins)
    staff = list(source.snapshot.staff)
    staff[1] = replace(staff[1], roles=("ICTCoordinator", "Leerkracht", "Nieuwerol"))
    staff[2] = replace(staff[2], end_date=date(2027, 7, 31))
    source.change(staff=tuple(staff))

    run = sync_school(db, school.id, plugins=plugins)

    assert run.counts["staff_updated"] == 2
    assert run.counts["pupils_updated"] == 0
    assert people_of(export_school(db, school)) == expected_people(source.snapshot)
    roles = db.scalar(
        select(Staff.roles).where(Staff.school_id == school.id, Staff.source_id == "5001")
    )
    assert roles == ["ICTCoordinator", "Leerkracht", "Nieuwerol"]


def test_rekey_by_eckid_keeps_the_row(db, school, source, plugins):
    sync_school(db, school.id, plugins=plugins)
    old = _pupil(db, school, "1007")
    pupils = [
        replace(p, source_id="7777") if p.source_id == "1007" else p for p in source.snapshot.pupils
    ]
    source.change(pupils=tuple(pupils))

    run = sync_school(db, school.id, plugins=plugins)

    assert run.counts["pupils_rekeyed"] == 1
    assert run.counts["pupils_created"] == 0
    assert run.counts["pupils_left"] == 0
    assert _pupil(db, school, "7777").id == old.id
    assert count(db, school, Pupil) == 20


def test_rekey_by_las_key_when_there_is_no_eckid(db, school, source, plugins):
    staff = [replace(s, eckid=None) for s in source.snapshot.staff]
    source.change(staff=tuple(staff))
    sync_school(db, school.id, plugins=plugins)
    old_id = db.scalar(
        select(Staff.id).where(Staff.school_id == school.id, Staff.source_id == "5002")
    )
    source.change(
        staff=tuple(replace(s, source_id="8002") if s.source_id == "5002" else s for s in staff)
    )

    run = sync_school(db, school.id, plugins=plugins)

    assert run.counts["staff_rekeyed"] == 1
    assert (
        db.scalar(select(Staff.id).where(Staff.school_id == school.id, Staff.source_id == "8002"))
        == old_id
    )


def test_incomplete_snapshot_tombstones_nobody(db, school, source, plugins):
    sync_school(db, school.id, plugins=plugins)
    source.change(
        pupils=source.snapshot.pupils[:5],
        staff=(),
        groups=source.snapshot.groups[:2],
        complete=False,
    )

    run = sync_school(db, school.id, plugins=plugins)

    assert run.outcome == "succeeded"
    assert run.counts["pupils_left"] == 0
    assert run.counts["staff_left"] == 0
    assert run.counts["groups_left"] == 0
    assert count(db, school, Pupil, Pupil.left_at.is_not(None)) == 0
    assert count(db, school, Group, Group.left_at.is_not(None)) == 0


def test_source_without_complete_snapshots_tombstones_nobody(db, school, source, plugins):
    source.capabilities = SourceCapabilities(complete_snapshots=False)
    sync_school(db, school.id, plugins=plugins)
    source.change(pupils=source.snapshot.pupils[1:])

    run = sync_school(db, school.id, plugins=plugins)

    assert run.counts["pupils_left"] == 0
    assert _pupil(db, school, "1000").left_at is None


def test_groups_that_disappear_are_tombstoned(db, school, source, plugins):
    sync_school(db, school.id, plugins=plugins)
    groups = [g for g in source.snapshot.groups if g.key != "S3"]
    pupils = [
        replace(p, subgroup_keys=()) if p.subgroup_keys == ("S3",) else p
        for p in source.snapshot.pupils
    ]
    source.change(groups=tuple(groups), pupils=tuple(pupils))

    run = sync_school(db, school.id, plugins=plugins)

    assert run.counts["groups_left"] == 1
    exported = export_school(db, school)
    assert [g["left"] for g in exported["groups"] if g["key"] == "S3"] == [True]
    by_id = {p["source_id"]: p for p in exported["pupils"]}
    assert by_id["1003"]["subgroups"] == []


def test_membership_of_an_unknown_group_is_dropped_and_noted(db, school, source, plugins):
    pupils = list(source.snapshot.pupils)
    pupils[0] = replace(pupils[0], group_key="NOPE", subgroup_keys=("S0", "NOPE"))
    source.change(pupils=tuple(pupils))

    run = sync_school(db, school.id, plugins=plugins)

    assert run.outcome == "succeeded"
    assert run.counts["note_unresolved_memberships"] == 2
    assert _pupil(db, school, "1000").group_id is None


def test_runs_are_recorded(db, school, plugins):
    first = sync_school(db, school.id, plugins=plugins, trigger="nightly", worker="w1")
    stored = db.scalars(select(SyncRun).where(SyncRun.school_id == school.id)).all()
    assert [(r.id, r.outcome, r.trigger, r.worker) for r in stored] == [
        (first.id, "succeeded", "nightly", "w1")
    ]
