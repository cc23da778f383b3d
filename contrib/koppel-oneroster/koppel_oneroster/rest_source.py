"""The OneRoster 1.2 REST consumer as an identity source ("oneroster-rest").

A school is found with ``GET /orgs?filter=identifier='BRIN6'``, and its id in koppel is that
BRIN6, as for the CSV source. A snapshot reads the school's classes and enrollments
(``/schools/{id}/classes``, ``/schools/{id}/enrollments``) and the service's users (``/users``:
the binding's one listing of every role, so aides, principals and roles it does not know are
seen as in a CSV package), each listing whole over every page, and maps them with school.py,
the CSV source's mapping. The service offers no change stamp and no consent feed: every night
fetches, and a school is linked with ``koppel check``.
"""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import quote

import structlog

from koppel.plugin import (
    ConnectionCheck,
    ConsentChanges,
    SchoolSnapshot,
    SourceCapabilities,
    SourceDataError,
    SourceRefused,
    parse_brin6,
)
from koppel_oneroster import school
from koppel_oneroster.rest_client import OneRosterClient
from koppel_oneroster.rest_tables import org_row, rostering
from koppel_oneroster.rostering import Row

log = structlog.get_logger()
SERVICE = "the OneRoster REST service"


class OneRosterRestSource:
    """Schools of one OneRoster 1.2 REST service, reached through ``client``."""

    name = "oneroster-rest"
    # Every page of a listing is read or the fetch fails, so a snapshot lists everyone.
    capabilities = SourceCapabilities(complete_snapshots=True)

    def __init__(self, client: OneRosterClient) -> None:
        self.client = client

    def check_connection(self, brin: str, location_code: str) -> ConnectionCheck:
        brin6 = "".join(parse_brin6(brin + location_code))
        self.client.begin()
        org = self._org(brin6)
        if org is not None:
            log.info("oneroster_school_found", brin6=brin6, org=org["sourcedId"])
        return school.connection(org, brin6)

    def fetch_snapshot(self, source_school_id: str) -> SchoolSnapshot:
        brin6 = "".join(parse_brin6(source_school_id))
        self.client.begin()
        org = self._org(brin6)
        if org is None:
            raise SourceRefused(
                f"{SERVICE} lists no org with identifier {brin6}",
                hint="the school's administration system must list the school with its BRIN6 "
                "as the org's identifier; the school keeps its last good data meanwhile",
            )
        if school.gone(org):
            raise SourceRefused(f"{SERVICE} marks school {brin6} tobedeleted")
        org_id = quote(org["sourcedId"].strip(), safe="")
        classes = self.client.collection(f"schools/{org_id}/classes", "classes")
        enrollments = self.client.collection(f"schools/{org_id}/enrollments", "enrollments")
        users = self.client.collection("users", "users")
        return school.snapshot(rostering(SERVICE, org, users, classes, enrollments), org, brin6)

    def latest_change(self, source_school_id: str) -> datetime | None:
        return None  # the binding has no change stamp for a school: fetch every night

    def consent_changes(self, day: date) -> ConsentChanges:
        return ConsentChanges()  # no consent feed (capabilities.consent_feed is False)

    def give_up_consent(self, source_school_id: str) -> None:
        # The binding has no call for it: the operator removes the client's access (see README).
        log.info("oneroster_consent_given_up", source_school_id=source_school_id)

    def _org(self, brin6: str) -> Row | None:
        """The org whose identifier is ``brin6``; the filter's value is quoted as the binding
        asks (single quotes; a BRIN6 holds only letters and digits, so nothing to escape)."""
        found = self.client.collection("orgs", "orgs", filter=f"identifier='{brin6}'")
        orgs = [org_row(org, n) for n, org in enumerate(found)]
        matching = [org for org in orgs if school.brin6_of(org) == brin6]
        if len(matching) > 1:
            raise SourceDataError(
                f"{SERVICE} has {len(matching)} orgs with identifier {brin6}",
                hint="each school (BRIN6) is one org; ask the administration system's supplier",
            )
        return matching[0] if matching else None
