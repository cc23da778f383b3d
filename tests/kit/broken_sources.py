"""Sources that each break one of the kit's rules, the way real sources go wrong."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime

import structlog

from core.snapshot import ConsentChanges, SchoolSnapshot
from koppel.testing import KitPerson, Rule
from tests.kit.memory_source import MemorySource

log = structlog.get_logger()


class LosesTheLastPage(MemorySource):
    """Forgets the last pupil (a paging bug) yet calls the snapshot complete."""

    def fetch_snapshot(self, source_school_id: str) -> SchoolSnapshot:
        snapshot = super().fetch_snapshot(source_school_id)
        return replace(snapshot, pupils=snapshot.pupils[:-1])


class NewIdsEachFetch(MemorySource):
    """Makes up a person's id on every read (a row number, a random key)."""

    def source_id(self, person: KitPerson) -> str:
        return uuid.uuid4().hex


class StampsEveryGroup(MemorySource):
    """Writes the fetch time into each group's description: every sync changes every group."""

    def describe(self, group_key: str) -> str | None:
        return f"gelezen om {datetime.now(UTC).isoformat()}"


class NeverForgets(MemorySource):
    """Keeps everybody it ever read (a cache merged with each fetch): leavers never leave."""

    def __init__(self, upstream) -> None:  # type: ignore[no-untyped-def]
        super().__init__(upstream)
        self.seen: dict[str, KitPerson] = {}

    def fetch_snapshot(self, source_school_id: str) -> SchoolSnapshot:
        roster = self.upstream.read()
        self.seen.update((p.key, p) for p in roster.people)
        kept = replace(roster, people=tuple(self.seen.values()))
        served, self.upstream.roster = self.upstream.roster, kept
        try:
            return super().fetch_snapshot(source_school_id)
        finally:
            self.upstream.roster = served


ROLES = {"Leerkracht": "teacher", "Directeur": "director"}


class MapsRolesStrictly(MemorySource):
    """Looks every role up in its own table: an unknown role is a KeyError."""

    def roles(self, p: KitPerson) -> tuple[str, ...]:
        return tuple(ROLES[r] for r in p.roles)


class FrozenStamp(MemorySource):
    """Reports one change stamp forever: koppel thinks the school never changes."""

    def latest_change(self, source_school_id: str) -> datetime | None:
        return datetime(2026, 1, 1, tzinfo=UTC)

    def fetch_snapshot(self, source_school_id: str) -> SchoolSnapshot:
        return replace(super().fetch_snapshot(source_school_id), mutated_at=self.latest_change(""))


class ListsBothWays(MemorySource):
    """Lists every school that changed consent that day as granted and as revoked."""

    def consent_changes(self, day: date) -> ConsentChanges:
        changed = tuple(dict.fromkeys(self.upstream.granted + self.upstream.revoked))
        return ConsentChanges(granted=changed, revoked=changed)


class LogsNames(MemorySource):
    """Logs each pupil it reads by name, 'for debugging'."""

    def fetch_snapshot(self, source_school_id: str) -> SchoolSnapshot:
        snapshot = super().fetch_snapshot(source_school_id)
        for pupil in snapshot.pupils:
            log.debug("pupil_read", pupil=f"{pupil.first_name} {pupil.last_name}")
        return snapshot


BROKEN = {
    Rule.COMPLETE: LosesTheLastPage,
    Rule.STABLE_IDS: NewIdsEachFetch,
    Rule.IDEMPOTENT: StampsEveryGroup,
    Rule.TOMBSTONES: NeverForgets,
    Rule.ODD_INPUT: MapsRolesStrictly,
    Rule.CHANGE_STAMPS: FrozenStamp,
    Rule.CONSENT: ListsBothWays,
    Rule.PRIVACY: LogsNames,
}
