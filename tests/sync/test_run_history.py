"""A school's runs pile up night after night: its per-message questions stay index probes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from core.models import SyncRun, utcnow
from core.sync.unchanged import _CONFIRM_KNOWN, _PROBE
from tests.workers.factories import add_school

NIGHTS = 400  # more than a year of nightly runs


def _plan(db: Session, statement, params: dict) -> str:  # type: ignore[no-untyped-def]
    connection = db.connection()
    compiled = statement.compile(dialect=connection.dialect)
    values = {**compiled.params, **params}
    if connection.dialect.name == "postgresql":
        rows = connection.exec_driver_sql("EXPLAIN " + compiled.string, values)
        return "\n".join(row[0] for row in rows)
    ordered = tuple(values[name] for name in compiled.positiontup)  # type: ignore[union-attr]
    rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled.string, ordered)
    return "\n".join(str(row[-1]) for row in rows)


def test_the_latest_run_and_a_running_one_are_found_without_reading_the_history(
    db: Session,
) -> None:
    school = add_school(db)
    now = utcnow()
    db.execute(
        insert(SyncRun),
        [
            {
                "school_id": school.id,
                "trigger": "nightly",
                "started_at": now - timedelta(days=n),
                "outcome": "unchanged",
                "counts": {},
            }
            for n in range(1, NIGHTS + 1)
        ],
    )
    db.execute(text("ANALYZE"))
    params = {"school_id": school.id, "since": now, "now": now}
    for statement, extra in (
        (_PROBE, {}),
        (
            _CONFIRM_KNOWN,
            {"known_source": "basispoort", "known_source_school_id": "1", "stamp": now},
        ),
    ):
        plan = _plan(db, statement, {**params, **extra})
        assert "ix_sync_run_school_latest" in plan, plan  # the latest run, read backwards
        assert "ix_sync_run_running" in plan, plan  # only running rows are looked at
        assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan  # no sort of all runs
