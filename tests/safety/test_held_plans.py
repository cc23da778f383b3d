"""The simulator's bad nights: an empty school, 60% gone, a slow trickle. Held until approved."""

from __future__ import annotations

from sqlalchemy import select

from core.export import export_school
from core.models import Group, HeldPlan, Pupil, Staff, SyncRun
from core.plans import approve_plan, list_plans, reject_plan, show_plan
from core.sync.engine import sync_school
from core.sync.plan import SyncPlan
from plugins.basispoort.simulator.state import Group as SimGroup
from tests.safety.conftest import in_season, link


def _live(db, school, model=Pupil) -> set[str]:  # type: ignore[no-untyped-def]
    return set(
        db.scalars(
            select(model.source_id).where(model.school_id == school.id, model.left_at.is_(None))
        )
    )


def _left(db, school) -> set[str]:  # type: ignore[no-untyped-def]
    return set(
        db.scalars(
            select(Pupil.source_id).where(Pupil.school_id == school.id, Pupil.left_at.is_not(None))
        )
    )


def _held(db, run) -> HeldPlan:  # type: ignore[no-untyped-def]
    return db.scalars(select(HeldPlan).where(HeldPlan.run_id == run.id)).one()


def test_an_empty_school_is_held_and_approval_applies_exactly_that_plan(db, sim_world, sim_plugins):
    school = link(db, sim_world, "quiet")
    assert sync_school(db, school.id, plugins=sim_plugins).outcome == "succeeded"
    before = export_school(db, school)
    pupils = _live(db, school)
    sim_world.empty_school(int(school.source_school_id))

    run = sync_school(db, school.id, plugins=sim_plugins)

    assert run.outcome == "held"
    assert f"the source served no pupils for a school that has {len(pupils)}" in run.error
    assert "served no staff" in run.error and "served no groups" in run.error
    assert export_school(db, school) == before  # nothing tombstoned, nothing written
    held = _held(db, run)
    assert (held.status, held.counts["pupils_left"]) == ("held", len(pupils))
    listed = list_plans(db)
    assert [p["id"] for p in listed if p["school_id"] == school.id] == [held.id]

    decision = approve_plan(db, sim_plugins, held.id, by="tester")

    assert decision.applied
    assert (decision.run.trigger, decision.run.outcome) == ("approval", "succeeded")
    assert decision.run.counts == held.counts
    assert _live(db, school) == set() and _left(db, school) == pupils
    assert _live(db, school, Staff) == set()
    db.refresh(held)
    assert (held.status, held.decided_by) == ("approved", "tester")
    # Approved is the new truth: the next sync has nothing to do.
    assert (
        sync_school(db, school.id, plugins=sim_plugins, force=True).counts.get("pupils_left", 0)
        == 0
    )


def test_sixty_percent_gone_is_held_then_approved_exactly(db, sim_world, sim_plugins):
    school = link(db, sim_world, "quiet")
    sync_school(db, school.id, plugins=sim_plugins)
    everyone = _live(db, school)
    gone = {str(i) for i in sim_world.remove_pupils(int(school.source_school_id), 0.6)}

    run = sync_school(db, school.id, plugins=sim_plugins)

    assert run.outcome == "held"
    assert f"would remove {len(gone)} of {len(everyone)} pupils (60%)" in run.error
    assert _live(db, school) == everyone
    held = _held(db, run)
    shown = show_plan(db, held.id)
    removed = {r["source_id"] for r in shown["records"]["pupils"]["remove"]}
    assert removed == gone
    assert "names" not in str(shown) and "Achternaam" not in str(shown)
    stored = SyncPlan.from_dict(held.plan)
    assert stored.plan_hash == held.plan_hash

    decision = approve_plan(db, sim_plugins, held.id, by="tester")

    assert decision.applied
    assert _left(db, school) == gone
    assert _live(db, school) == everyone - gone
    assert decision.run.counts["pupils_left"] == len(gone)


