"""Status: one school (consent, last success and failure, held plans, counts) and the last night."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.errors import SourceUnavailable
from core.models import HeldPlan, utcnow
from core.status import night_summary, school_status
from core.sync.engine import sync_school
from tests.fakes import FakeSource, fake_plugins, make_snapshot
from tests.safety.conftest import link
from tests.sync.conftest import new_school


def test_a_schools_status_has_its_runs_plans_and_counts(db, sim_world, sim_plugins):
    school = link(db, sim_world, "quiet")
    first = sync_school(db, school.id, plugins=sim_plugins)
    gone = sim_world.remove_pupils(int(school.source_school_id), 0.6)
    held_run = sync_school(db, school.id, plugins=sim_plugins)

    status = json.loads(json.dumps(school_status(db, school)))  # JSON-able as it is

    assert status["brin6"] == sim_world.school(int(school.source_school_id)).brin6
    assert (status["consent"], status["active"], status["merged_into"]) == ("granted", True, None)
    assert status["last_success"]["id"] == first.id
    assert status["last_run"] == {
        "id": held_run.id,
        "trigger": "manual",
        "outcome": "held",
        "started_at": held_run.started_at.isoformat(),
        "finished_at": held_run.finished_at.isoformat(),
        "reason": held_run.error,
        "counts": {},
    }
    assert status["last_failure"] is None
    plan = db.scalars(select(HeldPlan).where(HeldPlan.run_id == held_run.id)).one()
    assert [p["id"] for p in status["held_plans"]] == [plan.id]
    assert status["held_plans"][0]["counts"]["pupils_left"] == len(gone)
    served = len(sim_world.pupil_ids(int(school.source_school_id))) + len(gone)
    assert status["counts"]["pupils"] == {"live": served, "left": 0, "purged": 0}
    assert status["counts"]["groups"]["live"] == first.counts["groups_created"]
    assert status["counts"]["networks"] == 2


def test_a_failure_is_listed_with_its_reason(db):
    school = new_school(db)
    source = FakeSource(make_snapshot(source_school_id=school.source_school_id))
    plugins, _ = fake_plugins(source)
    sync_school(db, school.id, plugins=plugins)
    source.fail["fetch_snapshot"] = SourceUnavailable(f"school {school.id}: the source timed out")
    with pytest.raises(SourceUnavailable):
        sync_school(db, school.id, plugins=plugins)

    status = school_status(db, school)

    assert status["last_failure"]["outcome"] == "failed"
    assert "timed out" in status["last_failure"]["reason"]
    assert status["last_success"]["outcome"] == "succeeded"
    assert status["last_run"]["id"] == status["last_failure"]["id"]


def test_the_night_summary_counts_each_school_once_by_its_latest_run(db):
    start = utcnow()
    ok, failing, held = new_school(db), new_school(db), new_school(db)
    plugins_of = {}
    for school in (ok, failing, held):
        source = FakeSource(make_snapshot(pupils=12, source_school_id=school.source_school_id))
        plugins_of[school.id] = (source, fake_plugins(source)[0])
        sync_school(db, school.id, plugins=plugins_of[school.id][1])
    source, plugins = plugins_of[failing.id]
    source.fail["fetch_snapshot"] = SourceUnavailable(f"school {failing.id}: timeout")
    with pytest.raises(SourceUnavailable):
        sync_school(db, failing.id, plugins=plugins)
    source, plugins = plugins_of[held.id]
    source.change(pupils=())
    sync_school(db, held.id, plugins=plugins)
    never = new_school(db)  # consent, never synced

    summary = night_summary(db, since=start - timedelta(seconds=1))

    mine = {ok.id, failing.id, held.id}
    assert [f["brin6"] for f in summary["failures"] if f["school_id"] in mine] == [failing.brin6]
    failure = next(f for f in summary["failures"] if f["school_id"] == failing.id)
    assert "timeout" in failure["reason"]
    assert [h["school_id"] for h in summary["held"] if h["school_id"] in mine] == [held.id]
    assert never.brin6 in summary["not_run"] and ok.brin6 not in summary["not_run"]
    assert summary["outcomes"]["succeeded"] >= 1
    assert summary["outcomes"]["failed"] >= 1 and summary["outcomes"]["held"] >= 1
    assert summary["held_plans"] >= 1
    later = night_summary(db, since=utcnow() + timedelta(seconds=1))
    assert later["schools"] == 0 and later["failures"] == []
