"""OneRoster REST records (JSON) as the CSV binding's rows, for school.py's one mapping.

A user's roles (1.2: ``roles[].role`` at ``roles[].org``; 1.1: ``role`` at each of ``orgs``)
become rows of the roles table, its ``userIds`` the CSV binding's ``{type:identifier}`` text,
references (``class``, ``school``, ``user``) their ``sourcedId``. Errors name the listing, the
record's position and the field, never a value.
"""

from __future__ import annotations

from typing import Any

from koppel.plugin import SourceDataError
from koppel_oneroster.rostering import Rostering, Row

Item = dict[str, Any]


def rostering(
    service: str, org: Row, users: list[Item], classes: list[Item], enrollments: list[Item]
) -> Rostering:
    """The tables of one school's REST fetch (its org as a row, the service's users, its
    classes and enrollments); ``service`` names the service in errors."""
    user_rows, role_rows = [], []
    for n, user in enumerate(users):
        at = _Where("users", n)
        user_rows.append(
            {
                "sourcedId": at.text(user, "sourcedId"),
                "status": at.text(user, "status"),
                "givenName": at.text(user, "givenName"),
                "familyName": at.text(user, "familyName"),
                "email": at.text(user, "email"),
                "userIds": ",".join(_user_ids(user, at)),
            }
        )
        role_rows += _roles(user, at)
    return Rostering(
        origin=service,
        place=_record,
        stamp=None,
        orgs=[org],
        users=user_rows,
        roles=role_rows,
        classes=[_class(c, _Where("classes", n)) for n, c in enumerate(classes)],
        enrollments=[_enrollment(e, _Where("enrollments", n)) for n, e in enumerate(enrollments)],
        academic_sessions=[],
    )


def org_row(org: Item, index: int = 0) -> Row:
    at = _Where("orgs", index)
    return {f: at.text(org, f) for f in ("sourcedId", "status", "name", "type", "identifier")}


def _record(table: str, index: int) -> str:
    return f"{table} record {index + 1}"


class _Where:
    """One record's place in its listing, to name in errors."""

    def __init__(self, table: str, index: int) -> None:
        self.table, self.index = table, index

    def fail(self, field: str, what: str) -> SourceDataError:
        return SourceDataError(
            f"GET {self.table}: {_record(self.table, self.index)} has {field} {what}",
            hint="the OneRoster service's answer breaks the 1.2 binding; report it to its "
            "supplier. Nothing was changed",
        )

    def text(self, item: Item, field: str) -> str:
        value = item.get(field)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.fail(field, "that is not a string")
        return value

    def ref(self, item: Item, field: str) -> str:
        """The sourcedId of a reference ({"sourcedId": ..., "href": ..., "type": ...})."""
        value = item.get(field)
        if value is None:
            return ""
        if not isinstance(value, dict):
            raise self.fail(field, "that is not a reference object")
        return self.text(value, "sourcedId")


def _user_ids(user: Item, at: _Where) -> list[str]:
    found = user.get("userIds") or []
    if not isinstance(found, list) or not all(isinstance(i, dict) for i in found):
        raise at.fail("userIds", "that is not a list of objects")
    pairs = ((at.text(i, "type"), at.text(i, "identifier")) for i in found)
    # The CSV form cannot hold braces; an id with one is no ECK iD, so it is left out.
    return [f"{{{t}:{v}}}" for t, v in pairs if not set("{}") & set(t + v)]


def _roles(user: Item, at: _Where) -> list[Row]:
    user_id, status = at.text(user, "sourcedId"), at.text(user, "status")
    roles = user.get("roles")
    if roles is None and "role" in user:  # OneRoster 1.1: one role, at each of the user's orgs
        orgs = user.get("orgs") or []
        if not isinstance(orgs, list) or not all(isinstance(o, dict) for o in orgs):
            raise at.fail("orgs", "that is not a list of references")
        roles = [{"role": user["role"], "org": org} for org in orgs]
    roles = [] if roles is None else roles  # a user with no role is nobody's at a school
    if not isinstance(roles, list) or not all(isinstance(r, dict) for r in roles):
        raise at.fail("roles", "that is not a list of objects")
    return [
        {
            "sourcedId": f"{user_id}#{n}",
            "status": status,
            "userSourcedId": user_id,
            "role": at.text(role, "role"),
            "orgSourcedId": at.ref(role, "org"),
        }
        for n, role in enumerate(roles)
    ]


def _class(item: Item, at: _Where) -> Row:
    row = {f: at.text(item, f) for f in ("sourcedId", "status", "title", "classType")}
    return row | {"schoolSourcedId": at.ref(item, "school")}


def _enrollment(item: Item, at: _Where) -> Row:
    return {
        "sourcedId": at.text(item, "sourcedId"),
        "status": at.text(item, "status"),
        "role": at.text(item, "role"),
        "classSourcedId": at.ref(item, "class"),
        "schoolSourcedId": at.ref(item, "school"),
        "userSourcedId": at.ref(item, "user"),
    }
