"""A linked, consenting school with one kit pupil and one kit teacher, as a sync stores them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.models import Pupil, School, Staff
from koppel.testing.roster import base_roster

KIT_BRIN6 = "99ZZ00"
KIT_SCHOOL_ID = "kit-1"  # the school's id in its source
KIT_SCHOOL_REF = "kit-ref-1"  # its reference in its source (Basispoort's instellingRef)


def kit_school(session: Session, source: str) -> tuple[School, Pupil, Staff]:
    """The school of ``source`` with pupil1 and staff0 of the kit's roster; committed."""
    school = School(
        brin=KIT_BRIN6[:4],
        location_code=KIT_BRIN6[4:],
        source=source,
        source_school_id=KIT_SCHOOL_ID,
        source_ref=KIT_SCHOOL_REF,
    )
    school.consent = "granted"
    session.add(school)
    session.flush()
    roster = base_roster()
    found = []
    for model, who in ((Pupil, roster.person("pupil1")), (Staff, roster.person("staff0"))):
        person = model(
            school_id=school.id,
            source=source,
            source_id=who.key,
            eckid=who.eckid,
            first_name=who.first_name,
            last_name=who.last_name,
            row_hash="0" * 32,
            **({"roles": list(who.roles)} if model is Staff else {}),
        )
        session.add(person)
        found.append(person)
    session.commit()
    return school, found[0], found[1]
