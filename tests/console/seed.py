"""Schools, runs and nights for the console tests: ids and counts, no people needed."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core.models import School, SyncRun

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def add_school(session: Session, name: str = "Basisschool De Test", **fields: object) -> School:
    brin = f"{secrets.randbelow(90) + 10}{secrets.token_hex(1).upper()}"
    school = School(
        brin=brin,
        location_code=f"{secrets.randbelow(100):02d}",
        name=name,
        source="basispoort",
        source_school_id=str(secrets.randbelow(10**12)),
        **{"consent": "granted", **fields},
    )
    session.add(school)
    session.flush()
    return school


def add_run(
    session: Session,
    school: School,
    outcome: str,
    started: datetime,
    minutes: float = 1,
    error: str | None = None,
    trigger: str = "nightly",
) -> SyncRun:
    run = SyncRun(
        school_id=school.id,
        trigger=trigger,
        outcome=outcome,
        started_at=started,
        finished_at=started + timedelta(minutes=minutes),
        counts={},
        error=error,
    )
    session.add(run)
    session.flush()
    return run


def night_start(nights_ago: int, now: datetime | None = None) -> datetime:
    """01:00 Amsterdam time of a night (0: the last one), in UTC."""
    local = (now or datetime.now(UTC)).astimezone(AMSTERDAM)
    if local.hour >= 12:
        local += timedelta(days=1)
    day = local.date() - timedelta(days=nights_ago)
    return datetime(day.year, day.month, day.day, 1, 0, tzinfo=AMSTERDAM).astimezone(UTC)
