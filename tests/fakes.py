"""Fakes for external services, in one place: an identity source serving a snapshot you edit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from core.plugins import Plugins, make_plugin_manager
from koppel.plugin import (
    ConnectionCheck,
    ConnectionStatus,
    ConsentChanges,
    GroupKind,
    GroupRecord,
    PupilRecord,
    SchoolInfo,
    SchoolSnapshot,
    SourceCapabilities,
    StaffRecord,
    hookimpl,
)

FAKE_SCHOOL_ID = "900001"


class FakeSource:
    """An identity source serving ``snapshot``; replace it (or call ``change``) between syncs.

    ``calls`` records every method called with its first argument. ``fail`` maps a method name
    to an exception to raise from it (e.g. {"fetch_snapshot": SourceUnavailable("down")}).
    """

    def __init__(
        self,
        snapshot: SchoolSnapshot,
        *,
        name: str = "fake",
        capabilities: SourceCapabilities | None = None,
        stamp: datetime | None = None,
    ) -> None:
        self.name = name
        self.snapshot = snapshot
        self.capabilities = capabilities or SourceCapabilities(networks=True)
        self.stamp = stamp
        self.consent = ConsentChanges()
        self.calls: list[tuple[str, Any]] = []
        self.fail: dict[str, BaseException] = {}

    def change(self, **fields: Any) -> SchoolSnapshot:
        """Replace fields of the served snapshot (dataclasses.replace) and return it."""
        self.snapshot = replace(self.snapshot, **fields)
        return self.snapshot

    def called(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)

    def _call(self, method: str, arg: Any) -> None:
        self.calls.append((method, arg))
        if method in self.fail:
            raise self.fail[method]

    def check_connection(self, brin: str, location_code: str) -> ConnectionCheck:
        self._call("check_connection", f"{brin}{location_code}")
        return ConnectionCheck(ConnectionStatus.CONNECTED, self.snapshot.school)

    def fetch_snapshot(self, source_school_id: str) -> SchoolSnapshot:
        self._call("fetch_snapshot", source_school_id)
        return self.snapshot

    def latest_change(self, source_school_id: str) -> datetime | None:
        self._call("latest_change", source_school_id)
        return self.stamp

    def consent_changes(self, day: date) -> ConsentChanges:
        self._call("consent_changes", day)
        return self.consent

    def give_up_consent(self, source_school_id: str) -> None:
        self._call("give_up_consent", source_school_id)


class FakeSourcePlugin:
    """A plugin registering one FakeSource and recording the sync lifecycle hooks it sees."""

    def __init__(self, source: FakeSource) -> None:
        self.source = source
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.on_before: Callable[[], None] | None = None

    @hookimpl
    def koppel_register_identity_sources(self, register: Callable[[Any], None]) -> None:
        register(self.source)

    @hookimpl
    def koppel_before_school_sync(self, school_id: int, source: str, run_id: int) -> None:
        self.events.append(("before", {"school_id": school_id, "run_id": run_id}))
        if self.on_before is not None:
            self.on_before()

    @hookimpl
    def koppel_after_school_sync(
        self, school_id: int, source: str, run_id: int, outcome: str, counts: Any
    ) -> None:
        self.events.append(("after", {"run_id": run_id, "outcome": outcome, "counts": counts}))


def fake_plugins(source: FakeSource) -> tuple[Plugins, FakeSourcePlugin]:
    """Plugins with only the fake source (no entry points), and the plugin to inspect."""
    plugin = FakeSourcePlugin(source)
    return Plugins(make_plugin_manager(entry_points=False, extra=[plugin])), plugin


def make_snapshot(
    pupils: int = 20,
    staff: int = 3,
    groups: int = 4,
    *,
    source_school_id: str = FAKE_SCHOOL_ID,
    networks: tuple[str, ...] | None = ("192.0.2.0/24",),
    mutated_at: datetime | None = None,
) -> SchoolSnapshot:
    """A made-up school: ``groups`` classes with one sub-group each, pupils spread over them."""
    group_records = [
        GroupRecord(key=f"G{g}", kind=GroupKind.GROUP, name=f"Groep {g}", year_group=g % 8 + 1)
        for g in range(groups)
    ] + [
        GroupRecord(key=f"S{g}", kind=GroupKind.SUBGROUP, name=f"Leesgroep {g}")
        for g in range(groups)
    ]
    pupil_records = [
        PupilRecord(
            source_id=str(1000 + p),
            eckid=f"https://ketenid.nl/201703/pupil{p}",
            las_key=f"L{p}",
            first_name=f"Kind{p}",
            last_name=f"Achternaam{p}",
            initials="K.",
            year_group=(p % groups) % 8 + 1,
            group_key=f"G{p % groups}",
            subgroup_keys=(f"S{p % groups}",),
        )
        for p in range(pupils)
    ]
    staff_records = [
        StaffRecord(
            source_id=str(5000 + s),
            eckid=f"https://ketenid.nl/201703/staff{s}",
            las_key=f"M{s}",
            first_name=f"Juf{s}",
            prefix="van",
            last_name=f"Leraar{s}",
            email=f"leraar{s}@school.example",
            roles=("Leerkracht",),
            group_keys=(f"G{s % groups}",),
            subgroup_keys=(f"S{s % groups}",),
        )
        for s in range(staff)
    ]
    return SchoolSnapshot(
        school=SchoolInfo(
            source_school_id=source_school_id,
            name="De Fakeschool",
            brin="99ZZ",
            location_code="00",
            ref="ref-fake",
        ),
        groups=tuple(group_records),
        pupils=tuple(pupil_records),
        staff=tuple(staff_records),
        networks=networks,
        mutated_at=mutated_at or datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
    )
