"""Recording sync runs: finishing them, reading the last outcome, describing failures safely."""

from __future__ import annotations

import structlog
from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from core.errors import KoppelError
from core.models import SyncRun, utcnow

log = structlog.get_logger()

# Outcomes after which the stored data is what the source served at the stored mutation stamp.
GOOD_OUTCOMES = ("succeeded", "unchanged")

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
    outcome: str,
    counts: dict[str, int] | None = None,
    error: str | None = None,
) -> None:
    """Set the run's outcome, counts, error and finish time (the caller commits)."""
    run.outcome = outcome
    run.counts = dict(counts or {})
    run.error = error
    run.finished_at = utcnow()


def record_failure(session: Session, run: SyncRun, error: str) -> None:
    """After a rollback: store the run as failed and commit; never mask the original error."""
    try:
        finish_run(run, "failed", {}, error)
        session.commit()
    except Exception:
        log.exception("sync_run_not_recorded", run_id=run.id)
        session.rollback()


def last_outcome(session: Session, school_id: int, before_run_id: int) -> str | None:
    """The outcome of the school's latest finished run other than ``before_run_id``."""
    return session.scalars(
        select(SyncRun.outcome)
        .where(
            SyncRun.school_id == school_id,
            SyncRun.id != before_run_id,
            SyncRun.outcome != "running",
        )
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(1)
    ).first()
