"""What a sync message does: confirm when unchanged, else lease, sync, let go.

Every step is safe to repeat, because RabbitMQ redelivers a message whose worker died or held
it too long, and the scheduler may send a school twice after a crash:

- a message is *settled* by any finished run of the school that started after ``since`` (the
  start of the night, or when 'sync now' was asked), so a repeat does nothing;
- a school the process knows (workers/known.py), most schools on most nights, has its stamp
  asked at once and one statement decides whether it is unchanged (core/sync/unchanged.py):
  no lease, no first read;
- every other message goes the full way: the lease lets one worker sync a school at a time
  (one that finds the school leased is sent again for when the lease runs out), and the
  engine decides "unchanged" the same way, before fetching;
- the fence stops a worker whose lease lapsed from committing over its successor.
"""

from __future__ import annotations

import math
import os
import socket
import time
from datetime import datetime, timedelta
from typing import Any

import structlog
from dramatiq.middleware import CurrentMessage
from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from core import lease
from core.errors import KoppelError, LeaseLost, SyncBusy
from core.lease_heartbeat import Heartbeat
from core.models import Outcome, School, SyncRun, utcnow
from core.plugins import Plugins, get_plugins
from core.settings import Settings, get_settings
from core.sync.engine import sync_school
from core.sync.runs import describe_error
from core.sync.state import SchoolState, held_pending, state_columns
from core.sync.unchanged import KnownSchool, confirm_unchanged, settled_since
from core.sync.work import UnitOfWork
from workers.broker import broker
from workers.database import message_session, session_factory
from workers.known import KnownSchools
from workers.unreleased import unreleased

log = structlog.get_logger()

_run = SyncRun.__table__
_school = School.__table__

# A sync renews its lease until it ends, at the latest at its time limit: a message that
# found the school leased waits out that and one lease more. Deferrals beyond it (and at least
# this many) mean something is wrong: dead-letter it.
MIN_DEFERRALS = 10

# What this worker process knows of its schools (workers/known.py): kept between messages.
known_schools = KnownSchools()

# The message option in which a failed attempt passes its worker and error to its retry.
FAILED_BEFORE = "failed_before"


def worker_id() -> str:
    """This process, as lease owners and sync runs name it: host and pid, no personal data."""
    return f"{socket.gethostname()}:{os.getpid()}"


def handle_sync(school_id: int, trigger: str, since: str | None) -> None:
    """Process one sync message for ``school_id`` (the body of the sync actors)."""
    message = CurrentMessage.get_current_message()
    assert message is not None, "handle_sync runs inside an actor"
    since_at = datetime.fromisoformat(since) if since else message.message_datetime
    owner = f"{worker_id()}/{message.message_id[:8]}"
    started = time.monotonic()
    unreleased.give_back(session_factory())  # leases an outage kept us from giving back
    plugins = get_plugins()
    with message_session() as session:
        known = known_schools.get(session, school_id)
        asked = None
        if known is not None and _stamped(plugins, known):
            verdict = confirm_unchanged(
                session, plugins, known, since=since_at, trigger=trigger, worker=owner
            )
            if verdict.run_id is not None:
                _done(verdict.run_id, Outcome.UNCHANGED, started)
                return
            asked = verdict.stamp
            if asked != known.stamp:
                known_schools.forget(school_id)  # it moved on: read it again at the next reload
        ended = _leased(session, message, school_id, trigger, owner, since_at, known, asked)
    if ended is not None:
        _done(*ended, started)


def _stamped(plugins: Plugins, known: KnownSchool) -> bool:
    return plugins.source(known.source).capabilities.change_stamps


