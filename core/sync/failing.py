"""Schools whose latest sync runs all failed, and how many in a row: what an alert watches."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.db import constant
from core.models import Outcome, School, SyncRun
from core.sync.state import last_outcome

_school = School.__table__
_run = SyncRun.__table__
# How the school's latest finished run ended (one index probe per school).
_last_outcome = last_outcome()


@dataclass(frozen=True, slots=True)
class FailingSchool:
    brin6: str
    failures: int  # failed runs since the last run that did not fail, retries included


def failing_schools(session: Session) -> list[FailingSchool]:
    """Every school whose latest finished run failed, the longest streak first."""
    ended = _run.alias("ended")  # not to be correlated with the failed runs counted
    last_not_failed = (
        select(func.max(ended.c.started_at))
        .where(
            ended.c.school_id == _school.c.id,
            ended.c.outcome.not_in((constant(Outcome.FAILED), constant(Outcome.RUNNING))),
        )
        .correlate_except(ended)  # the school two levels up
        .scalar_subquery()
    )
    failures = (
        select(func.count())
        .where(
            _run.c.school_id == _school.c.id,
            _run.c.outcome == constant(Outcome.FAILED),
            or_(last_not_failed.is_(None), _run.c.started_at > last_not_failed),
        )
        .scalar_subquery()
    )
    rows = session.execute(
        select(_school.c.brin, _school.c.location_code, failures).where(
            _last_outcome == constant(Outcome.FAILED)
        )
    )
    found = [FailingSchool(f"{brin}{location}", int(n)) for brin, location, n in rows]
    return sorted(found, key=lambda school: (-school.failures, school.brin6))
