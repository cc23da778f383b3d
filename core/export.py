"""What koppel stores for one school, as plain data (JSON-able), sorted the same way every time."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Group, Pupil, PupilSubgroup, School, SchoolNetwork, Staff, StaffGroup


def export_school(session: Session, school: School) -> dict[str, Any]:
    """The school with its groups, pupils, staff and networks; every row has a ``left`` flag.

    Personal data is in the result: it is for the school's own administrators, not for logs.
    """
    groups = {
        g.id: g
        for g in session.execute(
            select(
                Group.id,
                Group.kind,
                Group.source_key,
                Group.name,
                Group.year_group,
                Group.left_at,
            ).where(Group.school_id == school.id)
        )
    }
    return {
        "school": {
            "brin6": school.brin6,
            "name": school.name,
            "source": school.source,
            "source_school_id": school.source_school_id,
            "consent": school.consent,
            "active": school.active,
            "merged_into": school.merged_into_source_id,
            "last_synced_at": school.last_synced_at.isoformat() if school.last_synced_at else None,
        },
        "groups": sorted(
            (
                {
                    "key": g.source_key,
                    "kind": g.kind,
                    "name": g.name,
                    "year_group": g.year_group,
                    "left": g.left_at is not None,
                }
                for g in groups.values()
            ),
            key=lambda g: (g["kind"], g["key"]),
        ),
        "pupils": _pupils(session, school, groups),
        "staff": _staff(session, school, groups),
        "networks": [
            {"network": network, "origin": origin}
            for network, origin in session.execute(
                select(SchoolNetwork.network, SchoolNetwork.origin)
                .where(SchoolNetwork.school_id == school.id)
                .order_by(SchoolNetwork.origin, SchoolNetwork.network)
            )
        ],
    }


def _person_columns(model: Any) -> list[Any]:
    # Columns, not ORM objects: objects already in the session may predate a bulk apply.
    return [
        model.id,
        model.source_id,
        model.eckid,
        model.las_key,
        model.first_name,
        model.prefix,
        model.last_name,
        model.initials,
        model.left_at,
    ]


def _names(person: Any) -> dict[str, str | None]:
    return {
        "first_name": person.first_name,
        "prefix": person.prefix,
        "last_name": person.last_name,
        "initials": person.initials,
    }


def _members(session: Session, model: Any, owner: Any, person: Any, school: School):
    """Group ids per person, for every person of the school (one select)."""
    found: dict[int, list[int]] = defaultdict(list)
    for pid, gid in session.execute(
        select(owner, model.group_id)
        .join(person, person.id == owner)
        .where(person.school_id == school.id)
    ):
        found[pid].append(gid)
    return found


def _keys(ids: list[int], groups: dict[int, Any], kind: str) -> list[str]:
    return sorted(groups[i].source_key for i in ids if groups[i].kind == kind)


def _pupils(session: Session, school: School, groups: dict[int, Any]) -> list[dict[str, Any]]:
    subgroups = _members(session, PupilSubgroup, PupilSubgroup.pupil_id, Pupil, school)
    pupils = session.execute(
        select(*_person_columns(Pupil), Pupil.year_group, Pupil.group_id)
        .where(Pupil.school_id == school.id)
        .order_by(Pupil.source_id, Pupil.id)
    )
    return [
        {
            "source_id": p.source_id,
            "eckid": p.eckid,
            "las_key": p.las_key,
            "names": _names(p),
            "year_group": p.year_group,
            "group": groups[p.group_id].source_key if p.group_id is not None else None,
            "subgroups": _keys(subgroups.get(p.id, []), groups, "subgroup"),
            "left": p.left_at is not None,
        }
        for p in pupils
    ]


def _staff(session: Session, school: School, groups: dict[int, Any]) -> list[dict[str, Any]]:
    memberships = _members(session, StaffGroup, StaffGroup.staff_id, Staff, school)
    staff = session.execute(
        select(*_person_columns(Staff), Staff.email, Staff.end_date, Staff.roles)
        .where(Staff.school_id == school.id)
        .order_by(Staff.source_id, Staff.id)
    )
    return [
        {
            "source_id": s.source_id,
            "eckid": s.eckid,
            "las_key": s.las_key,
            "names": _names(s),
            "email": s.email,
            "end_date": s.end_date.isoformat() if s.end_date else None,
            "roles": sorted(s.roles or []),
            "groups": _keys(memberships.get(s.id, []), groups, "group"),
            "subgroups": _keys(memberships.get(s.id, []), groups, "subgroup"),
            "left": s.left_at is not None,
        }
        for s in staff
    ]