def _leased(
    session: Session,
    message: Any,
    school_id: int,
    trigger: str,
    owner: str,
    since: datetime,
    known: KnownSchool | None,
    asked: datetime | None,
) -> tuple[int, str] | None:
    """The full way: take the lease, sync, let go; the run's id and outcome (None: nothing
    to do, or the message was sent again for later)."""
    settings = get_settings()
    work = UnitOfWork(session)
    try:
        # One UPDATE takes the lease and reads all the sync needs to know first.
        with work.step():
            held, row = lease.acquire_reading(
                session, school_id, owner, settings.lease_seconds, ASKED, params={"since": since}
            )
    except SyncBusy:
        defer(session, school_id)
        return None
    try:
        # Under the lease: a holder we waited for may have finished the work.
        state = SchoolState.from_row(row)
        if row.settled:
            log.info("sync_already_done", since=since.isoformat())
            return None
        if row.stale:
            with work.step():
                lease.abandon_stale_runs(session, held, _failed_before(message.options))
        if not _same_school(known, state):
            asked = None  # what was asked was asked of another school: ask again
        # Renewed while the sync runs (a dead worker's lease lapses within a minute), up
        # to the time limit: an uninterruptible thread does not keep the school for ever.
        limit = timedelta(seconds=settings.sync_time_limit_seconds)
        heartbeat = Heartbeat(
            session_factory(), held, settings.lease_seconds, until=held.clock() + limit
        )
        try:
            with heartbeat.running():
                run = sync_school(
                    session, school_id, plugins=get_plugins(), trigger=trigger, worker=owner,
                    held=held, state=state, checked_stamp=asked,
                )  # fmt: skip
        except LeaseLost:
            raise
        except KoppelError as exc:
            # Its run may still read 'running' (the database was down as it failed): the
            # retry, carrying this, closes it with the reason.
            message.options[FAILED_BEFORE] = [owner, describe_error(exc)]
            raise
        # Read before the release, whose rollback leaves the run's attributes unloaded.
        ended = run.id, run.outcome
        if run.outcome == Outcome.UNCHANGED and state.source_mutated_at is not None:
            known_schools.remember(
                KnownSchool(state.id, state.source, state.source_school_id, state.source_mutated_at)
            )
        return ended
    except LeaseLost:
        # Not a failure of this message: the worker that holds the lease now does the sync;
        # if none does (this run outlived its lease), the message comes back for another go.
        log.warning("sync_lease_lost", lease_token=held.token)
        if not _leased_by_another(session, school_id, owner):
            defer(session, school_id)
        return None
    finally:
        _release(work, held)


def _failed_before(options: dict[str, Any]) -> tuple[str, str] | None:
    """(worker, error) of this message's attempt that failed before, if it said so."""
    found = options.get(FAILED_BEFORE)
    return (str(found[0]), str(found[1])) if found else None


def _same_school(known: KnownSchool | None, state: SchoolState) -> bool:
    return known is not None and (known.source, known.source_school_id) == (
        state.source,
        state.source_school_id,
    )


def _done(run_id: int, outcome: str, started: float) -> None:
    # The engine's "sync_run" line has the counts; this one times the message as a whole.
    log.debug(
        "sync_message_done",
        run_id=run_id,
        outcome=outcome,
        duration_ms=round((time.monotonic() - started) * 1000),
    )


def _asked() -> tuple[ColumnElement[Any], ...]:
    """What a message asks of its school, read with the lease: settled? stale runs? state, and
    whether a plan is held (the last field of SchoolState; under the lease no other sync can
    hold one, so when none is, an applying sync need not retire any).

    Built once (see lease.acquire_reading); ``since`` is filled per message.
    """
    stale = exists().where(_run.c.school_id == _school.c.id, lease.stale_runs())
    return (
        settled_since().label("settled"),
        stale.label("stale"),
        *state_columns(),
        held_pending(),
    )


ASKED = _asked()


def max_deferrals(settings: Settings) -> int:
    """How often a message may find its school leased before it is dead-lettered."""
    held_at_most = settings.sync_time_limit_seconds + settings.lease_seconds
    return max(MIN_DEFERRALS, math.ceil(held_at_most / settings.lease_seconds) + 1)


def defer(session: Session, school_id: int) -> None:
    """Send the current message again for when the school's lease runs out."""
    message = CurrentMessage.get_current_message()
    assert message is not None
    deferrals = int(message.options.get("deferrals", 0))
    if deferrals >= max_deferrals(get_settings()):
        raise SyncBusy(f"school {school_id} stayed leased through {deferrals} deferrals")
    expires_at = session.scalar(select(School.lease_expires_at).where(School.id == school_id))
    lease_seconds = get_settings().lease_seconds
    left = (expires_at - utcnow()).total_seconds() if expires_at else 0.0
    delay = timedelta(seconds=min(max(left, 0.0) + 1.0, lease_seconds))
    broker.enqueue(
        message.copy(options={"deferrals": deferrals + 1}),
        delay=int(delay.total_seconds() * 1000),
    )
    log.info("sync_deferred", delay_ms=int(delay.total_seconds() * 1000), deferrals=deferrals + 1)


def _leased_by_another(session: Session, school_id: int, owner: str) -> bool:
    holder = session.execute(
        select(School.lease_owner, School.lease_expires_at).where(School.id == school_id)
    ).one()
    expires_at = holder.lease_expires_at
    return (
        holder.lease_owner not in (None, owner) and expires_at is not None and expires_at > utcnow()
    )


def _release(work: UnitOfWork, held: lease.Lease) -> None:
    # A failed release must not hide the run's own error. The lease lapses by itself, but
    # is given back sooner, at this process's next chance (workers/unreleased.py).
    try:
        work.rollback()
        with work.step():
            lease.release(work.session, held)
    except Exception as exc:
        log.warning("lease_release_failed", lease_token=held.token, error=describe_error(exc))
        unreleased.add(held)
