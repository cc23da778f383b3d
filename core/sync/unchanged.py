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

import structlog
from sqlalchemy import ColumnElement, and_, bindparam, exists, insert, select, update
from sqlalchemy.orm import Session

from core import lease
from core.db import single_statements
from core.errors import InternalError, KoppelError, SchoolNotFound
from core.models import School, SyncRun, utcnow
from core.plugins import Plugins
from core.sync.runs import (
    GOOD_OUTCOMES,
    attach_run,
    describe_error,
    end_run,
    insert_run,
    new_run,
    run_values,
)
from core.sync.state import SchoolState, state_columns

log = structlog.get_logger()

_school = School.__table__
_run = SyncRun.__table__

# Outcomes of a run that need no repeat tonight; "failed" and "running" do not count.
SETTLED = ("succeeded", "unchanged", "held", "skipped")


def settled_since() -> ColumnElement[bool]:
    """Has the school a run that started at or after the ``since`` parameter and did not fail?"""
    return exists().where(
        _run.c.school_id == _school.c.id,
        _run.c.started_at >= bindparam("since"),
        _run.c.outcome.in_(SETTLED),
    )


# Built once: every message reads it. since/now/school_id are its parameters.
_PROBE = select(
    settled_since(),
    exists().where(_run.c.school_id == _school.c.id, _run.c.outcome == "running"),
    _school.c.lease_token,
    lease.is_free(bindparam("now")),
    *state_columns(),
).where(_school.c.id == bindparam("school_id"))

_CONFIRM = update(_school).where(
    _school.c.id == bindparam("school_id"),
    _school.c.lease_token == bindparam("token"),
    lease.is_free(bindparam("now")),
    _school.c.source_mutated_at == bindparam("stamp"),
    and_(_school.c.consent == "granted", _school.c.active.is_(True)),
    _school.c.merged_into_source_id.is_(None),
)


_confirmed = (
    _CONFIRM.values(last_synced_at=bindparam("now")).returning(_school.c.id).cte("confirmed")
)
_CONFIRM_AND_RECORD = (
    insert(_run)
    .from_select(
        [c.key for c in _run.columns if c.key != "id"],
        select(
            *(
                _confirmed.c.id if c.key == "school_id" else bindparam(f"r_{c.key}", type_=c.type)
                for c in _run.columns
                if c.key != "id"
            )
        ),
    )
    .add_cte(_confirmed)
    .returning(_run.c.id)
)


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


def confirm_unchanged_unleased(
    session: Session, plugins: Plugins, probe: Probe, *, trigger: str, worker: str | None
) -> tuple[SyncRun | None, datetime | None]:
    """Ask the stamp; record an unchanged run if the school is still in step (committed).

    Returns (the run, the stamp), or (None, the stamp read or None) when the school must be
    synced the full way; a source error is left to that way too, which records it.
    """
    state = probe.state
    started, clock = utcnow(), time.monotonic()
    try:
        stamp = plugins.source(state.source).latest_change(state.source_school_id)
    except KoppelError:
        return None, None
    if stamp is None or stamp != state.source_mutated_at:
        return None, stamp
    now = utcnow()
    run = new_run(state.id, trigger, worker, "unchanged", started, now)
    cas = {"school_id": state.id, "token": probe.lease_token, "now": now, "stamp": stamp}
    with single_statements(session):
        if session.get_bind().dialect.name == "postgresql":
            # One statement: the compare-and-set and the run's insert (a data-modifying CTE).
            run_id = session.execute(
                _CONFIRM_AND_RECORD, {**cas, **{f"r_{k}": v for k, v in run_values(run).items()}}
            ).scalar_one_or_none()
            if run_id is None:
                return None, stamp
            attach_run(session, run, run_id)
        else:
            confirmed = session.execute(_CONFIRM, {**cas, "last_synced_at": now})
            if confirmed.rowcount != 1:  # type: ignore[attr-defined]
                return None, stamp
            insert_run(session, run)
    with structlog.contextvars.bound_contextvars(school_id=state.id, run_id=run.id):
        error = None
        try:
            plugins.before_school_sync(school_id=state.id, source=state.source, run_id=run.id)
        except Exception as exc:  # as in the engine: a failing start hook fails the run
            error = describe_error(exc)
            with single_statements(session):
                end_run(session, run.id, "failed", error=error)
            raise InternalError(f"run {run.id} failed: {error}") from None
        finally:
            plugins.after_school_sync(
                school_id=state.id,
                source=state.source,
                run_id=run.id,
                outcome=run.outcome,
                counts={},
            )
            (log.warning if error else log.info)(
                "sync_run",
                outcome=run.outcome,
                trigger=trigger,
                counts={},
                error=error,
                duration_ms=round((time.monotonic() - clock) * 1000),
            )
    return run, stamp
