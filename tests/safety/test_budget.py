"""The budget and the check's rules, with the fake source: small schools, shares, the window."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from core.errors import ConfigError
from core.models import HeldPlan, Pupil, SyncRun, utcnow
from core.settings import load_settings
from core.sync.budget import Budget
from core.sync.engine import sync_school
from core.sync.plan import make_plan
from core.sync.safety import check_plan
from tests.fakes import FakeSource, fake_plugins, make_snapshot
from tests.safety.conftest import off_season
from tests.sync.conftest import new_school


def _budget(**overrides: object) -> Budget:
    return Budget.from_settings(load_settings(**{**off_season(), **overrides}))


def test_a_share_has_an_absolute_minimum():
    limits = _budget().normal
    assert limits.allowed_tombstones(12) == 5  # 10% of 12 is 1; a small school may lose 5
    assert limits.allowed_tombstones(200) == 20
    assert limits.allowed_tombstones(25) == 5
    assert limits.allowed_updates(200) == 100
    assert _budget(safety_update_share=1.0).normal.allowed_updates(7) == 10


@pytest.mark.parametrize(
    ("start", "end", "day", "inside"),
    [
        ("07-15", "08-31", date(2026, 7, 15), True),
        ("07-15", "08-31", date(2026, 8, 31), True),
        ("07-15", "08-31", date(2026, 9, 1), False),
        ("07-15", "08-31", date(2026, 7, 14), False),
        ("12-20", "01-05", date(2027, 1, 2), True),  # across the new year
        ("12-20", "01-05", date(2026, 12, 19), False),
        ("02-29", "03-01", date(2027, 2, 28), True),  # no 29th: the 28th stands in
    ],
)
def test_the_season_is_a_range_of_local_dates(start, end, day, inside):
    budget = _budget(safety_season_start=start, safety_season_end=end)
    assert budget.in_season(datetime(day.year, day.month, day.day, 11, tzinfo=UTC)) is inside
    raised = budget.season if inside else budget.normal
    assert budget.limits_at(datetime(day.year, day.month, day.day, 11, tzinfo=UTC)) == raised


def test_the_season_follows_the_local_calendar():
    budget = _budget(safety_season_start="07-15", safety_season_end="08-31")
    assert budget.in_season(datetime(2026, 7, 14, 22, 30, tzinfo=UTC))  # 00:30 on the 15th


def test_default_season_raises_and_never_lowers():
    budget = Budget.from_settings(load_settings())
    assert (budget.season_start, budget.season_end) == ((7, 15), (8, 31))
    assert budget.season.allowed_tombstones(200) == 70
    assert budget.season.allowed_updates(200) == 200
    strict = _budget(safety_season_tombstone_share=0.0)
    assert strict.season.tombstone_share == strict.normal.tombstone_share


def test_an_impossible_season_date_is_a_config_error():
    with pytest.raises(ConfigError, match="KOPPEL_SAFETY_SEASON_END"):
        _budget(safety_season_end="02-30")
    with pytest.raises(ConfigError, match="KOPPEL_SAFETY_SEASON_START"):
        load_settings(safety_season_start="7-15")


def _synced(db, pupils: int = 12):  # type: ignore[no-untyped-def]
    school = new_school(db)
    source = FakeSource(
        make_snapshot(pupils=pupils, staff=3, groups=2, source_school_id=school.source_school_id)
    )
    plugins, _ = fake_plugins(source)
    assert sync_school(db, school.id, plugins=plugins).outcome == "succeeded"
    return school, source, plugins


def test_a_school_of_twelve_losing_two_is_applied(db):
    school, source, plugins = _synced(db, pupils=12)
    source.change(pupils=source.snapshot.pupils[:10])

    run = sync_school(db, school.id, plugins=plugins)

    assert run.outcome == "succeeded"
    assert run.counts["pupils_left"] == 2


def test_a_school_of_twelve_losing_six_is_held(db):
    school, source, plugins = _synced(db, pupils=12)
    source.change(pupils=source.snapshot.pupils[:6])

    run = sync_school(db, school.id, plugins=plugins)

    assert run.outcome == "held"
    assert "would remove 6 of 12 pupils (50%), more than the 5 allowed" in run.error
    held = db.scalars(select(HeldPlan).where(HeldPlan.school_id == school.id)).one()
    assert held.counts["pupils_left"] == 6 and held.reasons == [run.error]
    assert held.source_mutated_at == source.snapshot.mutated_at


def test_updating_most_people_is_held(db):
    school, source, plugins = _synced(db, pupils=30)
    source.change(pupils=tuple(replace(p, initials="X.") for p in source.snapshot.pupils))

    run = sync_school(db, school.id, plugins=plugins)

    assert run.outcome == "held"
    assert "would update 30 of 30 pupils (100%), more than the 15 allowed (50%)" in run.error


def test_a_snapshot_not_declared_complete_may_not_remove_anyone(db):
    school, source, _ = _synced(db, pupils=12)
    partial = replace(source.snapshot, pupils=source.snapshot.pupils[:11])
    plan = make_plan(db, school, partial)
    assert plan.counts["pupils_left"] == 1
    plan.complete = False  # a plan that should not exist: removals from a partial list

    reasons = check_plan(db, school, plan, replace(partial, complete=False), budget=_budget())

    assert reasons == ["the snapshot is not declared complete, yet the plan would remove 1 pupils"]


def test_an_empty_list_in_a_partial_snapshot_is_no_reason(db):
    school, source, plugins = _synced(db, pupils=12)
    source.change(pupils=(), complete=False)
    assert sync_school(db, school.id, plugins=plugins).outcome == "succeeded"


def test_a_tiny_school_served_empty_is_held_despite_the_minimum(db):
    school, source, plugins = _synced(db, pupils=3)
    source.change(pupils=())

    run = sync_school(db, school.id, plugins=plugins)

    assert run.outcome == "held"
    assert run.error == "the source served no pupils for a school that has 3"


def _past_run(db, school, days_ago: float, left: int, trigger: str = "nightly") -> None:  # type: ignore[no-untyped-def]
    at = utcnow() - timedelta(days=days_ago)
    db.add(
        SyncRun(
            school_id=school.id,
            trigger=trigger,
            started_at=at,
            finished_at=at,
            outcome="succeeded",
            counts={"pupils_left": left},
        )
    )
    db.commit()


def test_the_window_adds_up_removals_of_the_past_week(db):
    school, source, _ = _synced(db, pupils=100)
    _past_run(db, school, 2, 4)
    _past_run(db, school, 5, 4)
    _past_run(db, school, 9, 50)  # outside the window
    snapshot = replace(source.snapshot, pupils=source.snapshot.pupils[:97])
    plan = make_plan(db, school, snapshot)

    reasons = check_plan(db, school, plan, snapshot, budget=_budget())

    # 8 before + 3 now of 108 (100 live + 8 gone): 11 > 10% of 108
    assert reasons == [
        "would bring the pupils removed in 7 days to 11 of 108 (10%; 8 before this plan), "
        "more than the 10 allowed (10%)"
    ]
    assert check_plan(db, school, plan, snapshot, budget=_budget(safety_window_days=0)) == []
    assert check_plan(db, school, plan, snapshot, budget=_budget(safety_window_share=0.2)) == []


def test_an_approval_starts_the_window_over(db):
    school, source, _ = _synced(db, pupils=100)
    _past_run(db, school, 3, 9)
    _past_run(db, school, 2, 40, trigger="approval")
    _past_run(db, school, 1, 1)
    snapshot = replace(source.snapshot, pupils=source.snapshot.pupils[:97])
    plan = make_plan(db, school, snapshot)

    assert check_plan(db, school, plan, snapshot, budget=_budget()) == []


def test_the_season_says_its_limits_were_used(db):
    school, source, _ = _synced(db, pupils=100)
    snapshot = replace(source.snapshot, pupils=source.snapshot.pupils[:40])
    plan = make_plan(db, school, snapshot)
    summer = datetime(2026, 7, 20, 12, tzinfo=UTC)

    summer_budget = _budget(safety_season_start="07-15", safety_season_end="08-31")
    reasons = check_plan(db, school, plan, snapshot, budget=summer_budget, now=summer)

    assert "more than the 35 allowed (35%" in reasons[0]
    assert reasons[-1] == "the school-year season's raised limits were applied"
    assert (
        db.scalar(select(Pupil.id).where(Pupil.school_id == school.id, Pupil.left_at.is_not(None)))
        is None
    )
