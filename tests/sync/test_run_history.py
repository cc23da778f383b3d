"""A school's runs pile up night after night: its per-message questions stay index probes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.dialects.postgresql import psycopg
from sqlalchemy.orm import Session

from core.db import constant
from core.models import School, SyncRun, utcnow
from core.sync.unchanged import DECISION
from tests.conftest import POSTGRES
from tests.workers.factories import add_school

_run = SyncRun.__table__

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


def _with_history(db: Session) -> School:
    """A school with more than a year of nightly runs, the statistics brought up to date."""
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
    return school


def test_the_latest_run_and_a_running_one_are_found_without_reading_the_history(
    db: Session,
) -> None:
    school = _with_history(db)
    now = utcnow()
    params = {"school_id": school.id, "since": now, "now": now, "token": None}
    known = {"known_source": "basispoort", "known_source_school_id": "1", "stamp": now}
    for statement in (DECISION,):
        plan = _plan(db, statement, {**params, **known})
        assert "ix_sync_run_school_latest" in plan, plan  # the latest run, read backwards
        assert "ix_sync_run_running" in plan, plan  # only running rows are looked at
        assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan  # no sort of all runs


def _generic_plan(db: Session, statement, literals: dict[str, str]) -> str:  # type: ignore[no-untyped-def]
    """PostgreSQL's plan for ``statement`` prepared once and planned for any parameters, as a
    worker's psycopg connection plans a statement it runs again and again."""
    compiled = statement.compile(dialect=psycopg.dialect(paramstyle="numeric_dollar"))
    connection = db.connection()
    connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    connection.exec_driver_sql(f"PREPARE hot AS {compiled.string}")
    try:
        values = ", ".join(literals[name] for name in compiled.positiontup)  # type: ignore[union-attr]
        rows = connection.exec_driver_sql(f"EXPLAIN EXECUTE hot({values})")
        return "\n".join(row[0] for row in rows)
    finally:
        connection.exec_driver_sql("DEALLOCATE hot")


@pytest.mark.parametrize("db_engine", [POSTGRES], indirect=True)
def test_the_decision_finds_running_runs_by_their_index_in_a_generic_plan(db: Session) -> None:
    # A generic plan can use the partial index on running runs only when 'running' is written
    # into the SQL (core.db.constant); sent as a parameter, PostgreSQL re-planned every
    # execution (measured: 0.68-0.82 ms of its CPU per unchanged message after a year of runs,
    # 0.27-0.31 with the generic plan).
    school = _with_history(db)
    literals = {
        "now": "now()",
        "stamp": "now()",
        "since": "now()",
        "school_id": str(school.id),
        "known_source": "'basispoort'",
        "known_source_school_id": "'1'",
        "consent_1": "'granted'",
        "param_1": "1",
        "token": "NULL",
        "outcome": "'running'",
    }
    assert "ix_sync_run_running" in _generic_plan(db, DECISION, literals)
    # The same question with the outcome as a parameter: the index is out of the plan's reach.
    running = select(_run.c.id).where(
        _run.c.school_id == bindparam("school_id"), _run.c.outcome == bindparam("outcome")
    )
    assert "ix_sync_run_running" not in _generic_plan(db, running, literals)


def test_only_plain_words_become_constants() -> None:
    with pytest.raises(ValueError, match="plain word"):
        constant("x' OR '1'='1")
