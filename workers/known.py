"""Schools this worker process knows (source id and stamp), so an unchanged one needs no probe.

A nightly message names only the school's id. To ask the source whether the school changed, a
worker needs the school's id at its source and the stamp it holds, which costs a read of the
school first. Most schools on most nights did not change, so a worker keeps what it read:
all stamped schools at once, read again at most every ``RELOAD_SECONDS`` when a message names
one it does not know. Nothing here is trusted: core.sync.unchanged.confirm_known compares all
of it again in its one statement, and a school that moved on simply goes the usual way.

The same read notes the linked schools that have no stamp yet (never synced: a first night),
for which a message's first read could not find anything to confirm and is skipped once.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import single_statements
from core.models import School
from core.sync.unchanged import KnownSchool

# A process reads its schools at most this often (about 6,500 rows, a few tens of ms).
RELOAD_SECONDS = 300.0

_school = School.__table__
_LINKED = select(
    _school.c.id, _school.c.source, _school.c.source_school_id, _school.c.source_mutated_at
).where(
    _school.c.consent == "granted",
    _school.c.active.is_(True),
    _school.c.merged_into_source_id.is_(None),
)


class KnownSchools:
    """The process's schools by id; thread-safe (a reload swaps the whole mapping)."""

    def __init__(self, reload_seconds: float = RELOAD_SECONDS) -> None:
        self.reload_seconds = reload_seconds
        self._schools: dict[int, KnownSchool] = {}
        self._unstamped: set[int] = set()
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def get(self, session: Session, school_id: int) -> KnownSchool | None:
        """The school if known; an unknown one reloads all when the last read is old enough."""
        known = self._schools.get(school_id)
        if known is None and self._due():
            with self._lock:
                if self._due():  # another thread may have reloaded while this one waited
                    self._reload(session)
            known = self._schools.get(school_id)
        return known

    def remember(self, known: KnownSchool) -> None:
        """Keep a school the process just found in step (until the next reload)."""
        self._schools[known.id] = known

    def never_stamped(self, school_id: int) -> bool:
        """Had the school no stamp when the process last read its schools (see get)? True once.

        A hint only (another process may have synced it since): a message that trusts it
        skips its first read, and its read under the lease still sees everything.
        """
        unstamped = self._unstamped
        if school_id not in unstamped:
            return False
        unstamped.discard(school_id)  # a repeat of the message reads first, as any other
        return True

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
        with single_statements(session):
            rows = session.execute(_LINKED).all()
        self._schools = {row[0]: KnownSchool(*row) for row in rows if row[3] is not None}
        self._unstamped = {row[0] for row in rows if row[3] is None}
        self._loaded_at = time.monotonic()


known_schools = KnownSchools()
