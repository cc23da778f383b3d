"""What a login decision knows of the school and the person: plain frozen values, no ORM rows.

Read in the login's one statement (core.login.identity) as plain columns: loading ORM objects
for them cost more than the rest of the decision (docs/benchmarks.md, "Logins"). Policies get
these, not database rows, so judging cannot write by accident; a policy that needs more reads
it by id through ``LoginAttempt.session``. The person carries no names and no ECK iD.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, Literal

PersonKind = Literal["pupil", "staff"]


@dataclass(frozen=True, slots=True)
class LoginSchool:
    """The school a login is for, as synced: its keys, consent and state."""

    id: int
    source: str
    source_school_id: str
    source_ref: str | None
    brin: str
    location_code: str
    name: str | None
    consent: str
    active: bool
    merged_into_source_id: str | None

    @property
    def brin6(self) -> str:
        return f"{self.brin}{self.location_code}"

    @classmethod
    def of(cls, school: Any) -> LoginSchool:
        """From anything with the same attributes (a ``core.models.School``, a result row)."""
        return cls(*(getattr(school, name) for name in SCHOOL_COLUMNS))


@dataclass(frozen=True, slots=True)
class LoginPerson:
    """The person logging in, as synced: ids, dates and roles (``left_at``: tombstoned)."""

    id: int
    kind: PersonKind
    school_id: int
    source: str
    source_id: str
    left_at: datetime | None
    purged_at: datetime | None
    group_id: int | None = None  # a pupil's class
    end_date: date | None = None  # a staff member's last day, a Dutch calendar day
    roles: tuple[str, ...] = ()  # a staff member's, as the source names them

    @classmethod
    def of(cls, kind: PersonKind, person: Any) -> LoginPerson:
        """From anything with the kind's attributes (a ``Pupil`` or ``Staff``, a result row)."""
        return _person(kind, lambda name: getattr(person, name, None))


SCHOOL_COLUMNS = tuple(f.name for f in fields(LoginSchool))
# The columns the login's statement reads per kind: the person's, plus the ECK iD it may be
# found by (used to resolve, never kept).
PERSON_COLUMNS: dict[PersonKind, tuple[str, ...]] = {
    "pupil": ("id", "school_id", "source", "source_id", "left_at", "purged_at", "group_id"),
    "staff": (
        "id", "school_id", "source", "source_id", "left_at", "purged_at", "end_date", "roles",
    ),
}  # fmt: skip


def person_from_values(kind: PersonKind, values: dict[str, Any]) -> LoginPerson:
    """From the kind's ``PERSON_COLUMNS`` values, as the login's statement read them."""
    return _person(kind, values.get)


def _person(kind: PersonKind, value: Callable[[str], Any]) -> LoginPerson:
    return LoginPerson(
        id=value("id"),
        kind=kind,
        school_id=value("school_id"),
        source=value("source"),
        source_id=value("source_id"),
        left_at=value("left_at"),
        purged_at=value("purged_at"),
        group_id=value("group_id") if kind == "pupil" else None,
        end_date=value("end_date") if kind == "staff" else None,
        roles=tuple(value("roles") or ()) if kind == "staff" else (),
    )
