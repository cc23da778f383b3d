"""The lease on a school: one sync at a time, lapsing after a crash, fenced against lapses."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Row,
    Select,
    Update,
    and_,
    bindparam,
    case,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from core.db import constant, follow_loaded
from core.errors import LeaseLost, SchoolNotFound, SyncBusy
from core.models import Outcome, School, SyncRun, utcnow

log = structlog.get_logger()

# Core statements on the tables: these run for every message, and the ORM's bulk-update
# machinery costs more than the round trip itself.
_school = School.__table__
_run = SyncRun.__table__

Clock = Callable[[], datetime]

_NOTHING: tuple[ColumnElement[Any], ...] = ()
_RELEASE = (
    update(_school)
    .where(
        _school.c.id == bindparam("school_id"),
        _school.c.lease_token == bindparam("token"),
        _school.c.lease_owner == bindparam("owner"),
    )
    .values(lease_owner=None, lease_expires_at=None)
)


@dataclass(frozen=True, slots=True)
class Lease:
    """A claim on one school; ``token`` grows with every acquisition and fences older holders."""

    school_id: int
    owner: str
    token: int
    expires_at: datetime
    clock: Clock = utcnow

    def fence(self, session: Session, values: Mapping[str, Any] | None = None) -> str:
        """Raise LeaseLost unless this lease still holds; call it right before committing.

        One UPDATE re-checks token, owner and expiry in its WHERE clause. It takes the row lock
        on PostgreSQL (as SELECT ... FOR UPDATE would) and the write lock on SQLite, so no
        successor can acquire the lease between this check and the caller's commit. The same
        statement writes ``values`` (school columns, see write_school) and returns the
        school's consent as it is now, so the caller need not ask again before committing.
        """
        consent = write_school(session, self.school_id, values or {}, self)
        if consent is None:
            raise LeaseLost(
                f"school {self.school_id}: lease {self.token} of {self.owner} lapsed or was taken"
            )
        return consent

    def _ours(self):  # type: ignore[no-untyped-def]
        return and_(
            _school.c.id == self.school_id,
            _school.c.lease_token == self.token,
            _school.c.lease_owner == self.owner,
        )


# Built write_school statements by the columns they write and whether they are fenced.
_writes: dict[tuple[tuple[str, ...], bool], Update] = {}


def write_school(
    session: Session, school_id: int, values: Mapping[str, Any], lease: Lease | None = None
) -> str | None:
    """Write ``values`` (school column -> plain value) to the school row and return its consent.

    With ``lease``, only while that lease holds (see Lease.fence). None when no row matched:
    the lease is lost, or there is no such school. One UPDATE; its statement is built once per
    set of columns (it runs for every school synced). A copy of the school loaded in the
    session follows suit.
    """
    key = (tuple(values), lease is not None)
    statement = _writes.get(key)
    if statement is None:
        where = [_school.c.id == bindparam("school_id")]
        if lease is not None:
            where += [
                _school.c.lease_token == bindparam("token"),
                _school.c.lease_owner == bindparam("owner"),
                _school.c.lease_expires_at > bindparam("now"),
            ]
        # Nothing to write still locks the row: the fence's guarantee rests on that lock.
        written = {k: bindparam(f"set_{k}") for k in values} or {
            "lease_token": _school.c.lease_token
        }
        statement = update(_school).where(*where).values(written).returning(_school.c.consent)
        _writes[key] = statement
    params = {f"set_{k}": v for k, v in values.items()}
    params["school_id"] = school_id
    if lease is not None:
        params.update(token=lease.token, owner=lease.owner, now=lease.clock())
    consent = session.execute(statement, params).scalar_one_or_none()
    if consent is not None:
        follow_loaded(session, School, school_id, values)
    return consent


def acquire(
    session: Session, school_id: int, owner: str, seconds: float, *, clock: Clock = utcnow
) -> Lease:
    """Take the school's lease if it is free or expired; commits so other workers see it.

    Raises SyncBusy when another holder's lease has not expired, SchoolNotFound when there is
    no such school. The compare-and-set is a single UPDATE, atomic on every backend. A lease
    ``owner`` still holds (an earlier attempt of the same message could not give it back: the
    database was down) is taken again with a new token, which fences that attempt.
    """
    held, _ = acquire_reading(session, school_id, owner, seconds, _NOTHING, clock=clock)
    return held


def acquire_reading(
    session: Session,
    school_id: int,
    owner: str,
    seconds: float,
    columns: Sequence[ColumnElement[Any]],
    *,
    params: Mapping[str, Any] | None = None,
    clock: Clock = utcnow,
) -> tuple[Lease, Row[Any]]:
    """acquire(), also returning ``columns`` of the school row, read by the same UPDATE.

    ``columns`` are expressions on the school table (subqueries may correlate with it); read
    them from the row by name (label them; the row may hold the lease token too). One round
    trip instead of one per question. Pass the same ``columns`` object every time: its
    statement is built once and kept (it runs for every message). Their bindparams get
    ``params``, and may use ``owner`` too.
    """
    now = clock()
    expires_at = now + timedelta(seconds=seconds)
    taking, reading = _acquire_statements(columns, _returning_misreads(session))
    values = {**(params or {}), "school_id": school_id, "owner": owner, "now": now}
    taken = session.execute(taking, {**values, "expires_at": expires_at}).first()
    read = taken
    if taken is not None and reading is not None:
        read = session.execute(reading, values).one()
    session.commit()
    if taken is None:
        holder = session.execute(
            select(_school.c.lease_owner, _school.c.lease_expires_at).where(
                _school.c.id == school_id
            )
        ).first()
        if holder is None:
            raise SchoolNotFound(f"no school with id {school_id}")
        raise SyncBusy(
            f"school {school_id} is leased by {holder.lease_owner} until {holder.lease_expires_at}"
        )
    assert read is not None
    return Lease(school_id, owner, int(taken.lease_token), expires_at, clock), read


# Built statements by id(columns) and backend quirk; the columns are kept to keep their id.
_built: dict[tuple[int, bool], tuple[Sequence[Any], Update, Select[Any] | None]] = {}


def _acquire_statements(
    columns: Sequence[ColumnElement[Any]], select_after: bool
) -> tuple[Update, Select[Any] | None]:
    key = (id(columns), select_after)
    if key not in _built:
        free = or_(is_free(bindparam("now")), _school.c.lease_owner == bindparam("owner"))
        taking = (
            update(_school)
            .where(_school.c.id == bindparam("school_id"), free)
            .values(
                lease_owner=bindparam("owner"),
                lease_expires_at=bindparam("expires_at"),
                lease_token=_school.c.lease_token + 1,
            )
            .returning(_school.c.lease_token, *([] if select_after else columns))
        )
        reading = None
        if select_after and columns:
            reading = select(*columns).where(_school.c.id == bindparam("school_id"))
        _built[key] = (columns, taking, reading)
    return _built[key][1], _built[key][2]


def is_free(now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    """The condition on school rows whose lease nobody holds at ``now`` (or its param)."""
    return or_(
        _school.c.lease_owner.is_(None),
        _school.c.lease_expires_at.is_(None),
        _school.c.lease_expires_at <= now,
    )


def _returning_misreads(session: Session) -> bool:
    # SQLite (3.40) evaluates subqueries in RETURNING without correlating them with the
    # updated row: they answered for another school. There a SELECT in the same transaction
    # reads them instead.
    return session.get_bind().dialect.name == "sqlite"


def renew(session: Session, lease: Lease, seconds: float) -> Lease:
    """Extend a lease that still holds; commits. Raises LeaseLost when it no longer does."""
    expires_at = lease.clock() + timedelta(seconds=seconds)
    renewed = session.execute(
        update(_school)
        .where(lease._ours(), _school.c.lease_expires_at > lease.clock())
        .values(lease_expires_at=expires_at)
    )
    session.commit()
    if renewed.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(f"school {lease.school_id}: lease {lease.token} could not be renewed")
    return replace(lease, expires_at=expires_at)


def release(session: Session, lease: Lease) -> bool:
    """Give the lease back if it is still ours (a successor's lease is left alone); commits."""
    released = session.execute(
        _RELEASE, {"school_id": lease.school_id, "token": lease.token, "owner": lease.owner}
    )
    session.commit()
    return released.rowcount == 1  # type: ignore[attr-defined]


def stale_runs() -> ColumnElement[bool]:
    """The condition on sync_run rows left 'running' (to a new lease holder: by forerunners)."""
    return _run.c.outcome == constant(Outcome.RUNNING)


ABANDONED = "abandoned: its worker stopped or lost the lease before the run ended"


def abandon_stale_runs(session: Session, lease: Lease, known: tuple[str, str] | None = None) -> int:
    """Mark runs left 'running' by earlier holders as failed; commits; returns how many.

    Only called by the lease holder, before it starts its own run: while it holds the lease no
    other run of the school can be legitimately running, so such a row belongs to a worker
    that crashed, lost its lease, or could not record its failure (the database was down).
    ``known``: (worker, error) of such an earlier attempt; its runs get that error as reason.
    """
    error: Any = ABANDONED
    if known is not None:
        worker, reason = known
        error = case(
            (_run.c.worker == worker, f"{reason} (recorded by the next attempt)"), else_=error
        )
    stale = session.execute(
        update(_run)
        .where(_run.c.school_id == lease.school_id, stale_runs())
        .values(outcome=Outcome.FAILED, finished_at=lease.clock(), error=error)
    )
    session.commit()
    count = int(stale.rowcount)  # type: ignore[attr-defined]
    if count:
        log.warning("sync_runs_abandoned", school_id=lease.school_id, runs=count)
    return count
