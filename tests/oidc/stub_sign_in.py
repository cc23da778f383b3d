"""TEST ONLY: a stand-in for the SAML side (api/sso) that signs a seeded person in.

It builds the ``SignedIn`` the SAML side would hand over after checking an assertion and the
login policies, and calls ``continue_after_sign_in`` exactly as it does; the provider cannot
tell the difference. Never part of koppel: it lives in tests/ and is added to test apps only.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.services import services
from api.signin import SignedIn, continue_after_sign_in
from core.models import Group, Pupil, PupilSubgroup, School, Staff, StaffGroup, utcnow

PATH = "/test-only/sign-in"


def install_stub_sign_in(app: FastAPI) -> None:
    @app.get(PATH)
    def sign_in(
        request: Request, relay_state: str, kind: str, person_id: int, idp: str = "basispoort"
    ) -> Response:
        with services(request).session() as session:
            signed_in = signed_in_as(session, kind, person_id, idp)
        return continue_after_sign_in(request, signed_in, relay_state)


def signed_in_as(session: Session, kind: str, person_id: int, idp: str) -> SignedIn:
    person: Pupil | Staff
    if kind == "pupil":
        person = session.get_one(Pupil, person_id)
        group_ids = [
            person.group_id,
            *session.scalars(
                select(PupilSubgroup.group_id).where(PupilSubgroup.pupil_id == person_id)
            ),
        ]
        roles: tuple[str, ...] = ()
    else:
        person = session.get_one(Staff, person_id)
        group_ids = list(
            session.scalars(select(StaffGroup.group_id).where(StaffGroup.staff_id == person_id))
        )
        roles = tuple(person.roles)
    school = session.get_one(School, person.school_id)
    names = session.scalars(select(Group.name).where(Group.id.in_(group_ids)).order_by(Group.name))
    return SignedIn(
        source=person.source,
        idp=idp,
        person_kind="pupil" if kind == "pupil" else "staff",
        person_id=person.id,
        school_id=school.id,
        brin6=school.brin6,
        roles=roles,
        groups=tuple(name for name in names if name),
        at=utcnow(),
    )
