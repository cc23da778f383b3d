"""The identity source: schools found by BRIN6 in the zips dropped in one directory.

A school's source id is its BRIN6 (the org's ``identifier``): sourcedIds are only unique
within one producer's export, and each school's zip may come from another producer. When
several zips hold the school, the newest (by modification time) is read: a new drop wins.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

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
from koppel_oneroster.package import Package, Row, read_package, stamp_of

log = structlog.get_logger()


class OneRosterSource:
    """OneRoster 1.2 CSV bulk zips in ``directory``, one per school or one for several."""

    name = "oneroster"
    # A bulk package lists everyone, so someone missing from it has left; a zip's modification
    # time is its change stamp. The drop itself is the school's consent: no consent feed.
    capabilities = SourceCapabilities(complete_snapshots=True, change_stamps=True)

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
        return ConnectionCheck(ConnectionStatus.CONNECTED, info)

    def fetch_snapshot(self, source_school_id: str) -> SchoolSnapshot:
        package, org = self._holding(source_school_id)
        return school.snapshot(package, org, source_school_id.upper())

    def latest_change(self, source_school_id: str) -> datetime | None:
        path = self._newest_holding(source_school_id)
        return None if path is None else stamp_of(path)

    def consent_changes(self, day: date) -> ConsentChanges:
        return ConsentChanges()  # a school's zip in the directory is its consent

    def give_up_consent(self, source_school_id: str) -> None:
        # Nobody to tell: the operator removes the school's zip (see README).
        log.info("oneroster_consent_given_up", source_school_id=source_school_id)

    def _holding(self, brin6: str) -> tuple[Package, Row]:
        found = self._find(brin6)
        if found is None:
            raise SourceRefused(
                f"no OneRoster zip in the directory holds school {brin6.upper()}",
                hint="drop the school's OneRoster CSV export (a zip) in KOPPEL_ONEROSTER_DIR; "
                "the school keeps its last good data meanwhile",
            )
        return found

    def _newest_holding(self, brin6: str) -> Path | None:
        found = self._find(brin6)
        return None if found is None else found[0].path

    def _find(self, brin6: str) -> tuple[Package, Row] | None:
        """The newest package holding an org whose identifier is ``brin6``, and that org."""
        wanted = brin6.replace(" ", "").upper()
        for path in self._zips():
            package = read_package(path)
            orgs = [o for o in school.live(package.orgs) if _brin6(o) == wanted]
            if len(orgs) > 1:
                raise SourceDataError(
                    f"{path.name}: orgs.csv has {len(orgs)} orgs with identifier {wanted}",
                    hint="each school (BRIN6) is one org in a package",
                )
            if orgs:
                return package, orgs[0]
        return None

    def _zips(self) -> list[Path]:
        """Every *.zip in the directory, newest first (a zip being copied in ends otherwise)."""
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


def _brin6(org: Row) -> str:
    return org["identifier"].replace(" ", "").upper()
