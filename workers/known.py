"""Schools this worker process knows (source id and stamp), so an unchanged one needs no read.

A nightly message names only the school's id. To ask the source whether the school changed, a
worker needs the school's id at its source and the stamp it holds, which costs a read of the
school first. Most schools on most nights did not change, so a worker keeps what it read:
all stamped schools at once, read again at most every ``RELOAD_SECONDS``; in between, a school
it does not know is read alone (not one it saw unstamped, never synced: a first night). Nothing
here is trusted: core.sync.unchanged.confirm_unchanged checks all of it again in its one
statement, and a school that moved on simply goes the full way.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from core.models import School
from core.sync.unchanged import KnownSchool
from core.sync.work import UnitOfWork

# A process reads its schools at most this often (about 6,500 rows, a few tens of ms).
RELOAD_SECONDS = 300.0

_school = School.__table__
_SYNCABLE = select(
    _school.c.id, _school.c.source, _school.c.source_school_id, _school.c.source_mutated_at
).where(School.syncable)
_ONE = _SYNCABLE.where(
    _school.c.id == bindparam("school_id"), _school.c.source_mutated_at.is_not(None)
)


class KnownSchools:
    """The process's schools by id; thread-safe (a reload swaps the whole mapping).

    What it knows is of one database: a session of another engine (tests, a demo) starts it
    afresh.
    """

    def __init__(self, reload_seconds: float = RELOAD_SECONDS) -> None:
        self.reload_seconds = reload_seconds
        self._schools: dict[int, KnownSchool] = {}
        self._unstamped: set[int] = set()  # syncable, never synced: a first night
        self._loaded_at: float | None = None
        self._engine: object = None
        self._lock = threading.Lock()

    def get(self, session: Session, school_id: int) -> KnownSchool | None:
        """The school if it is stamped and syncable (None: it goes the full way).

        An unknown one reloads all when the last read is old enough, else is read alone; one
        that was unstamped at the last reload is not read again (once: a repeat reads it).
        """
        engine = session.get_bind().engine
        if engine is not self._engine:
            self.clear()
            self._engine = engine
        known = self._schools.get(school_id)
        if known is not None:
            return known
        reloaded = self._due()
        if reloaded:
            with self._lock:
                if self._due():  # another thread may have reloaded while this one waited
                    self._reload(session)
            known = self._schools.get(school_id)
        if school_id in self._unstamped:
            self._unstamped.discard(school_id)  # a repeat of the message reads it
            return None
        if known is not None or reloaded:
            return known
        with UnitOfWork(session).step():
            row = session.execute(_ONE, {"school_id": school_id}).first()
        if row is None:
            return None
        known = self._schools[school_id] = _known(row)
        return known

    def remember(self, known: KnownSchool) -> None:
        """Keep a school the process just found in step (until the next reload)."""
        self._schools[known.id] = known

    def __contains__(self, school_id: int) -> bool:
        return school_id in self._schools

    def forget(self, school_id: int) -> None:
        """Drop a school whose stamp this process just changed or found changed."""
        self._schools.pop(school_id, None)

    def clear(self) -> None:
        """Forget everything and read again at the next message (tests, a new database)."""
        with self._lock:
            self._schools = {}
            self._unstamped = set()
            self._loaded_at = None

    def _due(self) -> bool:
        loaded = self._loaded_at
        return loaded is None or time.monotonic() - loaded >= self.reload_seconds

    def _reload(self, session: Session) -> None:
        with UnitOfWork(session).step():
            rows = session.execute(_SYNCABLE).all()
        self._schools = {r.id: _known(r) for r in rows if r.source_mutated_at is not None}
        self._unstamped = {r.id for r in rows if r.source_mutated_at is None}
        self._loaded_at = time.monotonic()


def _known(row: Row[Any]) -> KnownSchool:
    return KnownSchool(row.id, row.source, row.source_school_id, row.source_mutated_at)
