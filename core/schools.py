"""Finding a linked school by its BRIN6 (BRIN plus location code)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.brin import parse_brin6
from core.errors import SchoolNotFound
from core.models import School


def school_by_brin6(session: Session, brin6: str) -> School | None:
    """The school with this BRIN6, or None; InvalidBrin when the code is malformed."""
    brin, location = parse_brin6(brin6)
    return session.scalars(
        select(School).where(School.brin == brin, School.location_code == location)
    ).first()


def school_names(session: Session) -> dict[str, str]:
    """Every linked school's name by BRIN6 (for lists that show a name beside the code)."""
    rows = session.execute(select(School.brin, School.location_code, School.name))
    return {f"{brin}{location}": name for brin, location, name in rows if name}


def get_school(session: Session, brin6: str, *, hint: str | None = None) -> School:
    """The linked school with this BRIN6, or SchoolNotFound (with ``hint`` on how to link it)."""
    school = school_by_brin6(session, brin6)
    if school is None:
        brin, location = parse_brin6(brin6)
        raise SchoolNotFound(f"no school {brin}{location} is linked", hint=hint)
    return school
