"""An unchanged school confirmed without the lease: state read, stamp asked, one compare-and-set.

Most schools on most nights did not change. For them a sync message needs no lease and no
'running' run: it reads the school once, asks the source's change stamp, and records the run as
unchanged only if, at that moment, the school still holds that stamp and its lease token has not
moved (so no sync of it started in between) and nobody holds the lease. Anything else, and every
school that may have changed, goes the full way (lease, run, fetch).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import (
    ColumnElement,
    Update,
    and_,
    bindparam,
    exists,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from core import lease
from core.db import constant, single_statements
from core.errors import InternalError, KoppelError, SchoolNotFound
from core.hot import HotStatement
from core.models import School, SyncRun, utcnow
from core.plugins import Plugins
from core.sync.runs import (
    GOOD_OUTCOMES,
    attach_run,
    describe_error,
    end_run,
    insert_run_values,
    new_run_values,
)
from core.sync.state import SchoolState, state_columns

log = structlog.get_logger()

_school = School.__table__
_run = SyncRun.__table__

# Outcomes of a run that need no repeat tonight; "failed" and "running" do not count.
SETTLED = ("succeeded", "unchanged", "held", "skipped")


def _fixed(values: tuple[str, ...]) -> list[ColumnElement[str]]:
    """A constant IN list written into the SQL (an expanding one is re-rendered per execution,
    and parameters would leave the generic plan guessing: core.db.constant)."""
    return [constant(v) for v in values]


def settled_since() -> ColumnElement[bool]:
    """Has the school a run that started at or after the ``since`` parameter and did not fail?"""
    return exists().where(
        _run.c.school_id == _school.c.id,
        _run.c.started_at >= bindparam("since"),
        _run.c.outcome.in_(_fixed(SETTLED)),
    )


# Some run of the school is (or was left) 'running'.
_RUNNING = exists().where(_run.c.school_id == _school.c.id, _run.c.outcome == constant("running"))
# The school is linked and synced: consent given, active, not merged into another.
_LINKED = and_(
    _school.c.consent == "granted",
    _school.c.active.is_(True),
    _school.c.merged_into_source_id.is_(None),
)

# Built once: every message reads it. since/now/school_id are its parameters.
_PROBE = select(
    settled_since(),
    _RUNNING,
    _school.c.lease_token,
    lease.is_free(bindparam("now")),
    *state_columns(),
).where(_school.c.id == bindparam("school_id"))

_CONFIRM = (
    update(_school)
    .where(
        _school.c.id == bindparam("school_id"),
        _school.c.lease_token == bindparam("token"),
        lease.is_free(bindparam("now")),
        _school.c.source_mutated_at == bindparam("stamp"),
        _LINKED,
    )
    # updated_at spelled out: a hot statement applies no onupdate default (core/hot.py).
    .values(last_synced_at=bindparam("now"), updated_at=bindparam("now"))
)


def _record_if(confirm: Update) -> HotStatement:
    """PostgreSQL: ``confirm`` (an UPDATE of the school) and the run's insert as one statement.

    A data-modifying CTE: the run is inserted only when the UPDATE matched the school.
    """
    confirmed = confirm.returning(_school.c.id).cte("confirmed")
    columns = [c for c in _run.columns if c.key != "id"]
    values = (
        confirmed.c.id if c.key == "school_id" else bindparam(f"r_{c.key}", type_=c.type)
        for c in columns
    )
    return HotStatement(
        insert(_run)
        .from_select([c.key for c in columns], select(*values))
        .add_cte(confirmed)
        .returning(_run.c.id)
    )


_CONFIRM_AND_RECORD = _record_if(_CONFIRM)

# The known-school way (confirm_known): everything the probe and _CONFIRM check, in the
# UPDATE itself. One statement sees one moment, so no lease token is needed: a sync that
# holds the lease, has a 'running' row, or already settled the message makes it match nothing.
_last_outcome = state_columns()[-1]
_CONFIRM_KNOWN = (
    update(_school)
    .where(
        _school.c.id == bindparam("school_id"),
        _school.c.source == bindparam("known_source"),
        _school.c.source_school_id == bindparam("known_source_school_id"),
        _school.c.source_mutated_at == bindparam("stamp"),
        _LINKED,
        lease.is_free(bindparam("now")),
        ~settled_since(),
        ~_RUNNING,
        _last_outcome.in_(_fixed(GOOD_OUTCOMES)),
    )
    .values(last_synced_at=bindparam("now"), updated_at=bindparam("now"))
)
_CONFIRM_KNOWN_AND_RECORD = _record_if(_CONFIRM_KNOWN)


@dataclass(frozen=True, slots=True)
class Probe:
    """What a sync message first reads of its school."""

    settled: bool  # a run since the message's ``since`` ended without failing
    running: bool  # some run of the school is (or was left) 'running'
    lease_token: int
    lease_free: bool
    state: SchoolState


def read_probe(session: Session, school_id: int, since: datetime) -> Probe:
    """The school's probe (one SELECT); raises SchoolNotFound."""
    row = session.execute(_PROBE, {"school_id": school_id, "since": since, "now": utcnow()}).first()
    if row is None:
        raise SchoolNotFound(f"no school with id {school_id}")
    settled, running, token, free, *state = row
    return Probe(bool(settled), bool(running), int(token), bool(free), SchoolState(*state))


