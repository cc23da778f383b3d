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
from typing import NamedTuple
from zoneinfo import ZoneInfo

import structlog

from koppel.plugin import (
    ConnectionCheck,
    ConsentChanges,
    SchoolSnapshot,
    SourceCapabilities,
    SourceDataError,
    SourceRefused,
    SourceUnavailable,
)
from koppel_oneroster import school
from koppel_oneroster.package import read_package
from koppel_oneroster.rostering import Rostering, Row

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
        self._orgs: dict[Path, tuple[tuple[int, int], Drop]] = {}

    def check_connection(self, brin: str, location_code: str) -> ConnectionCheck:
        brin6 = (brin + location_code).upper()
        found = self._find(brin6)
        if found is not None:
            log.info("oneroster_school_found", brin6=brin6, package=found.path.name)
        return school.connection(None if found is None else found.org, brin6)

    def fetch_snapshot(self, source_school_id: str) -> SchoolSnapshot:
        brin6 = source_school_id.upper()
        found = self._find(brin6)
        if found is None:
            raise SourceRefused(
                f"no OneRoster zip in the directory holds school {brin6}",
                hint="drop the school's OneRoster CSV export (a zip) in KOPPEL_ONEROSTER_DIR; "
                "the school keeps its last good data meanwhile",
            )
        package = read_package(found.path)
        org = _by_brin6(package).get(brin6)
        if org is None:  # the zip was replaced by one without the school since it was listed
            raise SourceUnavailable(f"{found.path.name} changed while it was read")
        if school.gone(org):
            raise SourceRefused(
                f"{package.origin} marks school {brin6} tobedeleted: its data was withdrawn",
                hint="the consent sweep records the revocation; drop a new export to resume",
            )
        return school.snapshot(package, org, brin6)

    def latest_change(self, source_school_id: str) -> datetime | None:
        found = self._find(source_school_id.upper())
        return None if found is None else found.stamp

    def consent_changes(self, day: date) -> ConsentChanges:
        """The schools in the zips dropped on ``day`` (Europe/Amsterdam), each as its newest
        zip has it: an org listed grants consent, an org marked tobedeleted revokes it."""
        newest: dict[str, tuple[Drop, Row]] = {}
        for found in self._drops():
            for brin6, org in found.orgs.items():
                newest.setdefault(brin6, (found, org))
        granted, revoked = [], []
        for brin6, (found, org) in sorted(newest.items()):
            if found.stamp.astimezone(SCHOOL_TIME).date() == day:
                (revoked if school.gone(org) else granted).append(brin6)
        return ConsentChanges(granted=tuple(granted), revoked=tuple(revoked))

    def give_up_consent(self, source_school_id: str) -> None:
        # Nobody to tell: the operator removes the school's zip (see README).
        log.info("oneroster_consent_given_up", source_school_id=source_school_id)

    def _find(self, brin6: str) -> FoundOrg | None:
        """The newest zip naming ``brin6`` (listed or marked tobedeleted), and its org there."""
        for found in self._drops():
            if brin6 in found.orgs:
                return FoundOrg(found.path, found.stamp, found.orgs[brin6])
        return None

    def _drops(self) -> Iterator[Drop]:
        """Each zip, newest first, with its orgs by BRIN6; a zip's orgs are read once per
        version of the file (every school's nightly stamp question reads them)."""
        listed = self._zips()
        for path in set(self._orgs) - {path for path, _ in listed}:
            del self._orgs[path]
        for path, version in listed:
            known = self._orgs.get(path)
            if known is None or known[0] != version:
                package = read_package(path, only=("orgs",))
                known = (version, Drop(path, package.stamp, _by_brin6(package)))
                self._orgs[path] = known
            yield known[1]

    def _zips(self) -> list[tuple[Path, tuple[int, int]]]:
        """Every *.zip in the directory, newest first, each with its version (mtime, size)."""
        if not self.directory.is_dir():
            raise SourceUnavailable(
                f"the OneRoster directory {self.directory} is not there",
                hint="check KOPPEL_ONEROSTER_DIR and that its disk or share is mounted",
            )
        try:
            stats = [(p.stat(), p) for p in self.directory.glob("*.zip")]
        except OSError as exc:
            raise SourceUnavailable(f"the OneRoster directory: {exc.strerror}") from None
        stats.sort(key=lambda found: (found[0].st_mtime_ns, found[1].name), reverse=True)
        return [(p, (st.st_mtime_ns, st.st_size)) for st, p in stats]


class Drop(NamedTuple):
    """One zip: when it was written, and its orgs by BRIN6 (their identifier)."""

    path: Path
    stamp: datetime
    orgs: dict[str, Row]


class FoundOrg(NamedTuple):
    path: Path
    stamp: datetime
    org: Row


def _by_brin6(package: Rostering) -> dict[str, Row]:
    """The package's schools by BRIN6; orgs without one are passed over (school.brin6_of)."""
    orgs: dict[str, Row] = {}
    for org in package.orgs:
        brin6 = school.brin6_of(org)
        if brin6 is None:
            continue
        if brin6 in orgs:
            raise SourceDataError(
                f"{package.origin}: orgs.csv has two orgs with identifier {brin6}",
                hint="each school (BRIN6) is one org in a package",
            )
        orgs[brin6] = org
    return orgs
