"""One school (a OneRoster org) of a package as a koppel snapshot: roles, classes, enrollments.

Roles: ``student`` makes a pupil; guardians (``guardian``, ``parent``, ``relative``) are not
the school's people and are left out (counted in the snapshot's notes); every other role,
OneRoster's own (teacher, aide, administrator, principal, ...) or one it does not know, makes a
staff member whose roles are kept as written. Classes are groups: a ``homeroom`` class is a
group (groep), any other class a sub-group; enrollments make the membership.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from koppel.plugin import (
    ConnectionCheck,
    ConnectionStatus,
    GroupKind,
    GroupRecord,
    InvalidBrin,
    PupilRecord,
    SchoolInfo,
    SchoolSnapshot,
    SourceDataError,
    StaffRecord,
    parse_brin6,
)
from koppel_oneroster.rostering import Rostering, Row

PUPIL_ROLE = "student"
GUARDIAN_ROLES = frozenset({"guardian", "parent", "relative"})
GONE = "tobedeleted"  # a row a bulk file still lists but the producer has deleted
HOMEROOM = "homeroom"
# userIds is "{type:identifier},{type:identifier}"; the ECK iD's type is written many ways.
_USER_ID = re.compile(r"\{([^:{}]*):([^{}]*)\}")
_ECKID_TYPES = frozenset({"eckid", "eck", "ketenid"})


def gone(row: Row) -> bool:
    return row["status"].strip().lower() == GONE


def live(rows: list[Row]) -> list[Row]:
    return [row for row in rows if not gone(row)]


def brin6_of(org: Row) -> str | None:
    """The org's BRIN6 (its identifier, spaces ignored, any case); None when the identifier is
    none (a board, a department, another country's school): not a school koppel can link."""
    try:
        return "".join(parse_brin6(org["identifier"].replace(" ", "")))
    except InvalidBrin:
        return None


def info(org: Row, brin6: str) -> SchoolInfo:
    return SchoolInfo(brin6, org["name"].strip() or None, brin6[:4], brin6[4:])


def connection(org: Row | None, brin6: str) -> ConnectionCheck:
    """What ``koppel check`` says of the school whose org was (or was not) found: an org
    marked tobedeleted has withdrawn its data, so its consent."""
    if org is None:
        return ConnectionCheck(ConnectionStatus.NOT_FOUND)
    if gone(org):
        return ConnectionCheck(ConnectionStatus.NO_CONSENT, info(org, brin6))
    return ConnectionCheck(ConnectionStatus.CONNECTED, info(org, brin6))


def eckid_of(user_ids: str) -> str | None:
    for kind, identifier in _USER_ID.findall(user_ids):
        if re.sub(r"[\s_-]", "", kind).lower() in _ECKID_TYPES and identifier.strip():
            return identifier.strip()
    return None


def roles_by_user(package: Rostering, org_id: str) -> dict[str, list[str]]:
    """Each user of the org and their roles there, in the order written (roles or users)."""
    found: dict[str, list[str]] = defaultdict(list)
    if package.roles is not None:
        pairs = [
            (r["userSourcedId"], r["role"], package.place("roles", n))
            for n, r in enumerate(package.roles)
            if r["orgSourcedId"].strip() == org_id and not gone(r)
        ]
    else:
        pairs = [
            (u["sourcedId"], u["role"], package.place("users", n))
            for n, u in enumerate(package.users)
            if org_id in (o.strip() for o in u["orgSourcedIds"].split(",")) and not gone(u)
        ]
    for user_id, role, where in pairs:
        if not role.strip():
            raise SourceDataError(
                f"{package.origin}: {where} has an empty role (column role, user {user_id.strip()})"
            )
        if role.strip() not in found[user_id.strip()]:
            found[user_id.strip()].append(role.strip())
    return found


def snapshot(package: Rostering, org: Row, brin6: str) -> SchoolSnapshot:
    """The org's people and classes; complete, since a bulk package (or every page of a REST
    listing) lists everyone."""
    org_id = org["sourcedId"].strip()
    notes: Counter[str] = Counter()
    classes = {
        c["sourcedId"].strip(): c
        for c in live(package.classes)
        if c["schoolSourcedId"].strip() == org_id
    }
    groups = tuple(
        GroupRecord(
            key,
            GroupKind.GROUP if _is_homeroom(c) else GroupKind.SUBGROUP,
            c["title"].strip() or None,
        )
        for key, c in sorted(classes.items())
    )
    enrolled: dict[str, list[str]] = defaultdict(list)
    for e in live(package.enrollments):
        class_id = e["classSourcedId"].strip()
        if class_id in classes:
            enrolled[e["userSourcedId"].strip()].append(class_id)
        elif e["schoolSourcedId"].strip() == org_id:
            notes["enrollment_unknown_class"] += 1
    users = {u["sourcedId"].strip(): u for u in live(package.users)}
    pupils: list[PupilRecord] = []
    staff: list[StaffRecord] = []
    for user_id, roles in sorted(roles_by_user(package, org_id).items()):
        user = users.get(user_id)
        if user is None:
            notes["role_unknown_user"] += 1
            continue
        homerooms = sorted(c for c in enrolled[user_id] if _is_homeroom(classes[c]))
        others = tuple(sorted(set(enrolled[user_id]) - set(homerooms)))
        names = {
            "eckid": eckid_of(user["userIds"]),
            "first_name": user["givenName"].strip() or None,
            "last_name": user["familyName"].strip() or None,
        }
        if PUPIL_ROLE in roles:
            if len(homerooms) > 1:
                notes["pupil_several_homerooms"] += 1
            pupils.append(
                PupilRecord(
                    user_id,
                    group_key=homerooms[0] if homerooms else None,
                    subgroup_keys=others,
                    **names,
                )
            )
        elif staff_roles := tuple(r for r in roles if r.lower() not in GUARDIAN_ROLES):
            staff.append(
                StaffRecord(
                    user_id,
                    email=user["email"].strip() or None,
                    roles=staff_roles,
                    group_keys=tuple(homerooms),
                    subgroup_keys=others,
                    **names,
                )
            )
        else:
            notes["guardian_left_out"] += 1
    return SchoolSnapshot(
        school=info(org, brin6),
        groups=groups,
        pupils=tuple(pupils),
        staff=tuple(staff),
        mutated_at=package.stamp,
        complete=True,
        notes=dict(notes),
    )


def _is_homeroom(row: Row) -> bool:
    return row["classType"].strip().lower() == HOMEROOM
