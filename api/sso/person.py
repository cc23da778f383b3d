"""From a verified identity to the synced person: the login identity, and the signed-in record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from api.signin import SignedIn
from core.login.attempt import LoginAttempt
from core.login.identity import LoginIdentity
from core.models import Group, PupilSubgroup, School, StaffGroup
from core.saml.method import AssertedIdentity


def login_identity(session: Session, source: str, asserted: AssertedIdentity) -> LoginIdentity:
    """The LoginIdentity decide_login resolves; a BRIN becomes that school's source id.

    A 4-character BRIN names the school only when it has one linked location; otherwise (or
    when none is linked) no school is named, which the rules deny as a school not linked.
    """
    school_id = asserted.school_id
    if asserted.brin and not (asserted.school_ref or school_id):
        query = select(School.source_school_id).where(
            School.source == source, School.brin == asserted.brin[:4]
        )
        if len(asserted.brin) == 6:
            query = query.where(School.location_code == asserted.brin[4:])
        found = list(session.scalars(query.limit(2)))
        school_id = found[0] if len(found) == 1 else None
    return LoginIdentity(
        source=source,
        school_ref=asserted.school_ref,
        school_id=school_id,
        user_id=asserted.user_id,
        eckid=asserted.eckid,
    )


def signed_in(session: Session, attempt: LoginAttempt, idp: str, at: datetime) -> SignedIn:
    """The allowed attempt as the continuations see it: ids, kind, roles and group names."""
    person, school, kind = attempt.person, attempt.school, attempt.person_kind
    assert person is not None and school is not None and kind is not None  # allowed: both known
    query = _PUPIL_GROUPS if person.kind == "pupil" else _STAFF_GROUPS
    values = {"person": person.id, "group": person.group_id}
    names = session.scalars(query, values)
    return SignedIn(
        source=school.source,
        idp=idp,
        person_kind=kind,
        person_id=person.id,
        school_id=school.id,
        brin6=school.brin6,
        roles=tuple(attempt.roles[1:]) if kind == "staff" else (),
        groups=tuple(name for name in names if name),
        at=at,
    )


# The group names a signed-in person's claims carry, current groups only, built once (values
# bound per login): a pupil's group and subgroups, a staff member's groups.
_PUPIL_GROUPS = (
    select(Group.name)
    .where(
        (Group.id == bindparam("group"))
        | Group.id.in_(
            select(PupilSubgroup.group_id).where(PupilSubgroup.pupil_id == bindparam("person"))
        ),
        Group.left_at.is_(None),
    )
    .order_by(Group.name)
)
_STAFF_GROUPS = (
    select(Group.name)
    .where(
        Group.id.in_(select(StaffGroup.group_id).where(StaffGroup.staff_id == bindparam("person"))),
        Group.left_at.is_(None),
    )
    .order_by(Group.name)
)
