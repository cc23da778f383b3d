"""Every linked school with its latest run, in one statement: the list behind 'koppel schools'."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import School, SyncRun

# The outcome filter's word for a school that has no run yet.
NEVER = "never"


@dataclass(frozen=True, slots=True)
class RosterEntry:
    school: School
    last_run: SyncRun | None

    @property
    def outcome(self) -> str:
        return self.last_run.outcome if self.last_run is not None else NEVER


def roster(
    session: Session,
    *,
    consent: Collection[str] = (),
    outcomes: Collection[str] = (),
) -> list[RosterEntry]:
    """Linked schools by BRIN6, each with its latest run; filtered when ``consent`` or
    ``outcomes`` (run outcomes, or NEVER) are given.

    The latest run is a correlated subquery: one index probe per school
    (ix_sync_run_school_latest), however long the run history.
    """
    latest = (
        select(SyncRun.id)
        .where(SyncRun.school_id == School.id)
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(1)
        .correlate(School)
        .scalar_subquery()
    )
    query = (
        select(School, SyncRun)
        .outerjoin(SyncRun, SyncRun.id == latest)
        .order_by(School.brin, School.location_code)
    )
    if consent:
        query = query.where(School.consent.in_(consent))
    entries = [RosterEntry(school, run) for school, run in session.execute(query)]
    if outcomes:
        entries = [entry for entry in entries if entry.outcome in outcomes]
    return entries
