"""A school as a sync sees it: its state, read before the source is asked; its columns after."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, exists, select
from sqlalchemy.orm import Session

from core.db import constant
from core.errors import SchoolNotFound
from core.models import HeldPlan, Outcome, School, SyncRun
from core.snapshot import SchoolSnapshot

_school = School.__table__
_run = SyncRun.__table__
_held = HeldPlan.__table__


@dataclass(frozen=True, slots=True)
class SchoolState:
    """The school's link and change stamp, and how its latest finished run ended."""

    id: int
    source: str
    source_school_id: str
    consent: str
    active: bool
    merged_into_source_id: str | None
    source_mutated_at: datetime | None
    last_outcome: str | None
    # Is a plan of the school held, waiting for a decision? None: not asked (then an applying
    # sync retires held plans without knowing). Read with the lease (see held_pending).
    held: bool | None = None

    @classmethod
    def from_row(cls, row: Row[Any]) -> SchoolState:
        """The state in a row read with state_columns() (and held_pending(), if it was), by
        column name: the row may hold other columns too, in any order."""
        found = row._mapping
        return cls(**{name: found[name] for name in _FIELDS if name in found})


_FIELDS = tuple(f.name for f in fields(SchoolState))


def last_outcome() -> ColumnElement[Any]:
    """How the school's latest finished run ended (a subquery on the school table)."""
    return (
        select(_run.c.outcome)
        .where(_run.c.school_id == _school.c.id, _run.c.outcome != constant(Outcome.RUNNING))
        .order_by(_run.c.started_at.desc(), _run.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def state_columns() -> tuple[ColumnElement[Any], ...]:
    """The school-table expressions a SchoolState is made of, named as its fields."""
    return (
        _school.c.id,
        _school.c.source,
        _school.c.source_school_id,
        _school.c.consent,
        _school.c.active,
        _school.c.merged_into_source_id,
        _school.c.source_mutated_at,
        last_outcome().label("last_outcome"),
    )


def held_pending() -> ColumnElement[bool]:
    """Has the school a plan held for a decision? (a column for reads of the school table,
    named as SchoolState's field)."""
    return exists().where(_held.c.school_id == _school.c.id, _held.c.status == "held").label("held")


def read_state(session: Session, school_id: int) -> SchoolState:
    """The school's state; raises SchoolNotFound. Call it before the run is started."""
    row = session.execute(select(*state_columns()).where(_school.c.id == school_id)).first()
    if row is None:
        raise SchoolNotFound(
            f"no school with id {school_id}", hint="check the id; 'koppel check BRIN6' links one"
        )
    return SchoolState.from_row(row)


def update_school(
    school: School, snapshot: SchoolSnapshot, stamp: datetime | None, now: datetime
) -> None:
    """Store what the snapshot says of the school itself, after its plan was applied."""
    for column, value in school_values(snapshot, stamp, now).items():
        setattr(school, column, value)


def school_values(
    snapshot: SchoolSnapshot, stamp: datetime | None, now: datetime
) -> dict[str, Any]:
    """The school's columns to write after its plan was applied (a missing name or reference
    keeps the stored one: it is left out)."""
    info = snapshot.school
    values: dict[str, Any] = {}
    if info.name:
        values["name"] = info.name
    if info.ref:
        values["source_ref"] = info.ref
    values["active"] = info.active
    values["merged_into_source_id"] = info.merged_into
    # The data fetched is at least as new as a stamp read before the fetch.
    values["source_mutated_at"] = snapshot.mutated_at or stamp
    values["last_synced_at"] = now
    return values