def may_be_unchanged(probe: Probe, plugins: Plugins) -> bool:
    """Could the school be confirmed unchanged without the lease? (else: the full way)."""
    state = probe.state
    return (
        probe.lease_free
        and not probe.running
        and state.consent == "granted"
        and state.active
        and state.merged_into_source_id is None
        and state.source_mutated_at is not None
        and state.last_outcome in GOOD_OUTCOMES
        and plugins.source(state.source).capabilities.change_stamps
    )


@dataclass(frozen=True, slots=True)
class KnownSchool:
    """A school as a worker remembers it: who it is at its source, and its stamp then."""

    id: int
    source: str
    source_school_id: str
    stamp: datetime


@dataclass(frozen=True, slots=True)
class Asked:
    """The source's change stamp as a message asked it; None: missing, or the source failed."""

    stamp: datetime | None


def ask_stamp(plugins: Plugins, source: str, source_school_id: str) -> Asked:
    """The school's change stamp; a source error is left to the full way, which records it."""
    try:
        return Asked(plugins.source(source).latest_change(source_school_id))
    except KoppelError:
        return Asked(None)


def confirm_known(
    session: Session,
    plugins: Plugins,
    known: KnownSchool,
    *,
    since: datetime,
    trigger: str,
    worker: str | None,
) -> tuple[int | None, Asked]:
    """Ask the stamp first, then confirm in one statement (no probe); committed.

    For a school the worker already knows (workers/known.py). Returns (the unchanged run's id,
    what was asked), or (None, what was asked) when the message must read the school after
    all: the school changed, is leased, has a run going, or the message is settled; the caller
    hands ``Asked`` on so the source is not asked twice. No ORM objects: this is the path most
    messages take.
    """
    started, clock = utcnow(), time.monotonic()
    asked = ask_stamp(plugins, known.source, known.source_school_id)
    if asked.stamp is None or asked.stamp != known.stamp:
        return None, asked
    now = utcnow()
    params = {
        "school_id": known.id,
        "known_source": known.source,
        "known_source_school_id": known.source_school_id,
        "stamp": asked.stamp,
        "now": now,
        "since": since,
    }
    run = new_run_values(known.id, trigger, worker, "unchanged", started, now)
    run_id = _confirm(session, (_CONFIRM_KNOWN, _CONFIRM_KNOWN_AND_RECORD), params, run)
    if run_id is not None:
        _announce(plugins, session, run_id, known.id, known.source, trigger, clock)
    return run_id, asked


def confirm_unchanged_unleased(
    session: Session,
    plugins: Plugins,
    probe: Probe,
    *,
    trigger: str,
    worker: str | None,
    asked: Asked | None = None,
) -> tuple[SyncRun | None, datetime | None]:
    """Ask the stamp (unless ``asked``); record an unchanged run if the school is still in step.

    Returns (the run, the stamp), or (None, the stamp read or None) when the school must be
    synced the full way; a source error is left to that way too, which records it.
    """
    state = probe.state
    started, clock = utcnow(), time.monotonic()
    if asked is None:
        asked = ask_stamp(plugins, state.source, state.source_school_id)
    stamp = asked.stamp
    if stamp is None or stamp != state.source_mutated_at:
        return None, stamp
    now = utcnow()
    values = new_run_values(state.id, trigger, worker, "unchanged", started, now)
    cas = {"school_id": state.id, "token": probe.lease_token, "now": now, "stamp": stamp}
    run_id = _confirm(session, (_CONFIRM, _CONFIRM_AND_RECORD), cas, values)
    if run_id is None:
        return None, stamp
    run = attach_run(session, SyncRun(**values), run_id)
    _announce(plugins, session, run_id, state.id, state.source, trigger, clock)
    return run, stamp


def _confirm(
    session: Session,
    statements: tuple[Update, HotStatement],
    params: dict[str, Any],
    run: dict[str, object],
) -> int | None:
    """The compare-and-set and the run's record (``run``: its values); the run's id, or None
    (nothing written) when the compare-and-set matched nothing."""
    confirm, confirm_and_record = statements
    with single_statements(session):
        # On the connection, not through the session: no objects here, and the session's
        # execute adds about a tenth of an unchanged message's CPU.
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            # One statement: the compare-and-set and the run's insert (a data-modifying CTE).
            values = {f"r_{k}": v for k, v in run.items()}
            return confirm_and_record.scalar(connection, {**params, **values})
        if connection.execute(confirm, params).rowcount != 1:
            return None
        return insert_run_values(session, run)


def _announce(
    plugins: Plugins,
    session: Session,
    run_id: int,
    school_id: int,
    source: str,
    trigger: str,
    clock: float,
) -> None:
    """The plugins' start and end hooks and the run's log line, as for any other run."""
    with structlog.contextvars.bound_contextvars(school_id=school_id, run_id=run_id):
        error = None
        try:
            plugins.before_school_sync(school_id=school_id, source=source, run_id=run_id)
        except Exception as exc:  # as in the engine: a failing start hook fails the run
            error = describe_error(exc)
            with single_statements(session):
                end_run(session, run_id, "failed", error=error)
            raise InternalError(f"run {run_id} failed: {error}") from None
        finally:
            outcome = "failed" if error else "unchanged"
            plugins.after_school_sync(
                school_id=school_id, source=source, run_id=run_id, outcome=outcome, counts={}
            )
            (log.warning if error else log.info)(
                "sync_run",
                outcome=outcome,
                trigger=trigger,
                counts={},
                error=error,
                duration_ms=round((time.monotonic() - clock) * 1000),
            )
