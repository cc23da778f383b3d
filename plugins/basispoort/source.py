"""BasispoortSource: the identity source koppel's core talks to, built on BasispoortClient."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from koppel.plugin import (
    ConfigError,
    ConnectionCheck,
    ConnectionStatus,
    ConsentChanges,
    SchoolInfo,
    SchoolSnapshot,
    SourceCapabilities,
    SourceDataError,
)
from plugins.basispoort import assumptions
from plugins.basispoort.client import BasispoortClient, NoConsent, NotFound
from plugins.basispoort.parse import (
    build_snapshot,
    mutation_timestamp,
    parse_details,
    parse_search_result,
    search_brin6,
)
from plugins.basispoort.sentences import CONNECTION_SENTENCES
from plugins.basispoort.settings import BasispoortSettings, load_basispoort_settings


class BasispoortSource:
    """Basispoort as an identity source (core.sources.IdentitySource).

    Built lazily: creating it reads nothing; the settings are read (from the environment unless
    given) when first needed, and the client is built on the first call that needs the network,
    which raises ConfigError naming the variable to set. Safe to share between threads.
    """

    name = "basispoort"
    connection_sentences = CONNECTION_SENTENCES

    def __init__(self, settings: BasispoortSettings | None = None) -> None:
        self._settings = settings
        self._client: BasispoortClient | None = None
        self._lock = threading.Lock()

    @property
    def settings(self) -> BasispoortSettings:
        if self._settings is None:
            self._settings = load_basispoort_settings()
        return self._settings

    @property
    def capabilities(self) -> SourceCapabilities:
        try:
            networks = self.settings.ipadressen
        except ConfigError:
            # Describing the source must not fail; the first network call reports the error.
            networks = False
        return SourceCapabilities(
            complete_snapshots=True, change_stamps=True, consent_feed=True, networks=networks
        )

    @property
    def client(self) -> BasispoortClient:
        with self._lock:
            if self._client is None:
                self._client = BasispoortClient(self.settings)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def check_connection(self, brin: str, location_code: str) -> ConnectionCheck:
        """Search by BRIN6, then ask the permission, then the details (docs: connection check)."""
        brin6 = f"{brin.strip().upper()}{location_code.strip()}"
        found = self.client.nawsearch(brincode=brin6, active_only=assumptions.SEARCH_ACTIVE_ONLY)
        match = _the_match(found, brin6)
        if match is None:
            return ConnectionCheck(ConnectionStatus.NOT_FOUND)
        school = parse_search_result(match)
        try:
            consent = self.client.synchronization_permission(school.source_school_id)
        except NoConsent:
            consent = False
        if not consent:
            return ConnectionCheck(ConnectionStatus.NO_CONSENT, school)
        try:
            details = parse_details(
                school.source_school_id, self.client.details(school.source_school_id)
            )
        except NoConsent:
            # Permission and data disagree for a moment (consent just revoked): no consent wins.
            return ConnectionCheck(ConnectionStatus.NO_CONSENT, school)
        # The search found the school by its BRIN6; details are authoritative for the rest.
        details = _fill(details, school)
        if details.merged_into is not None:
            return ConnectionCheck(ConnectionStatus.MERGED, details)
        if not details.active:
            return ConnectionCheck(ConnectionStatus.INACTIVE, details)
        return ConnectionCheck(ConnectionStatus.CONNECTED, details)

    def latest_change(self, source_school_id: str) -> datetime | None:
        """The details' metaResult.mutationTimestamp (None when missing or unreadable).

        One small request: the overview carries the same stamp but also every pupil, which
        would make an unchanged night cost nearly as much as a full one. That the details'
        stamp moves with any of the school's data is an assumption (see assumptions.py).
        """
        return mutation_timestamp(self._stamped(source_school_id), Counter())

    def _stamped(self, source_school_id: str) -> dict[str, Any]:
        """The response whose metaResult.mutationTimestamp is the school's change stamp."""
        if assumptions.CHANGE_STAMP_FROM_DETAILS:
            return self.client.details(source_school_id)
        return self.client.overview(source_school_id)

    def fetch_snapshot(self, source_school_id: str) -> SchoolSnapshot:
        """Details, then the overview (groups, pupils and staff in one response) and, when
        enabled, networks, as one snapshot.

        The response that carries the change stamp (details, see assumptions.py) is asked
        first, so its stamp is never newer than the data read after it. The lists come from
        one response, so they are one consistent read of the school, and a sync costs two
        requests instead of four (groepen, leerlingen and staf each on their own). A 404 from
        the networks endpoint means Basispoort does not offer them (networks None), never "no
        networks".
        """
        client = self.client
        details = client.details(source_school_id)
        lists = client.overview(source_school_id)
        stamped = details if assumptions.CHANGE_STAMP_FROM_DETAILS else lists
        ipadressen = None
        if self.settings.ipadressen:
            try:
                ipadressen = client.ipadressen(source_school_id)
            except NotFound:
                if not assumptions.IPADRESSEN_404_MEANS_NOT_OFFERED:
                    raise
        return build_snapshot(
            source_school_id,
            details=details,
            groepen=lists,
            leerlingen=lists,
            staf=lists,
            ipadressen=ipadressen,
            overview=stamped,
        )

    def consent_changes(self, day: date) -> ConsentChanges:
        """Grants and revocations listed for ``day`` and its neighbours (see assumptions.py).

        A school listed both as granted and as revoked in that window is settled by asking its
        permission now.
        """
        granted: dict[str, None] = {}
        revoked: dict[str, None] = {}
        for asked in _days_around(day):
            granted.update(dict.fromkeys(self.client.toegekend(asked)))
            revoked.update(dict.fromkeys(self.client.ingetrokken(asked)))
        for school_id in [s for s in granted if s in revoked]:
            try:
                has_permission = self.client.synchronization_permission(school_id)
            except (NoConsent, NotFound):
                has_permission = False
            del (revoked if has_permission else granted)[school_id]
        return ConsentChanges(granted=tuple(granted), revoked=tuple(revoked))

    def give_up_consent(self, source_school_id: str) -> None:
        """DELETE the synchronization permission: this publisher no longer wants the data."""
        self.client.give_up_synchronization_permission(source_school_id)


def _the_match(found: list[dict[str, Any]], brin6: str) -> dict[str, Any] | None:
    """The one search result whose brincode is exactly ``brin6`` (an active one preferred)."""
    exact = [r for r in found if search_brin6(r) == brin6]
    candidates = [r for r in exact if r.get("actief") is not False] or exact
    if len(candidates) > 1:
        raise SourceDataError(
            f"nawsearch found {len(candidates)} schools with BRIN6 {brin6}; "
            "cannot tell which one is meant",
            hint="ask Basispoort which institution id is current for this BRIN6",
        )
    return candidates[0] if candidates else None


def _fill(details: SchoolInfo, found: SchoolInfo) -> SchoolInfo:
    """Details with the search result's name and BRIN6 where the details leave them out."""
    return replace(
        details,
        name=details.name or found.name,
        brin=details.brin or found.brin,
        location_code=details.location_code or found.location_code,
    )


def _days_around(day: date) -> list[date]:
    last = min(day + assumptions.CONSENT_DAYS_AFTER, _latest_source_day())
    first = day - assumptions.CONSENT_DAYS_BEFORE
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _latest_source_day() -> date:
    return (datetime.now(UTC) + assumptions.SOURCE_CALENDAR_MAX_AHEAD).date()
