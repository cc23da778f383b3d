"""Resolve a login identity (a source's school and user keys) to the synced person and school."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from core.models import Pupil, School, Staff

if TYPE_CHECKING:
    from core.login.attempt import PersonKind


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
    """The synced school and person (left people included), or the problem that stopped it."""

    school: School | None
    person: Pupil | Staff | None = None
    kind: PersonKind | None = None
    problem: IdentityProblem | None = None


def resolve_identity(session: Session, identity: LoginIdentity) -> ResolvedIdentity:
    """Find the school, then the pupil or staff member within it."""
    school = find_school(session, identity)
    if school is None:
        return ResolvedIdentity(None, problem=IdentityProblem.UNKNOWN_SCHOOL)
    for column, value in (("source_id", identity.user_id), ("eckid", identity.eckid)):
        candidates = _people(session, school.id, identity.source, column, value) if value else []
        if not candidates:
            continue
        current = [c for c in candidates if c[1].left_at is None]
        if len(candidates) == 1 or len(current) == 1:
            kind, person = candidates[0] if len(candidates) == 1 else current[0]
            return ResolvedIdentity(school, person, kind)
        return ResolvedIdentity(school, problem=IdentityProblem.AMBIGUOUS_PERSON)
    return ResolvedIdentity(school, problem=IdentityProblem.UNKNOWN_PERSON)


def find_school(session: Session, identity: LoginIdentity) -> School | None:
    """The school with the given reference and/or source id; when both are given, both match."""
    if not identity.school_ref and not identity.school_id:
        return None
    query = _school_query(bool(identity.school_ref), bool(identity.school_id))
    values = {"source": identity.source, "ref": identity.school_ref, "id": identity.school_id}
    schools = list(session.scalars(query, values))
    # A reference can outlive a merger: then the school still in use is the one meant.
    if len(schools) > 1:
        schools = [s for s in schools if s.merged_into_source_id is None]
    return schools[0] if len(schools) == 1 else None


# The queries of a login are built once, with bound parameters: building a statement and its
# cache key anew at every login cost more than running it (docs/benchmarks.md, 'Logins').
@cache
def _school_query(by_ref: bool, by_id: bool) -> Select[tuple[School]]:
    query = select(School).where(School.source == bindparam("source"))
    if by_ref:
        query = query.where(School.source_ref == bindparam("ref"))
    if by_id:
        query = query.where(School.source_school_id == bindparam("id"))
    return query.limit(3)


@cache
def _people_query(model: type[Pupil | Staff], column: str) -> Select[tuple[Pupil | Staff]]:
    return (
        select(model)
        .where(
            model.school_id == bindparam("school_id"),
            model.source == bindparam("source"),
            getattr(model, column) == bindparam("value"),
        )
        .limit(3)
    )


def _people(
    session: Session, school_id: int, source: str, column: str, value: str
) -> list[tuple[PersonKind, Pupil | Staff]]:
    found: list[tuple[PersonKind, Pupil | Staff]] = []
    values = {"school_id": school_id, "source": source, "value": value}
    for kind, model in (("pupil", Pupil), ("staff", Staff)):
        people = session.scalars(_people_query(model, column), values)
        found.extend((kind, person) for person in people)  # type: ignore[misc]
    return found
