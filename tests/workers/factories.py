"""Rows the worker tests need: schools with or without consent, committed or not."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from core.models import School


def add_school(session: Session, *, consent: str = "granted", active: bool = True) -> School:
    """A school with a unique BRIN6 and source id; flushed, not committed."""
    code = uuid.uuid4().hex
    school = School(
        brin=f"{int(code[:2], 16) % 90 + 10:02d}{code[2:4].upper()}",
        location_code=f"{int(code[4:6], 16) % 100:02d}",
        source="basispoort",
        source_school_id=str(int(code[6:18], 16)),
        consent=consent,
        active=active,
    )
    session.add(school)
    session.flush()
    return school
