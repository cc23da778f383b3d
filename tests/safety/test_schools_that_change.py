"""Schools that change at the source: inactive ones are not applied, merged ones move, once."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import func, select

from core.consent import sweep_consent
from core.models import Group, HeldPlan, Pupil, School, Staff, SyncRun
from core.plans import approve_plan, show_plan
from core.sync.engine import sync_school
from plugins.basispoort.simulator.state import SchoolContents
from tests.safety.conftest import link, unlink


def _live(db, model, school_id: int) -> int:  # type: ignore[no-untyped-def]
    return (
        db.scalar(
            select(func.count())
            .select_from(model)
            .where(model.school_id == school_id, model.left_at.is_(None))
        )
        or 0
    )


def test_a_school_gone_inactive_is_skipped_and_nobody_removed(db, sim_world, sim_plugins):
    school = link(db, sim_world, "quiet")
    sync_school(db, school.id, plugins=sim_plugins)
    pupils = _live(db, Pupil, school.id)
    sim_world.set_active(int(school.source_school_id), False)
    sim_world.empty_school(int(school.source_school_id))  # and its lists are empty

    run = sync_school(db, school.id, plugins=sim_plugins, force=True)

    assert run.outcome == "skipped" and "inactive" in run.error
    db.refresh(school)
    assert school.active is False
    assert _live(db, Pupil, school.id) == pupils
    later = sync_school(db, school.id, plugins=sim_plugins)
    assert later.outcome == "skipped" and "inactive" in later.error


def test_a_school_merged_after_its_sync_is_noticed_by_the_next_one(db, sim_world, sim_plugins):
    # Not forced: the next sync asks the stamp first, and a merger must have moved it.
    school = link(db, sim_world, "quiet")
    assert sync_school(db, school.id, plugins=sim_plugins).outcome == "succeeded"
    sim_world.merge(int(school.source_school_id), sim_world.find("merge_target"))

    run = sync_school(db, school.id, plugins=sim_plugins)

    # Held: its people are to move to a school not linked yet (see the tests below).
    assert run.outcome == "held", (run.outcome, run.error)
    db.refresh(school)
    assert school.merged_into_source_id == str(sim_world.find("merge_target"))


def test_a_merged_schools_pupils_end_up_once_at_the_target(db, sim_world, sim_plugins):
    merged_id, target_id = sim_world.find("merged"), sim_world.find("merge_target")
    sim_world.merge(merged_id, None)  # before the merger, both are ordinary schools
    merged = link(db, sim_world, merged_id)
    target = link(db, sim_world, target_id)
    assert sync_school(db, merged.id, plugins=sim_plugins).outcome == "succeeded"
    assert sync_school(db, target.id, plugins=sim_plugins).outcome == "succeeded"
    moving = _live(db, Pupil, merged.id)
    staying = _live(db, Pupil, target.id)
    merged_eckids = set(
        db.scalars(
            select(Pupil.eckid).where(Pupil.school_id == merged.id, Pupil.eckid.is_not(None))
        )
    )

    # The merger: the target's LAS takes in every pupil (new Basispoort ids, same ECK iD and
    # lasKey); the merged school is marked gefuseerdNaar and serves nobody any more.
    # Captured first, so the edit is the same whenever the simulator replays it.
    incoming = sim_world.contents(merged_id)
    pupils = sorted(incoming.pupils.values(), key=lambda p: p.id)
    staff = sorted(incoming.staff.values(), key=lambda s: s.id)
    # A pupil with neither ECK iD nor lasKey cannot be recognised anywhere: a new row.
    unknowable = sum(1 for p in pupils if not p.eckid and not p.las_key)

    def take_in(contents: SchoolContents) -> None:
        for pupil in pupils:
            new_id = contents.new_pupil_id()
            contents.pupils[new_id] = replace(pupil, id=new_id, groep=None, subgroepen=[])
        for member in staff:
            new_id = contents.new_staff_id()
            contents.staff[new_id] = replace(member, id=new_id, groepen=[], subgroepen=[])

    sim_world.edit(target_id, take_in)
    sim_world.empty_school(merged_id)
    sim_world.merge(merged_id, target_id)

    held_run = sync_school(db, merged.id, plugins=sim_plugins, force=True)

    # Moving a whole school is a mass change: held until a person approves, nothing moved.
    assert held_run.outcome == "held", held_run.error
    assert f"merged into school {target.id} (source school {target_id})" in held_run.error
    assert f"would remove {moving} of {moving} pupils (100%)" in held_run.error
    assert _live(db, Pupil, merged.id) == moving
    plan = db.scalars(select(HeldPlan).where(HeldPlan.school_id == merged.id)).one()
    shown = show_plan(db, plan.id)["records"]
    assert len(shown["pupils"]["move"]) == moving and shown["target_source_id"] == str(target_id)
    decision = approve_plan(db, sim_plugins, plan.id, by="tester")
    assert decision.applied, decision.reason
    run = decision.run

    assert run.outcome == "succeeded", run.error
    assert run.trigger == "approval"
    assert run.counts["pupils_moved_to_target"] == moving
    assert run.counts["pupils_already_at_target"] == 0
    assert _live(db, Pupil, merged.id) == 0  # moved, not tombstoned: rows keep their ids
    assert _live(db, Group, merged.id) == 0
    db.refresh(merged)
    assert merged.merged_into_source_id == str(target_id)

    after = sync_school(db, target.id, plugins=sim_plugins)

    assert after.outcome == "succeeded", after.error
    assert after.counts["pupils_rekeyed"] == moving - unknowable
    assert after.counts["pupils_created"] == after.counts["pupils_left"] == unknowable
    served = len(sim_world.pupil_ids(target_id))
    assert _live(db, Pupil, target.id) == served == staying + moving
    eckids = db.scalars(
        select(Pupil.eckid).where(Pupil.eckid.in_(merged_eckids), Pupil.left_at.is_(None))
    ).all()
    assert sorted(eckids) == sorted(merged_eckids)  # each once, all at the target
    assert (
        db.scalar(
            select(func.count())
            .select_from(Pupil)
            .where(Pupil.eckid.in_(merged_eckids), Pupil.school_id != target.id)
        )
        == 0
    )
    # Its later runs say where the people went; the audit trail keeps the move.
    again = sync_school(db, merged.id, plugins=sim_plugins)
    assert again.outcome == "skipped" and f"moved to school {target.id}" in again.error
    runs = db.scalars(select(SyncRun.counts).where(SyncRun.id == run.id)).one()
    assert runs["pupils_moved_to_target"] == moving


def test_a_merge_into_a_school_without_consent_moves_nobody(db, sim_world, sim_plugins):
    merged_id, target_id = sim_world.find("merged"), sim_world.find("merge_target")
    sim_world.merge(merged_id, None)
    merged = link(db, sim_world, merged_id)
    unlink(db, sim_world, target_id)
    sync_school(db, merged.id, plugins=sim_plugins)
    pupils = _live(db, Pupil, merged.id)
    sim_world.set_consent(target_id, False)
    sim_world.merge(merged_id, target_id)

    run = sync_school(db, merged.id, plugins=sim_plugins, force=True)

    assert run.outcome == "skipped"
    assert "does not serve" in run.error and "stay here" in run.error
    assert _live(db, Pupil, merged.id) == pupils
    assert db.scalars(select(School).where(School.source_school_id == str(target_id))).all() == []

    # Once the target consents, the merged school's next run creates it and moves them.
    sim_world.set_consent(target_id, True)
    db.refresh(merged)
    assert merged.merged_into_source_id == str(target_id)
    run = sync_school(db, merged.id, plugins=sim_plugins)
    assert run.outcome == "skipped" and "not linked" in run.error  # no fetch for known merges
    target = link(db, sim_world, target_id)
    run = sync_school(db, merged.id, plugins=sim_plugins)
    assert run.outcome == "held"
    plan = db.scalars(select(HeldPlan.id).where(HeldPlan.run_id == run.id)).one()
    run = approve_plan(db, sim_plugins, plan, by="tester").run
    assert run.outcome == "succeeded"
    assert _live(db, Pupil, target.id) == pupils
    assert _live(db, Staff, merged.id) == 0


def test_a_merge_into_an_unlinked_school_is_held_and_links_it_only_once_approved(
    db, sim_world, sim_plugins, observer
):
    merged_id, target_id = sim_world.find("merged"), sim_world.find("merge_target")
    sim_world.merge(merged_id, None)
    merged = link(db, sim_world, merged_id)
    unlink(db, sim_world, target_id)
    assert sync_school(db, merged.id, plugins=sim_plugins).outcome == "succeeded"
    rows = set(db.scalars(select(Pupil.id).where(Pupil.school_id == merged.id)))
    sim_world.merge(merged_id, target_id)

    run = sync_school(db, merged.id, plugins=sim_plugins, force=True)

    assert run.outcome == "held", run.error
    assert f"merged into source school {target_id}: its people would move there" in run.error
    assert _live(db, Pupil, merged.id) == len(rows)
    # Not linked while held: its own nightly sync would take the people in as new rows.
    assert db.scalars(select(School).where(School.source_school_id == str(target_id))).all() == []
    plan = db.scalars(select(HeldPlan).where(HeldPlan.run_id == run.id)).one()
    assert plan.counts["pupils_moved_to_target"] == len(rows)

    decision = approve_plan(db, sim_plugins, plan.id, by="tester")

    assert decision.applied and decision.run.outcome == "succeeded"
    target = db.scalars(select(School).where(School.source_school_id == str(target_id))).one()
    assert set(db.scalars(select(Pupil.id).where(Pupil.school_id == target.id))) == rows
    assert (target.id, True) in observer.calls


def test_a_small_merge_within_the_budget_moves_at_once(db, sim_world, sim_plugins, budget):
    budget(safety_tombstone_min=10_000)  # every school counts as small
    merged_id, target_id = sim_world.find("merged"), sim_world.find("merge_target")
    sim_world.merge(merged_id, None)
    merged = link(db, sim_world, merged_id)
    target = link(db, sim_world, target_id)
    sync_school(db, merged.id, plugins=sim_plugins)
    pupils = _live(db, Pupil, merged.id)
    sim_world.merge(merged_id, target_id)

    run = sync_school(db, merged.id, plugins=sim_plugins, force=True)

    assert run.outcome == "succeeded", run.error
    assert run.counts["pupils_moved_to_target"] == pupils
    assert _live(db, Pupil, target.id) == pupils


def test_the_sweep_notices_a_merger_undone_at_the_source(db, sim_world, sim_plugins):
    school = link(db, sim_world, "quiet")
    source_id, target_id = int(school.source_school_id), sim_world.find("merge_target")
    unlink(db, sim_world, target_id)
    sync_school(db, school.id, plugins=sim_plugins)
    sim_world.merge(source_id, target_id)
    held = sync_school(db, school.id, plugins=sim_plugins, force=True)
    assert held.outcome == "held"
    plan = db.scalars(select(HeldPlan).where(HeldPlan.run_id == held.id)).one()

    still = sweep_consent(db, sim_plugins, sim_world.today, enqueue_sync=lambda _id: None)
    assert school.id not in still.reactivated

    sim_world.merge(source_id, None)  # the merger was a mistake: active, not merged
    queued: list[int] = []
    sweep = sweep_consent(db, sim_plugins, sim_world.today, enqueue_sync=queued.append)

    db.refresh(school)
    assert (school.active, school.merged_into_source_id) == (True, None)
    assert school.id in sweep.reactivated and school.id in queued
    assert sync_school(db, school.id, plugins=sim_plugins).outcome == "succeeded"
    db.refresh(plan)
    assert plan.status == "stale"  # the move nobody approved no longer applies
