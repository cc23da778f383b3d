"""Resolve a login identity (a source's school and user keys) to the synced person and school."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import Select, Table, and_, bindparam, false, or_, select
from sqlalchemy.orm import Session

from core.login.facts import (
    PERSON_COLUMNS,
    SCHOOL_COLUMNS,
    LoginPerson,
    LoginSchool,
    PersonKind,
    person_from_values,
)
from core.login.networks import StoredNetwork, networks_column, read_networks_column
from core.models import Pupil, School, Staff


class IdentityProblem(StrEnum):
    """Why an identity did not resolve to exactly one person; the value is stable (JSON)."""

    UNKNOWN_SCHOOL = "unknown_school"
    UNKNOWN_PERSON = "unknown_person"
    AMBIGUOUS_PERSON = "ambiguous_person"


@dataclass(frozen=True, slots=True)
class LoginIdentity:
    """Who logs in, in the source's terms.

    For Basispoort: the school's ``instellingRef`` (``school_ref``) or institution id
    (``school_id``), plus the user's Basispoort id (``user_id``) or ECK iD (``eckid``). When
    both user keys are given the source id wins and the ECK iD is the fallback, as in the sync.
    """

    source: str
    school_ref: str | None = None
    school_id: str | None = None
    user_id: str | None = None
    eckid: str | None = None


@dataclass(frozen=True, slots=True)
class ResolvedIdentity:
    """The synced school and person (left people included), or the problem that stopped it.

    ``networks`` are the school's networks, read in the same statement (for the IP policy,
    through core.login.networks.allowed_networks within decide_login).
    """

    school: LoginSchool | None
    person: LoginPerson | None = None
    kind: PersonKind | None = None
    problem: IdentityProblem | None = None
    networks: tuple[StoredNetwork, ...] = ()


def resolve_identity(session: Session, identity: LoginIdentity) -> ResolvedIdentity:
    """Find the school, then the pupil or staff member within it: one statement for all.

    The school by reference and/or source id (both must match when both are given; a
    reference shared after a merger means the school still in use); then the person by source
    id, else by ECK iD. More than one candidate is ambiguous, unless exactly one of them has
    not left.
    """
    if not identity.school_ref and not identity.school_id:
        return ResolvedIdentity(None, problem=IdentityProblem.UNKNOWN_SCHOOL)
    # The source id first, the ECK iD as the fallback, as in the sync.
    keys = [(c, v) for c, v in (("source_id", identity.user_id), ("eckid", identity.eckid)) if v]
    query = _login_query(
        bool(identity.school_ref), bool(identity.school_id), tuple(c for c, _ in keys)
    )
    values = {"source": identity.source, "ref": identity.school_ref, "id": identity.school_id}
    values.update(keys)
    # Plain columns on the session's connection, not ORM objects (core.login.facts says why);
    # flushed first, as Session.execute would.
    session.flush()
    rows = session.connection().execute(query, values).all()
    schools = {row[0]: LoginSchool(*row[:_SCHOOL_END]) for row in rows}
    if len(schools) > 1:
        schools = {k: s for k, s in schools.items() if s.merged_into_source_id is None}
    if len(schools) != 1:
        return ResolvedIdentity(None, problem=IdentityProblem.UNKNOWN_SCHOOL)
    [(school_id, school)] = schools.items()
    mine = [row for row in rows if row[0] == school_id]
    networks = read_networks_column(mine[0][-1])
    # The outer joins repeat a pupil for every staff member found, and the other way round.
    people: dict[tuple[PersonKind, int], dict[str, Any]] = {}
    for row in mine:
        for kind, (begin, end) in _PERSON_SPANS.items():
            if row[begin] is not None:
                people[(kind, row[begin])] = dict(zip(_READ[kind], row[begin:end], strict=True))
    for column, value in keys:
        candidates = [(k, p) for (k, _), p in people.items() if p[column] == value]
        if not candidates:
            continue
        current = [c for c in candidates if c[1]["left_at"] is None]
        if len(candidates) == 1 or len(current) == 1:
            kind, found = candidates[0] if len(candidates) == 1 else current[0]
            person = person_from_values(kind, found)
            return ResolvedIdentity(school, person, kind, networks=networks)
        return ResolvedIdentity(school, problem=IdentityProblem.AMBIGUOUS_PERSON, networks=networks)
    return ResolvedIdentity(school, problem=IdentityProblem.UNKNOWN_PERSON, networks=networks)


# What the statement reads per kind of person: their columns, then the keys they are found by.
_READ: dict[PersonKind, tuple[str, ...]] = {
    kind: (*columns, "eckid") for kind, columns in PERSON_COLUMNS.items()
}
_TABLES: dict[PersonKind, Table] = {"pupil": Pupil.__table__, "staff": Staff.__table__}  # type: ignore[dict-item]


# Where each part sits in a row: the school's columns, then each kind's in _TABLES' order (as
# _login_query selects them), then the school's networks.
_SCHOOL_END = len(SCHOOL_COLUMNS)


def _person_spans() -> dict[PersonKind, tuple[int, int]]:
    spans: dict[PersonKind, tuple[int, int]] = {}
    at = _SCHOOL_END
    for kind in _TABLES:
        spans[kind] = (at, at + len(_READ[kind]))
        at += len(_READ[kind])
    return spans


_PERSON_SPANS = _person_spans()


# The login's statement is built once per shape, with bound parameters: building a statement
# and its cache key anew at every login cost more than running it (docs/benchmarks.md,
# 'Logins'). One statement, not one per table: each round trip cost as much as the rest.
@cache
def _login_query(by_ref: bool, by_id: bool, person_keys: tuple[str, ...]) -> Select[Any]:
    school: Table = School.__table__  # type: ignore[assignment]
    columns = [school.c[name] for name in SCHOOL_COLUMNS]
    for kind, table in _TABLES.items():
        columns += [table.c[name] for name in _READ[kind]]
    query = select(*columns, networks_column()).where(school.c.source == bindparam("source"))
    if by_ref:
        query = query.where(school.c.source_ref == bindparam("ref"))
    if by_id:
        query = query.where(school.c.source_school_id == bindparam("id"))
    for table in _TABLES.values():
        matches = [table.c[column] == bindparam(column) for column in person_keys]
        query = query.outerjoin(
            table,
            and_(
                table.c.school_id == school.c.id,
                table.c.source == bindparam("source"),
                or_(*matches) if matches else false(),
            ),
        )
    return query
