"""A tiny in-memory identity source that keeps every promise, and the upstream it reads."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from core.connection import ConnectionCheck, ConnectionStatus
from core.errors import SourceDataError, SourceRefused, SourceUnavailable
from core.snapshot import (
    ConsentChanges,
    GroupKind,
    GroupRecord,
    PupilRecord,
    SchoolInfo,
    SchoolSnapshot,
    SourceCapabilities,
    StaffRecord,
)
from koppel.testing import KitPerson, Roster

SCHOOL = "mem-1"
DAY = date(2026, 1, 5)


class MemoryUpstream:
    """One school's roster in memory, a change stamp that moves with it, a consent feed."""

    brin6 = "99AA00"

    def __init__(self) -> None:
        self.roster = Roster((), ())
        self.failure: str | None = None
        self.stamp = datetime(2026, 1, 5, 8, tzinfo=UTC)
        self.consent = True
        self.granted: list[str] = []
        self.revoked: list[str] = []
        self.ids: dict[str, str] = {}

    def serve(self, roster: Roster) -> None:
        for person in roster.people:
            self.ids.setdefault(person.key, f"mem-{len(self.ids) + 1}")
        self.roster = roster
        self.stamp += timedelta(seconds=1)

    def fail(self, failure: str | None) -> bool:
        self.failure = failure
        return True

    def set_consent(self, granted: bool) -> date:
        if granted != self.consent:
            self.consent = granted
            (self.granted if granted else self.revoked).append(SCHOOL)
        return DAY

    def read(self) -> Roster:
        """What a request to the upstream gets, or the error its client raises."""
        if self.failure == "unreachable":
            raise SourceUnavailable("the memory upstream is down")
        if self.failure == "refused" or not self.consent:
            raise SourceRefused("the memory upstream refused us")
        if self.failure == "garbled":
            raise SourceDataError("the memory upstream answered garbage")
        return self.roster


class MemorySource:
    """Reads MemoryUpstream; the base the broken sources in broken_sources.py each bend once."""

    name = "memory"
    capabilities = SourceCapabilities(
        complete_snapshots=True, change_stamps=True, consent_feed=True
    )

    def __init__(self, upstream: MemoryUpstream) -> None:
        self.upstream = upstream

    def check_connection(self, brin: str, location_code: str) -> ConnectionCheck:
        if brin + location_code != self.upstream.brin6:
            return ConnectionCheck(ConnectionStatus.NOT_FOUND)
        info = SchoolInfo(SCHOOL, "Kitschool", brin, location_code)
        if not self.upstream.consent:
            return ConnectionCheck(ConnectionStatus.NO_CONSENT, info)
        return ConnectionCheck(ConnectionStatus.CONNECTED, info)

    def latest_change(self, source_school_id: str) -> datetime | None:
        return self.upstream.stamp

    def fetch_snapshot(self, source_school_id: str) -> SchoolSnapshot:
        stamp = self.upstream.stamp
        roster = self.upstream.read()
        return SchoolSnapshot(
            school=SchoolInfo(SCHOOL, "Kitschool", self.upstream.brin6[:4], "00"),
            groups=tuple(
                GroupRecord(g.key, GroupKind.GROUP, g.name, g.year_group, self.describe(g.key))
                for g in roster.groups
            ),
            pupils=tuple(self.pupil(p) for p in roster.of_kind("pupil")),
            staff=tuple(self.staff(p) for p in roster.of_kind("staff")),
            mutated_at=stamp,
            complete=True,
        )

    def describe(self, group_key: str) -> str | None:
        return None

    def source_id(self, person: KitPerson) -> str:
        return self.upstream.ids[person.key]

    def pupil(self, p: KitPerson) -> PupilRecord:
        return PupilRecord(
            self.source_id(p), **self._named(p), year_group=p.year_group, group_key=p.group
        )

    def staff(self, p: KitPerson) -> StaffRecord:
        return StaffRecord(self.source_id(p), **self._named(p), email=p.email, roles=self.roles(p))

    @staticmethod
    def _named(p: KitPerson) -> dict[str, Any]:
        """The fields pupil and staff records share."""
        return {
            "eckid": p.eckid,
            "first_name": p.first_name,
            "prefix": p.prefix,
            "last_name": p.last_name,
        }

    def roles(self, p: KitPerson) -> tuple[str, ...]:
        return p.roles

    def consent_changes(self, day: date) -> ConsentChanges:
        if day != DAY:
            return ConsentChanges()
        granted = [s for s in self.upstream.granted if self.upstream.consent]
        revoked = [s for s in self.upstream.revoked if not self.upstream.consent]
        return ConsentChanges(
            granted=tuple(dict.fromkeys(granted)), revoked=tuple(dict.fromkeys(revoked))
        )

    def give_up_consent(self, source_school_id: str) -> None:
        self.upstream.consent = False
