"""Linking a school: run the connection check and store what it found."""

from __future__ import annotations

import structlog
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.brin import parse_brin6
from core.connection import ConnectionCheck, ConnectionStatus
from core.errors import SourceError
from core.models import School, utcnow
from core.plugins import Plugins
from core.sources import IdentitySource

log = structlog.get_logger()


def link_school(
    session: Session, plugins: Plugins, brin6: str, source_name: str = "basispoort"
) -> ConnectionCheck:
    """Check a school's connection at its source; store the link when it has consent.

    A school already linked is updated whatever the outcome (consent withdrawn, inactive,
    merged); a school not yet linked is only stored once it is connected with consent.
    Commits. Source failures become an ERROR outcome with the reason in ``detail``. The
    outcome's sentence is the source's own when it has one (``connection_sentences``).
    """
    source = plugins.source(source_name)
    check = _link(session, plugins, brin6, source_name, source)
    return check.in_words_of(getattr(source, "connection_sentences", None) or {})


def _link(
    session: Session, plugins: Plugins, brin6: str, source_name: str, source: IdentitySource
) -> ConnectionCheck:
    brin, location = parse_brin6(brin6)
    try:
        check = source.check_connection(brin, location)
    except SourceError as exc:
        log.warning("connection_check_failed", brin6=brin6, error=str(exc))
        return ConnectionCheck(ConnectionStatus.ERROR, detail=str(exc))

    try:
        stored = _store(session, source_name, brin, location, check)
    except IntegrityError:
        # Another check linked the same school meanwhile (a second click, the API and the
        # page at once): its link is there now, and this one's outcome updates it.
        session.rollback()
        stored = _store(session, source_name, brin, location, check)
    if stored is None:
        log.info("connection_checked", brin6=brin6, status=check.status.value, linked=False)
        return check
    school, granted_before = stored
    granted_now = school.consent == "granted"
    log.info(
        "connection_checked",
        brin6=brin6,
        status=check.status.value,
        school_id=school.id,
        linked=True,
    )
    if granted_now != granted_before:
        plugins.consent_changed(school_id=school.id, source=source_name, granted=granted_now)
    return check


def _store(
    session: Session, source_name: str, brin: str, location: str, check: ConnectionCheck
) -> tuple[School, bool] | None:
    """The school linked or updated and committed, with whether it had consent before; None
    when a school not linked yet has nothing to link (no consent)."""
    school = _find(session, source_name, brin, location, check)
    if school is None and check.status is not ConnectionStatus.CONNECTED:
        return None
    granted_before = school is not None and school.consent == "granted"
    if school is None:
        assert check.school is not None
        school = School(
            brin=brin,
            location_code=location,
            source=source_name,
            source_school_id=check.school.source_school_id,
        )
        session.add(school)
    _update(school, check)
    session.commit()
    return school, granted_before


def _find(
    session: Session, source_name: str, brin: str, location: str, check: ConnectionCheck
) -> School | None:
    clauses = [(School.brin == brin) & (School.location_code == location)]
    if check.school is not None:
        clauses.append(
            (School.source == source_name)
            & (School.source_school_id == check.school.source_school_id)
        )
    return session.scalars(select(School).where(or_(*clauses))).first()


def _update(school: School, check: ConnectionCheck) -> None:
    info = check.school
    if info is not None:
        school.source_school_id = info.source_school_id
        school.name = info.name or school.name
        school.source_ref = info.ref or school.source_ref
        school.active = info.active
        school.merged_into_source_id = info.merged_into
    status = check.status
    if status is ConnectionStatus.CONNECTED:
        consent = "granted"
    elif status is ConnectionStatus.NO_CONSENT:
        consent = "revoked" if school.consent == "granted" else school.consent or "none"
    else:
        consent = school.consent or "none"
    if consent != school.consent:
        school.consent = consent
        school.consent_changed_at = utcnow()
