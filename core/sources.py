"""The identity-source protocol: what a plugin's source object must offer (no base class needed)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from core.connection import ConnectionCheck
from core.snapshot import ConsentChanges, SchoolSnapshot, SourceCapabilities


@runtime_checkable
class IdentitySource(Protocol):
    """An identity source (Basispoort, Entree, a school's own LAS export, ...).

    Methods raise core.errors.SourceUnavailable for transient failures, SourceRefused for
    refusals and SourceDataError for answers that break the source's promises.

    Optional: ``connection_sentences``, a mapping from ConnectionStatus to (Dutch, English):
    what a school administrator reads after the connection check, in the source's own words
    (where to give consent, whom to ask). An outcome it leaves out gets core's sentence, which
    names no source (core.connection.SENTENCES).
    """

    name: str
    capabilities: SourceCapabilities

    def check_connection(self, brin: str, location_code: str) -> ConnectionCheck:
        """Find the school by BRIN and location code and say whether it is linked."""

    def fetch_snapshot(self, source_school_id: str) -> SchoolSnapshot:
        """Fetch everything of one school: details, groups, pupils, staff (and networks)."""

    def latest_change(self, source_school_id: str) -> datetime | None:
        """When the school's data last changed at the source (None: unknown, always fetch)."""

    def consent_changes(self, day: date) -> ConsentChanges:
        """Schools that granted or revoked consent on ``day`` (source's calendar)."""

    def give_up_consent(self, source_school_id: str) -> None:
        """Tell the source this publisher no longer wants the school's data."""


def as_promised(source: IdentitySource, snapshot: SchoolSnapshot) -> SchoolSnapshot:
    """``snapshot`` read only as far as the source's capabilities vouch for it.

    A source that does not promise complete snapshots never makes anyone leave; one that does
    not promise networks never changes a school's networks (its ``networks`` read as unknown).
    """
    capabilities = source.capabilities
    if snapshot.complete and not capabilities.complete_snapshots:
        snapshot = replace(snapshot, complete=False)
    if snapshot.networks is not None and not capabilities.networks:
        snapshot = replace(snapshot, networks=None)
    return snapshot
