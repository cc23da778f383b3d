"""The identity source: schools found by BRIN6 in the zips dropped in one directory.

A school's source id is its BRIN6 (the org's ``identifier``): sourcedIds are only unique
within one producer's export, and each school's zip may come from another producer. When
several zips name the school, the newest (by modification time) is read: a new drop wins, even
one marking the school ``tobedeleted`` (its consent withdrawn).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog

from koppel.plugin import (
    ConnectionCheck,
    ConnectionStatus,
    ConsentChanges,
    SchoolInfo,
    SchoolSnapshot,
    SourceCapabilities,
    SourceDataError,
    SourceRefused,
    SourceUnavailable,
)
from koppel_oneroster import school
from koppel_oneroster.package import Package, Row, read_package

log = structlog.get_logger()
SCHOOL_TIME = ZoneInfo("Europe/Amsterdam")  # the calendar whose days the consent feed lists


class OneRosterSource:
    """OneRoster 1.2 CSV bulk zips in ``directory``, one per school or one for several."""

    name = "oneroster"
    # A bulk package lists everyone, so someone missing from it has left; a zip's modification
    # time is its change stamp; the zips dropped on a day are that day's consent changes.
    capabilities = SourceCapabilities(
        complete_snapshots=True, change_stamps=True, consent_feed=True
    )

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def check_connection(self, brin: str, location_code: str) -> ConnectionCheck:
        brin6 = (brin + location_code).upper()
        found = self._find(brin6)
        if found is None:
            return ConnectionCheck(ConnectionStatus.NOT_FOUND)
        package, org = found
        log.info("oneroster_school_found", brin6=brin6, package=package.path.name)
        info = SchoolInfo(brin6, org["name"].strip() or None, brin6[:4], brin6[4:])
        if school.gone(org):
            return ConnectionCheck(ConnectionStatus.NO_CONSENT, info)
        return ConnectionCheck(ConnectionStatus.CONNECTED, info)

    def fetch_snapshot(self, source_school_id: str) -> SchoolSnapshot:
        brin6 = source_school_id.upper()
        found = self._find(brin6)
        if found is None:
            raise SourceRefused(
                f"no OneRoster zip in the directory holds school {brin6}",
                hint="drop the school's OneRoster CSV export (a zip) in KOPPEL_ONEROSTER_DIR; "
                "the school keeps its last good data meanwhile",
            )
        package, org = found
        if school.gone(org):
            raise SourceRefused(
                f"{package.path.name} marks school {brin6} tobedeleted: its data was withdrawn",
                hint="the consent sweep records the revocation; drop a new export to resume",
            )
        return school.snapshot(package, org, brin6)

    def latest_change(self, source_school_id: str) -> datetime | None:
        found = self._find(source_school_id.upper())
        return None if found is None else found[0].stamp

    def consent_changes(self, day: date) -> ConsentChanges:
        """The schools in the zips dropped on ``day`` (Europe/Amsterdam), each as its newest
        zip has it: an org listed grants consent, an org marked tobedeleted revokes it."""
        newest: dict[str, tuple[Package, Row]] = {}
        for package, orgs in self._packages():
            for brin6, org in orgs.items():
                newest.setdefault(brin6, (package, org))
        granted, revoked = [], []
        for brin6, (package, org) in sorted(newest.items()):
            if package.stamp.astimezone(SCHOOL_TIME).date() == day:
                (revoked if school.gone(org) else granted).append(brin6)
        return ConsentChanges(granted=tuple(granted), revoked=tuple(revoked))

    def give_up_consent(self, source_school_id: str) -> None:
        # Nobody to tell: the operator removes the school's zip (see README).
        log.info("oneroster_consent_given_up", source_school_id=source_school_id)

    def _find(self, brin6: str) -> tuple[Package, Row] | None:
        """The newest package naming ``brin6`` (listed or marked tobedeleted), and its org."""
        for package, orgs in self._packages():
            if brin6 in orgs:
                return package, orgs[brin6]
        return None

    def _packages(self) -> Iterator[tuple[Package, dict[str, Row]]]:
        """Each zip, newest first, read, with its orgs by BRIN6 (their identifier)."""
        for path in self._zips():
            package = read_package(path)
            orgs: dict[str, Row] = {}
            for org in package.orgs:
                brin6 = org["identifier"].replace(" ", "").upper()
                if brin6 in orgs:
                    raise SourceDataError(
                        f"{path.name}: orgs.csv has two orgs with identifier {brin6}",
                        hint="each school (BRIN6) is one org in a package",
                    )
                if brin6:
                    orgs[brin6] = org
            yield package, orgs

    def _zips(self) -> list[Path]:
        """Every *.zip in the directory, newest first."""
        if not self.directory.is_dir():
            raise SourceUnavailable(
                f"the OneRoster directory {self.directory} is not there",
                hint="check KOPPEL_ONEROSTER_DIR and that its disk or share is mounted",
            )
        try:
            paths = [(p.stat().st_mtime_ns, p.name, p) for p in self.directory.glob("*.zip")]
        except OSError as exc:
            raise SourceUnavailable(f"the OneRoster directory: {exc.strerror}") from None
        return [p for _, _, p in sorted(paths, reverse=True)]
