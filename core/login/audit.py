"""The login audit: every denial and shadow denial, with ids only; read back for 'koppel logins'."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Insert, bindparam, insert, select
from sqlalchemy.orm import Session

from core.login.attempt import LoginAttempt
from core.login.decision import Decision, Denial
from core.models import LoginDenial, School

ROLE_MAX = 50
POLICY_MAX = 100


@dataclass(frozen=True, slots=True)
class DenialRecord:
    """One audit row as shown to an operator."""

    id: int
    at: datetime
    brin6: str | None
    person_kind: str | None
    person_id: int | None
    role: str | None
    policy: str
    reason_nl: str
    reason_en: str
    client_address: str | None
    shadow: bool


def record_decision(session: Session, attempt: LoginAttempt, decision: Decision) -> None:
    """Store one row per denial and shadow denial (none for a clean allow).

    One statement for all of a decision's rows: atomic even where the session's reads run
    in autocommit (the evaluate API), and one round trip.
    """
    rows = [(d, False) for d in decision.denials] + [(d, True) for d in decision.shadow_denials]
    if not rows:
        return
    shared = {
        "at": attempt.at,
        "school_id": attempt.school.id if attempt.school is not None else None,
        "person_kind": attempt.person_kind,
        "person_id": attempt.person.id if attempt.person is not None else None,
        "role": _role(attempt),
        "client_address": attempt.client.text or None,
    }
    values: dict[str, object] = {}
    for index, (denial, shadow) in enumerate(rows):
        row = {**shared, "policy": denial.policy[:POLICY_MAX], "reason": _reason(denial)}
        row["shadow"] = shadow
        values.update({f"{column}_{index}": value for column, value in row.items()})
    session.execute(_insert_rows(len(rows)), values)


# Built once per number of rows: compiling the INSERT anew at every denial cost more than the
# rest of the decision. (SQLAlchemy caches no multi-row VALUES: those few compile each time.)
@cache
def _insert_rows(count: int) -> Insert:
    table = LoginDenial.__table__
    rows = [
        {column: bindparam(f"{column}_{i}", type_=table.c[column].type) for column in _WRITTEN}
        for i in range(count)
    ]
    return insert(table).values(rows[0] if count == 1 else rows)


_WRITTEN = (
    "at",
    "school_id",
    "person_kind",
    "person_id",
    "role",
    "client_address",
    "policy",
    "reason",
    "shadow",
)


def recent_denials(
    session: Session, school_id: int | None = None, limit: int = 50
) -> list[DenialRecord]:
    """The newest audit rows first, of one school or of all."""
    query = (
        select(LoginDenial, School)
        .outerjoin(School, School.id == LoginDenial.school_id)
        .order_by(LoginDenial.at.desc(), LoginDenial.id.desc())
        .limit(limit)
    )
    if school_id is not None:
        query = query.where(LoginDenial.school_id == school_id)
    records = []
    for row, school in session.execute(query):
        reason_nl, _, reason_en = row.reason.partition("\n")
        records.append(
            DenialRecord(
                id=row.id,
                at=row.at,
                brin6=school.brin6 if school is not None else None,
                person_kind=row.person_kind,
                person_id=row.person_id,
                role=row.role,
                policy=row.policy,
                reason_nl=reason_nl,
                reason_en=reason_en or reason_nl,
                client_address=row.client_address,
                shadow=row.shadow,
            )
        )
    return records


def _role(attempt: LoginAttempt) -> str | None:
    # "pupil", or a staff member's roles ("Leerkracht,IBRTer"); the kind leads attempt.roles.
    if not attempt.roles:
        return None
    named = attempt.roles[1:] or attempt.roles[:1]
    return ",".join(named)[:ROLE_MAX]


def _reason(denial: Denial) -> str:
    # One column holds both languages: Dutch, a newline, English (neither may hold a newline).
    def line(text: str) -> str:
        return " ".join(text.split())

    return f"{line(denial.reason_nl)}\n{line(denial.reason_en)}"