def test_a_plan_held_with_group_refs_as_text_is_shown_and_approved(db, sim_world, sim_plugins):
    """A held plan stores a group's ref as "kind:key" text, as plans held before refs became
    values in the code did: such a stored plan still reads, shows and applies exactly."""
    school = link(db, sim_world, "quiet")
    sync_school(db, school.id, plugins=sim_plugins)
    school_id = int(school.source_school_id)

    def regroup(contents):  # type: ignore[no-untyped-def]
        contents.groepen[0].omschrijving = "verbouwd lokaal"  # an update of a group
        contents.subgroepen.append(SimGroup("NIEUW-1", "Leesgroep nieuw"))  # a new subgroup

    sim_world.edit(school_id, regroup)
    sim_world.remove_pupils(school_id, 0.6)
    run = sync_school(db, school.id, plugins=sim_plugins)
    assert run.outcome == "held"
    held = _held(db, run)

    groups = held.plan["groups"]
    assert [ref for ref, _hash in groups["create"]] == ["subgroup:NIEUW-1"]
    (updated,) = [ref for _id, ref, _hash in groups["update"]]
    assert updated.startswith("group:")
    shown = show_plan(db, held.id)["records"]["groups"]
    assert shown["create"] == [{"ref": "subgroup:NIEUW-1"}]
    assert [r["ref"] for r in shown["update"]] == [updated]

    decision = approve_plan(db, sim_plugins, held.id, by="tester")

    assert decision.applied, decision.reason
    found = db.execute(
        select(Group.kind, Group.source_key, Group.description).where(
            Group.school_id == school.id, Group.left_at.is_(None)
        )
    ).all()
    assert ("subgroup", "NIEUW-1", None) in found
    assert ("group", updated.partition(":")[2], "verbouwd lokaal") in found


def test_the_same_plan_held_again_keeps_its_id(db, sim_world, sim_plugins):
    school = link(db, sim_world, "quiet")
    sync_school(db, school.id, plugins=sim_plugins)
    sim_world.remove_pupils(int(school.source_school_id), 0.6)
    first = _held(db, sync_school(db, school.id, plugins=sim_plugins))

    again = sync_school(db, school.id, plugins=sim_plugins)

    assert again.outcome == "held"  # held is not a good outcome: the unchanged stamp refetches
    plans = db.scalars(select(HeldPlan).where(HeldPlan.school_id == school.id)).all()
    assert [(p.id, p.status) for p in plans] == [(first.id, "held")]


def test_a_changed_source_makes_approval_refuse_and_plan_anew(db, sim_world, sim_plugins):
    school = link(db, sim_world, "quiet")
    sync_school(db, school.id, plugins=sim_plugins)
    everyone = _live(db, school)
    sim_world.remove_pupils(int(school.source_school_id), 0.6)
    held = _held(db, sync_school(db, school.id, plugins=sim_plugins))
    sim_world.remove_pupils(int(school.source_school_id), 0.05)  # the source moved on

    decision = approve_plan(db, sim_plugins, held.id, by="tester")

    assert not decision.applied
    assert "mutation stamp" in decision.reason
    db.refresh(held)
    assert held.status == "stale"
    assert decision.run.outcome == "held"  # the new plan is over the budget too
    assert decision.new_plan_id not in (None, held.id)
    assert _live(db, school) == everyone  # still nobody removed
    new = db.get(HeldPlan, decision.new_plan_id)
    assert new.status == "held" and new.counts["pupils_left"] > held.counts["pupils_left"]
    runs = db.scalars(
        select(SyncRun).where(SyncRun.school_id == school.id).order_by(SyncRun.id)
    ).all()
    assert [(r.trigger, r.outcome) for r in runs[-2:]] == [
        ("approval", "skipped"),
        ("approval", "held"),
    ]


