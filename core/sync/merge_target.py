"""The school a merged school's people move to: found linked, or linked from the source."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import SourceRefused
from core.models import School
from core.plugins import Plugins
from core.snapshot import SchoolInfo


def linked_target(session: Session, source: str, source_school_id: str) -> School | None:
    return session.scalars(
        select(School).where(School.source == source, School.source_school_id == source_school_id)
    ).first()


def target_info(
    session: Session, plugins: Plugins, school: School, target_source_id: str
) -> tuple[SchoolInfo | None, str]:
    """The unlinked target as the source describes it, or why it cannot be linked."""
    source = plugins.source(school.source)
    session.commit()  # no transaction stays open while the source is asked
    try:
        info = source.fetch_snapshot(target_source_id).school
    except SourceRefused as exc:
        return None, (
            f"the school was merged into source school {target_source_id}, which koppel has "
            f"not linked and the source does not serve ({type(exc).__name__}); its people stay "
            "here until that school grants consent"
        )
    if info.source_school_id != target_source_id:
        return None, (
            f"the source answered for another school when asked for source school "
            f"{target_source_id}, the school this one was merged into; nothing moved"
        )
    if not info.brin or not info.location_code:
        return None, (
            f"the school was merged into source school {target_source_id}, whose BRIN the "
            "source does not give; link it with 'koppel check BRIN6'"
        )
    taken = session.scalars(
        select(School.id).where(
            School.brin == info.brin.upper(), School.location_code == info.location_code
        )
    ).first()
    if taken is not None:
        return None, (
            f"the school was merged into source school {target_source_id}, whose BRIN6 "
            f"{info.brin.upper()}{info.location_code} koppel already links as school {taken}; "
            "check that link with 'koppel check BRIN6'"
        )
    return info, ""


def create_target(
    session: Session, plugins: Plugins, school: School, target_source_id: str, now: datetime
) -> tuple[School | None, str]:
    info, why = target_info(session, plugins, school, target_source_id)
    if info is None:
        return None, why
    # The source served the target's data, which it only does with the target's consent.
    target = School.granted_from(info, school.source, now)
    session.add(target)
    session.flush()
    return target, ""
