"""The last nights at a glance: per night, how the nightly runs ended and how long it took.

A night is named by the date of its morning in the schools' time zone and runs from noon the
day before to noon (the nightly window, 01:00-05:00, lies well inside it). Only runs the
scheduler started count (trigger 'nightly'); its duration is from the first run's start to
the last run's end. One statement, whatever the number of schools: the night of each run is
picked by comparing its start with the nights' bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from core.models import SyncRun, utcnow

NIGHTLY = "nightly"
NOON = time(12, 0)


@dataclass(slots=True)
class Night:
    day: date  # the morning's date
    outcomes: dict[str, int] = field(default_factory=dict)
    first_start: datetime | None = None
    last_end: datetime | None = None

    @property
    def runs(self) -> int:
        return sum(self.outcomes.values())

    @property
    def minutes(self) -> float | None:
        """From the first run's start to the last one's end; None without a finished run."""
        if self.first_start is None or self.last_end is None:
            return None
        return max(0.0, (self.last_end - self.first_start).total_seconds() / 60)


def recent_nights(
    session: Session, zone: ZoneInfo, nights: int = 30, now: datetime | None = None
) -> list[Night]:
    """The last ``nights`` nights, oldest first; the latest is the one going on now: before
    noon the one ending this noon, after noon the one ending tomorrow's (whose window may start
    before midnight, KOPPEL_SCHEDULER_WINDOW_START)."""
    now = now or utcnow()
    local = now.astimezone(zone)
    last = local.date() if local.time() < NOON else local.date() + timedelta(days=1)
    days = [last - timedelta(days=n) for n in range(nights - 1, -1, -1)]
    # bounds[i] is the noon before night i; bounds[i + 1] the noon that ends it.
    bounds = [_noon(days[0] - timedelta(days=1), zone)] + [_noon(day, zone) for day in days]
    night = case(
        *((SyncRun.started_at < bound, literal(i - 1)) for i, bound in enumerate(bounds[1:], 1)),
        else_=literal(-1),
    )
    rows = session.execute(
        select(
            night.label("night"),
            SyncRun.outcome,
            func.count(),
            func.min(SyncRun.started_at),
            func.max(SyncRun.finished_at),
        )
        .where(
            SyncRun.trigger == NIGHTLY,
            SyncRun.started_at >= bounds[0],
            SyncRun.started_at < bounds[-1],
        )
        .group_by(night, SyncRun.outcome)
    ).all()
    found = [Night(day) for day in days]
    for index, outcome, count, first, last_end in rows:
        if not 0 <= index < len(found):
            continue
        entry = found[index]
        entry.outcomes[outcome] = count
        first, last_end = _aware(first), _aware(last_end)
        if first is not None and (entry.first_start is None or first < entry.first_start):
            entry.first_start = first
        if last_end is not None and (entry.last_end is None or last_end > entry.last_end):
            entry.last_end = last_end
    return found


def _noon(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, NOON, tzinfo=zone)


def _aware(moment: datetime | str | None) -> datetime | None:
    """Aggregates bypass the column type: SQLite gives text or naive UTC, PostgreSQL aware."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo("UTC"))
