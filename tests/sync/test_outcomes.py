"""sync_school outcomes other than success: skipped, unchanged, held, failed and rolled back."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, text

from core.errors import (
    InternalError,
    LeaseLost,
    SchoolNotFound,
    SourceDataError,
    SourceUnavailable,
    StorageError,
)
from core.export import export_school
from core.lease import write_school
from core.models import Group, Pupil
from core.snapshot import SourceCapabilities
from core.sync import engine
from core.sync.engine import sync_school
from tests.sync.conftest import PEOPLE_TABLES, count, last_run, recording, rows_written


def test_unknown_school_raises(db, plugins):
    with pytest.raises(SchoolNotFound):
        sync_school(db, 987654, plugins=plugins)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"consent": "revoked"}, "consent"),
        ({"active": False}, "inactive"),
        ({"merged_into_source_id": "424242"}, "merged"),
    ],
)
def test_school_without_consent_or_inactive_is_skipped(
    db, school, source, plugins, plugin, change, reason
):
    for name, value in change.items():
        setattr(school, name, value)
    db.commit()

    run = sync_school(db, school.id, plugins=plugins)

    assert run.outcome == "skipped"
    assert reason in run.error
    assert source.called("fetch_snapshot") == 0
    assert count(db, school, Pupil) == 0
    assert plugin.events[-1][1]["outcome"] == "skipped"


def test_unmoved_mutation_stamp_is_unchanged_without_fetch(db, school, source, plugins):
    stamp = datetime(2026, 11, 2, 5, 0, tzinfo=UTC)
    source.capabilities = SourceCapabilities(change_stamps=True)
    source.stamp = stamp
    source.change(mutated_at=stamp)
    assert sync_school(db, school.id, plugins=plugins).outcome == "succeeded"
    assert source.called("fetch_snapshot") == 1
    # Nothing stored yet, so nothing to confirm: the first sync does not ask for the stamp.
    assert source.called("latest_change") == 0

    written = rows_written(db)
    with recording(db) as statements:
        run = sync_school(db, school.id, plugins=plugins)

    assert run.outcome == "unchanged"
    assert source.called("fetch_snapshot") == 1
    assert source.called("latest_change") == 1
    assert statements.writes(*PEOPLE_TABLES) == []
    assert rows_written(db) == written

    forced = sync_school(db, school.id, plugins=plugins, force=True)
    assert forced.outcome == "succeeded"
    assert source.called("fetch_snapshot") == 2

    source.stamp = datetime(2026, 11, 3, 5, 0, tzinfo=UTC)  # the source changed
    assert sync_school(db, school.id, plugins=plugins).outcome == "succeeded"
    assert source.called("fetch_snapshot") == 3


def _synced_with_stamp(db, school, source, plugins) -> datetime:  # type: ignore[no-untyped-def]
    """The school synced once from a source that serves a change stamp; returns the stamp."""
    stamp = datetime(2026, 11, 2, 5, 0, tzinfo=UTC)
    source.capabilities = SourceCapabilities(change_stamps=True)
    source.stamp = stamp
    source.change(mutated_at=stamp)
    sync_school(db, school.id, plugins=plugins)
    return stamp


def test_an_unchanged_school_costs_three_statements_and_loads_nothing(db, school, source, plugins):
    _synced_with_stamp(db, school, source, plugins)
    db.expunge_all()  # as a worker starts a message: nothing of the school in memory

    with recording(db) as statements:
        run = sync_school(db, school.id, plugins=plugins)

    assert run.outcome == "unchanged" and run.finished_at is not None
    # Read the school's state, the decision with the run's insert (one statement on
    # PostgreSQL, two elsewhere), finish the run (the start hook saw it running); plus the
    # savepoint bookkeeping of the test's outer transaction.
    work = [s for s in statements.sql if "SAVEPOINT" not in s.upper()]
    assert len(work) == (3 if db.get_bind().dialect.name == "postgresql" else 4), work
    assert db.get(type(school), school.id).last_synced_at is not None


def test_a_stamp_stored_while_checking_is_not_confirmed_but_fetched(db, school, source, plugins):
    _synced_with_stamp(db, school, source, plugins)
    newer = datetime(2026, 11, 3, 5, 0, tzinfo=UTC)
    answer = source.latest_change

    def another_sync_stores_newer_data(source_school_id: str) -> datetime | None:
        # Between reading the school and confirming it, a sync elsewhere stores newer data.
        db.execute(
            type(school)
            .__table__.update()
            .where(type(school).__table__.c.id == school.id)
            .values(source_mutated_at=newer)
        )
        db.commit()
        return answer(source_school_id)

    source.latest_change = another_sync_stores_newer_data
    run = sync_school(db, school.id, plugins=plugins)

    assert run.outcome == "succeeded"  # not "unchanged" about data it no longer holds
    assert source.called("fetch_snapshot") == 2


def test_unmoved_stamp_after_a_failed_run_fetches_again(db, school, source, plugins):
    stamp = _synced_with_stamp(db, school, source, plugins)
    source.fail["fetch_snapshot"] = SourceUnavailable("timeout")
    source.stamp = datetime(2026, 11, 3, tzinfo=UTC)
    with pytest.raises(SourceUnavailable):
        sync_school(db, school.id, plugins=plugins)
    del source.fail["fetch_snapshot"]
    source.stamp = stamp  # the stamp equals the stored one, but the last run failed
    asked = source.called("latest_change")

    assert sync_school(db, school.id, plugins=plugins).outcome == "succeeded"
    assert source.called("latest_change") == asked  # no stamp can settle it: fetched at once


def test_source_failure_fails_the_run_and_keeps_what_was_stored(
    db, school, source, plugins, plugin
):
    sync_school(db, school.id, plugins=plugins)
    before = export_school(db, school)
    source.change(pupils=source.snapshot.pupils[:3])
    source.fail["fetch_snapshot"] = SourceUnavailable("school 900001: the source timed out")

    with pytest.raises(SourceUnavailable):
        sync_school(db, school.id, plugins=plugins)

    run = last_run(db, school)
    assert run.outcome == "failed"
    assert "timed out" in run.error
    assert run.finished_at is not None
    assert export_school(db, school) == before
    assert plugin.events[-1][1]["outcome"] == "failed"


def test_bad_snapshot_data_fails_before_anything_is_written(db, school, source, plugins):
    sync_school(db, school.id, plugins=plugins)
    before = export_school(db, school)
    source.change(pupils=(*source.snapshot.pupils, source.snapshot.pupils[0]))

    with pytest.raises(SourceDataError):
        sync_school(db, school.id, plugins=plugins)

    run = last_run(db, school)
    assert run.outcome == "failed"
    assert f"school {school.id}" in run.error
    assert export_school(db, school) == before


def test_failure_inside_apply_rolls_back_all_of_it(db, school, source, plugins):
    conn = db.connection()

    def explode_after_groups(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        # Apply reads the live groups back right after writing them, before any pupil:
        # failing there leaves new groups behind unless everything is rolled back.
        if statement.startswith("SELECT") and "school_group.left_at IS NULL" in statement:
            raise RuntimeError("disk full")

    event.listen(conn, "before_cursor_execute", explode_after_groups)
    try:
        with pytest.raises(InternalError, match="disk full") as caught:
            sync_school(db, school.id, plugins=plugins)
        assert caught.value.__cause__ is None and caught.value.__suppress_context__
    finally:
        event.remove(conn, "before_cursor_execute", explode_after_groups)

    run = last_run(db, school)
    assert run.outcome == "failed"
    assert "disk full" in run.error
    assert count(db, school, Group) == 0
    assert count(db, school, Pupil) == 0
    assert school.last_synced_at is None


# PostgreSQL only: SQLite does not enforce column lengths, so it never refuses the value.
@pytest.mark.parametrize("db_engine", ["postgres"], indirect=True)
@pytest.mark.parametrize("written", ["created", "updated"])
def test_database_refusing_a_value_rolls_back_and_names_nobody(
    db, school, source, plugins, written
):
    assert db.get_bind().dialect.name == "postgresql"
    sync_school(db, school.id, plugins=plugins)
    before = export_school(db, school)
    pupils = list(source.snapshot.pupils)
    # Snapshots refuse what the model's columns cannot hold (core/snapshot.py), so a column
    # narrower than the model (rolled back with the test) stands in for any refusal.
    db.execute(text("ALTER TABLE pupil ALTER COLUMN last_name TYPE varchar(20)"))
    too_long = "Geheimnaam" * 3  # longer than that column
    if written == "updated":
        pupils[4] = replace(pupils[4], last_name=too_long)
    else:
        pupils.append(replace(pupils[4], source_id="4444", eckid=None, last_name=too_long))
    source.change(pupils=tuple(pupils))

    with pytest.raises(StorageError, match="too long") as caught:
        sync_school(db, school.id, plugins=plugins)
    # The re-raised error (what a worker logs, traceback included) names nobody either.
    assert "Geheimnaam" not in str(caught.value)
    assert caught.value.__suppress_context__

    run = last_run(db, school)
    assert run.outcome == "failed"
    assert "too long" in run.error
    assert "Geheimnaam" not in run.error
    assert export_school(db, school) == before


def test_lost_lease_rolls_back(db, school, source, plugins):
    sync_school(db, school.id, plugins=plugins)
    before = export_school(db, school)
    source.change(pupils=source.snapshot.pupils[:-2])  # within the safety budget
    fenced: list[int] = []

    def fence(session, values):  # type: ignore[no-untyped-def]
        fenced.append(1)
        raise LeaseLost(f"school {school.id}: lease taken over by w2")

    with pytest.raises(LeaseLost):
        sync_school(db, school.id, plugins=plugins, fence=fence)

    assert fenced == [1]
    run = last_run(db, school)
    assert run.outcome == "failed"
    assert "lease" in run.error
    assert export_school(db, school) == before


def test_a_fence_that_passes_lets_the_run_commit(db, school, plugins):
    def fence(session, values):  # type: ignore[no-untyped-def]
        return write_school(session, school.id, values)

    run = sync_school(db, school.id, plugins=plugins, fence=fence)
    assert run.outcome == "succeeded"


def test_failing_before_hook_fails_the_run(db, school, source, plugins, plugin):
    def refuse() -> None:
        raise ValueError("plugin says no")

    plugin.on_before = refuse
    with pytest.raises(InternalError, match="plugin says no"):
        sync_school(db, school.id, plugins=plugins)
    run = last_run(db, school)
    assert (run.outcome, run.error) == ("failed", "ValueError: plugin says no")
    assert source.called("fetch_snapshot") == 0


def test_held_plan_is_not_applied(db, school, source, plugins, monkeypatch):
    # The seam another module fills in later; here it always finds a reason.
    monkeypatch.setattr(engine, "check_plan", lambda *a: ["would remove 20 of 20 pupils"])

    run = sync_school(db, school.id, plugins=plugins)

    assert run.outcome == "held"
    assert run.error == "would remove 20 of 20 pupils"
    assert count(db, school, Pupil) == 0
    assert school.last_synced_at is None
