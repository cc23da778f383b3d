"""Is a school unchanged? One decision, made by one statement that checks everything at once.

Most schools on most nights did not change. For them the source's change stamp is asked and one
UPDATE of the school records the run as unchanged only if, at that moment, the school still is
who the caller thinks, holds that stamp, is synced (School.syncable), nobody else holds its
lease, no run of it is running or settled the message already, and its last run was good. One
statement sees one moment, so no lease is taken and nothing read before is trusted. Anything
else goes the full way (lease, run, fetch). The worker (for schools it knows) and the engine
(for the others) both decide here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Update, and_, bindparam, exists, insert, or_, select, update
from sqlalchemy.orm import Session

from core import lease
from core.db import constant
from core.errors import KoppelError
from core.hot import HotStatement
from core.models import Outcome, School, SyncRun, utcnow
from core.plugins import Plugins
from core.sync.life import RunLife, run_life
from core.sync.runs import GOOD_OUTCOMES, end_run, insert_run_values, new_run_values
from core.sync.state import last_outcome
from core.sync.work import UnitOfWork

_school = School.__table__
_run = SyncRun.__table__

# Outcomes of a run that need no repeat tonight; "failed" and "running" do not count.
SETTLED = (Outcome.SUCCEEDED, Outcome.UNCHANGED, Outcome.HELD, Outcome.SKIPPED)


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


_RUNNING = exists().where(
    _run.c.school_id == _school.c.id, _run.c.outcome == constant(Outcome.RUNNING)
)
_LAST_OUTCOME = last_outcome()

# The decision. Built once: most messages of a night run it. ``token``: the lease the caller
# holds (None: it holds none, and nobody else may). Public so that its plan can be examined.
DECISION = (
    update(_school)
    .where(
        _school.c.id == bindparam("school_id"),
        _school.c.source == bindparam("known_source"),
        _school.c.source_school_id == bindparam("known_source_school_id"),
        _school.c.source_mutated_at == bindparam("stamp"),
        School.syncable,
        ~settled_since(),
        ~_RUNNING,
        or_(
            and_(lease.is_free(bindparam("now")), _LAST_OUTCOME.in_(_fixed(GOOD_OUTCOMES))),
            # The lease holder read the last outcome with its lease (before it marked runs
            # abandoned by a dead forerunner failed: they wrote nothing).
            _school.c.lease_token == bindparam("token"),
        ),
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


_CONFIRM_AND_RECORD = _record_if(DECISION)


@dataclass(frozen=True, slots=True)
class KnownSchool:
    """A school as its caller knows it: who it is at its source, and the stamp it holds."""

    id: int
    source: str
    source_school_id: str
    stamp: datetime


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the decision found: the unchanged run recorded (its id and column values), or none
    (``run_id`` None: go the full way); ``stamp`` is the source's stamp as asked (None: missing,
    or the source failed), so the full way need not ask again."""

    stamp: datetime | None
    run_id: int | None = None
    run: dict[str, Any] = field(default_factory=dict)


def ask_stamp(plugins: Plugins, school: KnownSchool) -> datetime | None:
    """The school's change stamp; a source error is left to the full way, which records it."""
    try:
        return plugins.source(school.source).latest_change(school.source_school_id)
    except KoppelError:
        return None


def confirm_unchanged(
    session: Session,
    plugins: Plugins,
    school: KnownSchool,
    *,
    since: datetime,
    trigger: str,
    worker: str | None,
    token: int | None = None,
    asked: datetime | None = None,
) -> Verdict:
    """Ask the school's stamp (unless ``asked``) and, if it is the one ``school`` holds, record
    the run unchanged when the statement agrees; committed, hooks called, logged.

    ``since``: a run of the school started since then settles the question (nothing is
    recorded); ``token``: the lease the caller holds on the school, if any.

    With no plugin watching runs start, the compare-and-set and the run's record are one
    statement on PostgreSQL. A plugin implementing koppel_before_school_sync sees the run
    'running' first, as the hook promises: the run is recorded running by that statement,
    the hook called, then the run ended unchanged.
    """
    started, clock = utcnow(), time.monotonic()
    stamp = asked if asked is not None else ask_stamp(plugins, school)
    if stamp is None or stamp != school.stamp:
        return Verdict(stamp)
    watched = bool(plugins.pm.hook.koppel_before_school_sync.get_hookimpls())
    now = utcnow()
    outcome = Outcome.RUNNING if watched else Outcome.UNCHANGED
    run = new_run_values(school.id, trigger, worker, outcome, started, None if watched else now)
    params = {
        "school_id": school.id,
        "known_source": school.source,
        "known_source_school_id": school.source_school_id,
        "stamp": stamp,
        "now": now,
        "since": since,
        "token": token,
    }
    work = UnitOfWork(session)
    run_id = _record(work, params, run)
    if run_id is None:
        return Verdict(stamp)
    life = RunLife(school.id, school.source, run_id, trigger)
    with run_life(work, plugins, life, started=clock):
        if watched:
            run.update(outcome=Outcome.UNCHANGED, finished_at=utcnow())
            with work.step():
                end_run(session, run_id, Outcome.UNCHANGED, finished_at=run["finished_at"])
        life.end(Outcome.UNCHANGED)
    return Verdict(stamp, run_id, run)


def _record(work: UnitOfWork, params: dict[str, Any], run: dict[str, object]) -> int | None:
    """The decision and the run's record (``run``: its values); the run's id, or None
    (nothing written) when the statement matched nothing."""
    session = work.session
    with work.step():
        # On the connection, not through the session: no objects here, and the session's
        # execute adds about a tenth of an unchanged message's CPU.
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            values = {f"r_{k}": v for k, v in run.items()}
            return _CONFIRM_AND_RECORD.scalar(connection, {**params, **values})
        if connection.execute(DECISION, params).rowcount != 1:
            return None
        return insert_run_values(session, run)