def test_a_changed_database_makes_approval_refuse(db, sim_world, sim_plugins):
    school = link(db, sim_world, "quiet")
    sync_school(db, school.id, plugins=sim_plugins)
    sim_world.remove_pupils(int(school.source_school_id), 0.6)
    held = _held(db, sync_school(db, school.id, plugins=sim_plugins))
    # Someone (another sync, a script) changed a stored pupil after the plan was made.
    staying = str(sim_world.pupil_ids(int(school.source_school_id))[0])
    pupil = db.scalars(
        select(Pupil).where(Pupil.school_id == school.id, Pupil.source_id == staying)
    ).one()
    pupil.row_hash = "0" * 32
    db.commit()

    decision = approve_plan(db, sim_plugins, held.id, by="tester")

    assert not decision.applied
    assert "a new plan differs" in decision.reason


def test_a_rejected_plan_applies_nothing_and_the_next_sync_holds_again(db, sim_world, sim_plugins):
    school = link(db, sim_world, "quiet")
    sync_school(db, school.id, plugins=sim_plugins)
    everyone = _live(db, school)
    sim_world.empty_school(int(school.source_school_id))
    held = _held(db, sync_school(db, school.id, plugins=sim_plugins))

    reject_plan(db, held.id, by="tester")

    db.refresh(held)
    assert (held.status, held.decided_by) == ("rejected", "tester")
    assert _live(db, school) == everyone
    run = sync_school(db, school.id, plugins=sim_plugins)
    assert run.outcome == "held"
    assert _held(db, run).id != held.id


def test_a_slow_trickle_is_held_once_the_week_adds_up(db, sim_world, sim_plugins):
    school = link(db, sim_world, "quiet")
    sync_school(db, school.id, plugins=sim_plugins)
    size = len(_live(db, school))
    outcomes = []
    removed = 0
    held_at = None
    for night in range(7):
        removed_now = len(sim_world.remove_pupils(int(school.source_school_id), 0.03))
        run = sync_school(db, school.id, plugins=sim_plugins, trigger="nightly")
        outcomes.append(run.outcome)
        if run.outcome == "succeeded":
            removed += removed_now
            assert run.counts["pupils_left"] == removed_now
        elif held_at is None:
            held_at = night
            assert "removed in 7 days" in run.error
        # Nothing is tombstoned beyond what was applied before the hold.
        assert len(_left(db, school)) == removed

    assert outcomes[0] == "succeeded" and "held" in outcomes
    assert held_at is not None and removed <= max(5, size // 10)
    assert all(o == "held" for o in outcomes[held_at:])
    # Only one plan waits: each night's bigger plan superseded the one before.
    waiting = db.scalars(
        select(HeldPlan).where(HeldPlan.school_id == school.id, HeldPlan.status == "held")
    ).all()
    assert len(waiting) == 1

    decision = approve_plan(db, sim_plugins, waiting[0].id, by="tester")
    assert decision.applied
    served = {str(i) for i in sim_world.pupil_ids(int(school.source_school_id))}
    assert _live(db, school) == served
    # The approval starts the window over: the next small removal applies.
    sim_world.remove_pupils(int(school.source_school_id), 0.03)
    assert sync_school(db, school.id, plugins=sim_plugins).outcome == "succeeded"


def test_the_season_raises_the_limits(db, sim_world, sim_plugins, budget):
    budget(**in_season())
    school = link(db, sim_world, "quiet")
    sync_school(db, school.id, plugins=sim_plugins)
    gone = sim_world.remove_pupils(int(school.source_school_id), 0.2)  # group 8 leaves

    run = sync_school(db, school.id, plugins=sim_plugins)

    assert run.outcome == "succeeded"
    assert run.counts["pupils_left"] == len(gone)
    # Outside the season the same share is held.
    budget()
    sim_world.remove_pupils(int(school.source_school_id), 0.2)
    assert sync_school(db, school.id, plugins=sim_plugins).outcome == "held"
