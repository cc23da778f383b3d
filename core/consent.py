"""The daily consent sweep: schools that granted consent get linked and synced, revokers stop.

The source is asked for one day's grants and revocations; it overlaps the neighbouring days
itself (its day boundary is unknown), so a sweep may see a change again: every step is a no-op
when the school already is as the sweep would make it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.connection import ConnectionStatus
from core.errors import ConfigError, SourceError
from core.linking import link_school
from core.models import Pupil, School, Staff, utcnow
from core.plugins import Plugins
from core.sources import IdentitySource
from core.sync.held import retire_held

log = structlog.get_logger()

# Queues a sync of one school (by koppel id) soon; the caller decides how (broker, in-process).
EnqueueSync = Callable[[int], object]


def schools_today(zone: ZoneInfo) -> date:
    """The day a sweep asks about when none is given: today where the schools are."""
    return utcnow().astimezone(zone).date()


@dataclass
class ConsentSweep:
    """What one sweep found and did, by koppel school id (source ids where koppel has none)."""

    day: date
    granted: list[int] = field(default_factory=list)  # consent recorded as granted now
    revoked: list[int] = field(default_factory=list)  # consent recorded as revoked now
    unchanged: int = 0  # listed, but koppel already had it so
    unknown_revoked: int = 0  # revocations of schools koppel never linked
    not_linked: list[str] = field(default_factory=list)  # grants koppel could not link
    queued: list[int] = field(default_factory=list)  # schools whose sync was queued
    reactivated: list[int] = field(default_factory=list)  # inactive schools active again

    def as_dict(self) -> dict[str, object]:
        return {
            "day": self.day.isoformat(),
            "granted": self.granted,
            "revoked": self.revoked,
            "unchanged": self.unchanged,
            "unknown_revoked": self.unknown_revoked,
            "not_linked": self.not_linked,
            "queued": self.queued,
            "reactivated": self.reactivated,
        }


def sweep_consent(
    session: Session,
    plugins: Plugins,
    day: date,
    source_name: str = "basispoort",
    *,
    enqueue_sync: EnqueueSync | None = None,
    now: datetime | None = None,
) -> ConsentSweep:
    """Record the grants and revocations ``source_name`` lists for ``day``; commits.

    A revocation takes effect at once: consent "revoked" (the engine skips the school from its
    next run on, and a run in flight does not commit), its held plans go stale; personal data
    is purged later by core.retention. A grant links the school (a new school row, its details
    fetched from the source) or marks it granted again, and queues its sync through
    ``enqueue_sync``, with the syncs of schools merged into it (their people move there).
    A grant koppel cannot link is reported in ``not_linked`` and does not stop the sweep.
    """
    source = plugins.source(source_name)
    if not source.capabilities.consent_feed:
        raise ConfigError(
            f"the identity source {source_name!r} lists no consent changes",
            hint="link its schools one by one with 'koppel check BRIN6'",
        )
    now = now or utcnow()
    sweep = ConsentSweep(day=day)
    session.commit()  # no transaction stays open while the source is asked
    changes = source.consent_changes(day)
    for source_school_id in changes.revoked:
        _revoke(session, plugins, source_name, source_school_id, now, sweep)
    for source_school_id in changes.granted:
        _grant(session, plugins, source, source_school_id, now, sweep, enqueue_sync)
    _recheck_inactive(session, plugins, source_name, sweep, enqueue_sync)
    log.info(
        "consent_swept",
        day=day.isoformat(),
        source=source_name,
        granted=len(sweep.granted),
        revoked=len(sweep.revoked),
        unchanged=sweep.unchanged,
        unknown_revoked=sweep.unknown_revoked,
        not_linked=len(sweep.not_linked),
        queued=len(sweep.queued),
        reactivated=len(sweep.reactivated),
    )
    return sweep


def _recheck_inactive(
    session: Session,
    plugins: Plugins,
    source_name: str,
    sweep: ConsentSweep,
    enqueue_sync: EnqueueSync | None,
) -> None:
    """Ask again about consenting schools stored as inactive or merged: nothing else would
    notice them becoming active again (the nightly run skips them, and a known merger is not
    fetched). Few schools, one connection check each."""
    inactive = session.scalars(
        select(School).where(
            School.source == source_name,
            School.consent == "granted",
            or_(School.active.is_(False), School.merged_into_source_id.is_not(None)),
        )
    ).all()
    for school in inactive:
        check = link_school(session, plugins, school.brin6, source_name)
        if check.status is ConnectionStatus.CONNECTED:
            sweep.reactivated.append(school.id)
            if enqueue_sync is not None:
                enqueue_sync(school.id)
                sweep.queued.append(school.id)


def _find(session: Session, source_name: str, source_school_id: str) -> School | None:
    return session.scalars(
        select(School).where(
            School.source == source_name, School.source_school_id == source_school_id
        )
    ).first()


def _revoke(
    session: Session,
    plugins: Plugins,
    source_name: str,
    source_school_id: str,
    now: datetime,
    sweep: ConsentSweep,
) -> None:
    school = _find(session, source_name, source_school_id)
    if school is None:
        sweep.unknown_revoked += 1
        return
    if school.consent == "revoked":
        sweep.unchanged += 1
        return
    school.consent = "revoked"
    school.consent_changed_at = now
    retire_held(session, school.id, "consent was revoked", now=now)
    session.commit()
    sweep.revoked.append(school.id)
    log.info("consent_revoked", school_id=school.id)
    plugins.consent_changed(school_id=school.id, source=source_name, granted=False)


def _grant(
    session: Session,
    plugins: Plugins,
    source: IdentitySource,
    source_school_id: str,
    now: datetime,
    sweep: ConsentSweep,
    enqueue_sync: EnqueueSync | None,
) -> None:
    school = _find(session, source.name, source_school_id)
    if school is None:
        school = _link(session, source, source_school_id, now, sweep)
        if school is None:
            return
    elif school.consent == "granted":
        sweep.unchanged += 1
        return
    else:
        school.consent = "granted"
        school.consent_changed_at = now
        school.source_mutated_at = None  # whatever is stored may be purged or old: fetch it all
    session.commit()
    sweep.granted.append(school.id)
    log.info("consent_granted", school_id=school.id)
    plugins.consent_changed(school_id=school.id, source=source.name, granted=True)
    to_sync = [school.id] if school.active and not school.merged_into_source_id else []
    to_sync.extend(_merged_into(session, school))
    for school_id in to_sync:
        if enqueue_sync is not None:
            enqueue_sync(school_id)
            sweep.queued.append(school_id)


def _link(
    session: Session,
    source: IdentitySource,
    source_school_id: str,
    now: datetime,
    sweep: ConsentSweep,
) -> School | None:
    """A school row for a school koppel has not linked yet, from the details the source gives."""
    try:
        info = source.fetch_snapshot(source_school_id).school
    except SourceError as exc:
        # Not fatal for the sweep: the next sweep (overlapping days) or 'koppel check' retries.
        log.warning(
            "consent_grant_not_linked",
            source_school_id=source_school_id,
            error=type(exc).__name__,
        )
        sweep.not_linked.append(source_school_id)
        return None
    brin = (info.brin or "").upper()
    location = info.location_code or ""
    taken = session.scalars(
        select(School).where(School.brin == brin, School.location_code == location)
    ).first()
    if info.source_school_id != source_school_id or not brin or not location or taken:
        log.warning(
            "consent_grant_not_linked",
            source_school_id=source_school_id,
            error="no BRIN6" if not (brin and location) else "BRIN6 linked to another school",
        )
        sweep.not_linked.append(source_school_id)
        session.rollback()
        return None
    school = School.granted_from(info, source.name, now)
    session.add(school)
    return school


def _merged_into(session: Session, target: School) -> list[int]:
    """Consenting schools merged into ``target`` that still hold people to move there."""
    merged = session.scalars(
        select(School.id).where(
            School.source == target.source,
            School.merged_into_source_id == target.source_school_id,
            School.consent == "granted",
        )
    ).all()
    waiting = []
    for school_id in merged:
        for model in (Pupil, Staff):
            if session.scalar(
                select(model.id)
                .where(model.school_id == school_id, model.left_at.is_(None))
                .limit(1)
            ):
                waiting.append(school_id)
                break
    return waiting
