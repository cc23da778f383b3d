"""Recording sync runs: starting and finishing them, describing failures safely."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import bindparam, insert, update
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, make_transient_to_detached

from core.db import follow_loaded
from core.errors import KoppelError
from core.models import Outcome, SyncRun, utcnow

log = structlog.get_logger()

_run = SyncRun.__table__
# Built once: they run for every message; the values come as parameters.
_INSERT = insert(_run).returning(_run.c.id)
_END = update(_run).where(_run.c.id == bindparam("run_id"))

# Outcomes after which the stored data is what the source served at the stored mutation stamp.
GOOD_OUTCOMES = (Outcome.SUCCEEDED, Outcome.UNCHANGED)

ERROR_LIMIT = 500


def describe_error(exc: BaseException) -> str:
    """A short text for the run's ``error``: our errors as they are, others without their data.

    Other errors keep their class and first line: SQLAlchemy's text repeats the statement's
    parameters and PostgreSQL's DETAIL/CONTEXT lines quote the row, both of which hold names.
    """
    if isinstance(exc, KoppelError):
        text = str(exc)
    else:
        if isinstance(exc, StatementError) and exc.orig is not None:
            exc = exc.orig
        # Drivers put the offending row in later lines (DETAIL, CONTEXT): only the first stays.
        lines = str(exc).strip().splitlines()
        text = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    return text if len(text) <= ERROR_LIMIT else text[: ERROR_LIMIT - 1] + "…"


def finish_run(
    run: SyncRun,
    outcome: Outcome,
    counts: dict[str, int] | None = None,
    error: str | None = None,
) -> None:
    """Set the run's outcome, counts, error and finish time (the caller commits)."""
    run.outcome = str(outcome)
    run.counts = dict(counts or {})
    run.error = error
    run.finished_at = utcnow()


def start_run(session: Session, school_id: int, trigger: str, worker: str | None) -> SyncRun:
    """Insert the school's run as 'running' (the caller commits) and return it."""
    return insert_run(session, SyncRun(**new_run_values(school_id, trigger, worker)))


def insert_run(session: Session, run: SyncRun) -> SyncRun:
    """Insert ``run`` (not stored yet) and return it, in the session as if loaded.

    A Core insert; neither the run nor a later session.get needs another SELECT (while the
    caller holds it: the session's identity map is weak).
    """
    return attach_run(session, run, insert_run_values(session, run_values(run)))


def insert_run_values(session: Session, values: dict[str, object]) -> int:
    """Insert a run from its column values (new_run_values); returns its id."""
    return int(session.execute(_INSERT, values).scalar_one())


def new_run_values(
    school_id: int,
    trigger: str,
    worker: str | None,
    outcome: Outcome = Outcome.RUNNING,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
) -> dict[str, object]:
    """A new run's column values, without its id: for a Core insert, or ``SyncRun(**values)``."""
    return {
        "school_id": school_id,
        "trigger": trigger,
        "worker": worker,
        "started_at": started_at or utcnow(),
        "finished_at": finished_at,
        "outcome": str(outcome),
        "counts": {},
        "error": None,
    }


def run_values(run: SyncRun) -> dict[str, object]:
    """The run's column values for an insert, without its id."""
    return {c.key: getattr(run, c.key) for c in _run.columns if c.key != "id"}


def attach_run(session: Session, run: SyncRun, run_id: int) -> SyncRun:
    """Place a run just inserted under ``run_id`` in the session as if loaded; returns it."""
    run.id = run_id
    make_transient_to_detached(run)
    session.add(run)
    return run


def end_run(
    session: Session,
    run_id: int,
    outcome: Outcome,
    counts: dict[str, int] | None = None,
    error: str | None = None,
    finished_at: datetime | None = None,
) -> None:
    """Finish a run by id with one UPDATE (the caller commits); a loaded copy follows suit."""
    values = {
        "outcome": str(outcome),
        "counts": dict(counts or {}),
        "error": error,
        "finished_at": finished_at or utcnow(),
    }
    session.execute(_END, {**values, "run_id": run_id})
    follow_loaded(session, SyncRun, run_id, values)


def record_failure(session: Session, run_id: int, error: str) -> None:
    """After a rollback: store the run as failed and commit; never mask the original error."""
    try:
        end_run(session, run_id, Outcome.FAILED, error=error)
        session.commit()
    except Exception as exc:
        # The database is down, most likely: the run stays 'running' until the message's retry
        # (or the school's next lease holder) closes it. One line; a traceback tells no more.
        log.warning("sync_run_not_recorded", run_id=run_id, error=describe_error(exc))
        session.rollback()
