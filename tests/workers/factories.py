"""Rows and sources the worker tests need: schools, their runs, a fake source for many schools."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.models import Pupil, School, SyncRun, utcnow
from core.snapshot import SchoolSnapshot
from tests.fakes import FakeSource, make_snapshot


def add_school(session: Session, *, consent: str = "granted", active: bool = True) -> School:
    """A school with a unique BRIN6 and source id; flushed, not committed."""
    code = uuid.uuid4().hex
    school = School(
        brin=f"{int(code[:2], 16) % 90 + 10:02d}{code[2:4].upper()}",
        location_code=f"{int(code[4:6], 16) % 100:02d}",
        source="basispoort",
        source_school_id=str(int(code[6:18], 16)),
        consent=consent,
        active=active,
    )
    session.add(school)
    session.flush()
    return school


def linked_school(sessions: sessionmaker[Session], *, consent: str = "granted") -> int:
    """A committed school on the fake source; returns its id."""
    with sessions() as s:
        school = add_school(s, consent=consent)
        school.source = "fake"
        s.commit()
        return school.id


def runs_of(sessions: sessionmaker[Session], school_id: int) -> list[SyncRun]:
    """The school's sync runs, oldest first."""
    with sessions() as s:
        return list(
            s.scalars(select(SyncRun).where(SyncRun.school_id == school_id).order_by(SyncRun.id))
        )


class SchoolsSource(FakeSource):
    """The fake source serving a small snapshot for every school; some can be made to fail."""

    def __init__(self) -> None:
        super().__init__(make_snapshot(pupils=5, staff=2, groups=2))
        self.failing: dict[str, BaseException] = {}

    def fetch_snapshot(self, source_school_id: str) -> SchoolSnapshot:
        self._call("fetch_snapshot", source_school_id)
        if source_school_id in self.failing:
            raise self.failing[source_school_id]
        return make_snapshot(pupils=5, staff=2, groups=2, source_school_id=source_school_id)

    def latest_change(self, source_school_id: str) -> datetime | None:
        self._call("latest_change", source_school_id)
        return None  # unknown: always fetch


class FakeClock:
    """A clock the test moves by hand, so expiry needs no sleeping."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def lapse(sessions: sessionmaker[Session], school_id: int, owner: str) -> None:
    """Let ``owner``'s lease on the school lapse now, as its clock says (no waiting)."""
    from core import lease

    clock = FakeClock()
    clock.advance(-3600)
    with sessions() as s:
        lease.acquire(s, school_id, owner, 1, clock=clock)


def pupils_of(sessions: sessionmaker[Session], school_id: int) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).where(Pupil.school_id == school_id)) or 0
