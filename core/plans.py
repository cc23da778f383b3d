"""Held plans and the people who decide on them: list, show, approve (exactly that plan), reject.

Approving applies the stored plan itself, not a new one, and only while the school's data is
what it was when the plan was made: the source's mutation stamp is the same and a plan made
now has the same hash (so every record, at the source and in the database, is unchanged).
Otherwise the plan is marked stale and a new sync makes a new plan, which may be held in turn.

Rejecting applies nothing. The next sync plans again from what the source serves then: if the
source still says the same, that plan is held again (as a new held plan), so a rejection means
"not this", never "never"; the fix belongs at the source (or a changed safety budget).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core import lease
from core.db import make_sessionmaker
from core.errors import KoppelError, PlanError, PlanStale
from core.lease_heartbeat import Heartbeat
from core.models import Group, HeldPlan, Outcome, Pupil, School, Staff, SyncRun, utcnow
from core.plugins import Plugins
from core.settings import get_settings
from core.sources import as_promised
from core.sync.apply import apply_plan
from core.sync.bulk import chunks
from core.sync.engine import move_people, sync_school
from core.sync.held import retire_held
from core.sync.life import RunLife, run_life
from core.sync.merge import is_merge_plan, plan_move
from core.sync.plan import SyncPlan, make_plan
from core.sync.records import GroupRef
from core.sync.runs import finish_run, start_run
from core.sync.safety import APPROVAL_TRIGGER
from core.sync.state import update_school
from core.sync.work import UnitOfWork

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class Decision:
    """What approving a plan did: applied it (``run`` is the approval run), or found it stale.

    When stale, ``reason`` says what changed and ``run`` is the new sync's run (succeeded,
    held as a new plan, skipped, ...); ``new_plan_id`` is set when that run was held.
    """

    plan: HeldPlan
    applied: bool
    run: SyncRun | None
    reason: str | None = None
    new_plan_id: int | None = None


def list_plans(session: Session, *, include_decided: bool = False) -> list[dict[str, Any]]:
    """Held plans (with ``include_decided`` every plan), newest first; ids and counts only."""
    query = (
        select(HeldPlan, School.brin, School.location_code)
        .join(School, School.id == HeldPlan.school_id)
        .order_by(HeldPlan.created_at.desc(), HeldPlan.id.desc())
    )
    if not include_decided:
        query = query.where(HeldPlan.status == "held")
    return [
        _summary(plan, f"{brin}{location}") for plan, brin, location in session.execute(query).all()
    ]


def show_plan(session: Session, plan_id: int) -> dict[str, Any]:
    """One plan: its summary and which records it writes, by source id and koppel id only."""
    held = get_plan(session, plan_id)
    school = session.get(School, held.school_id)
    assert school is not None
    data = _summary(held, school.brin6)
    data["records"] = _records(session, held.plan) if held.plan else None
    return data


def get_plan(session: Session, plan_id: int) -> HeldPlan:
    held = session.get(HeldPlan, plan_id)
    if held is None:
        raise PlanError(
            f"there is no plan {plan_id}", hint="'koppel plans list --all' shows every plan"
        )
    return held


def reject_plan(session: Session, plan_id: int, *, by: str) -> HeldPlan:
    """Mark a held plan rejected; nothing is applied. Commits."""
    held = _decidable(session, plan_id)
    held.status = "rejected"
    held.decided_at = utcnow()
    held.decided_by = by[:200]
    session.commit()
    log.info("plan_rejected", plan_id=held.id, school_id=held.school_id)
    return held


def approve_plan(
    session: Session, plugins: Plugins, plan_id: int, *, by: str, worker: str | None = None
) -> Decision:
    """Apply exactly the stored plan if the school's data has not changed since; commits.

    Takes the school's lease for the whole decision, so no sync runs in between. Raises
    PlanError when the plan is not held or its school cannot be synced (no consent, merged,
    inactive), SyncBusy when a sync holds the school now, and source errors as they come.
    """
    held = _decidable(session, plan_id)
    school = session.get(School, held.school_id)
    assert school is not None
    merge = is_merge_plan(held.plan)
    # A merged school's held move is approved while it consents; any other plan, while syncable.
    if not (school.syncable or (merge and school.consent == "granted")):
        raise PlanError(
            f"plan {plan_id} is for school {school.brin6}, which cannot be synced now "
            f"(consent {school.consent}, active {school.active}, merged into "
            f"{school.merged_into_source_id or 'none'})",
            hint="reject the plan; 'koppel status BRIN6' shows the school",
        )
    owner = f"approval:{by}"[:200]
    seconds = get_settings().lease_seconds
    held_lease = lease.acquire(session, school.id, owner, seconds)
    try:
        with _kept(session, held_lease, seconds):
            return _approve(session, plugins, held, school, by, worker or owner, held_lease)
    finally:
        try:
            session.rollback()
            lease.release(session, held_lease)
        except Exception:
            log.exception("lease_release_failed", lease_token=held_lease.token)


def _kept(
    session: Session, held_lease: lease.Lease, seconds: float
) -> AbstractContextManager[object]:
    """The lease renewed while the approval fetches and applies (core/lease_heartbeat.py),
    through connections of its own: possible when the session is bound to an engine."""
    bind = session.get_bind()
    if not isinstance(bind, Engine):
        return nullcontext()
    return Heartbeat(make_sessionmaker(bind), held_lease, seconds).running()


def _approve(
    session: Session,
    plugins: Plugins,
    held: HeldPlan,
    school: School,
    by: str,
    worker: str,
    held_lease: lease.Lease,
) -> Decision:
    work = UnitOfWork(session)
    with work.step():
        run = start_run(session, school.id, APPROVAL_TRIGGER, worker[:200])
    life = RunLife(school.id, school.source, run.id, APPROVAL_TRIGGER)
    apply = _apply_move if is_merge_plan(held.plan) else _apply_sync
    with run_life(work, plugins, life):
        counts, reason = apply(work, plugins, _Approval(held, school, run, by, held_lease))
        if reason is not None:
            life.end(Outcome.SKIPPED, {}, f"plan {held.id} was not applied: {reason}")
            return _stale(work, plugins, held, school, run, by, reason, held_lease)
        life.end(Outcome.SUCCEEDED, counts)
    log.info("plan_approved", plan_id=held.id, run_id=run.id, counts=_nonzero(counts))
    return Decision(held, True, run)


@dataclass(frozen=True, slots=True)
class _Approval:
    """A held plan being approved: by whom, as which run, under which lease."""

    held: HeldPlan
    school: School
    run: SyncRun
    by: str
    held_lease: lease.Lease


# Applies a held plan as the approval's run (committed): its counts, or why it is stale.
Applied = tuple[dict[str, int], str | None]


def _apply_sync(work: UnitOfWork, plugins: Plugins, approval: _Approval) -> Applied:
    """Apply the stored sync plan itself, with a snapshot fetched now that it still fits."""
    session, held, school, run = work.session, approval.held, approval.school, approval.run
    stored = SyncPlan.from_dict(held.plan)
    source = plugins.source(school.source)
    work.commit()  # no transaction stays open while the source is asked
    snapshot = as_promised(source, source.fetch_snapshot(school.source_school_id))
    reason = _changed_since(session, school, held, snapshot)
    now = utcnow()
    if reason is None:
        try:
            apply_plan(session, school, stored, snapshot, now)
        except PlanStale as exc:
            work.rollback()
            reason = str(exc)
    if reason is not None:
        return {}, reason
    update_school(school, snapshot, None, now)
    counts = dict(stored.counts)
    finish_run(run, Outcome.SUCCEEDED, counts)
    _approved(session, approval, now)
    approval.held_lease.fence(session)
    work.commit()
    return counts, None


def _apply_move(work: UnitOfWork, plugins: Plugins, approval: _Approval) -> Applied:
    """Move a merged school's people as the held plan says, if a plan made now is the same."""
    school = approval.school
    move = plan_move(work.session, plugins, school)
    if not move.possible or move.plan_hash != approval.held.plan_hash:
        return {}, move.reason or "the school's people changed since the plan was made"
    _approved(work.session, approval, utcnow())
    fence = approval.held_lease.fence
    outcome, counts, reason = move_people(work, plugins, school, approval.run, move, fence)
    if outcome != Outcome.SUCCEEDED:
        return {}, reason or "the move could not be applied"
    return counts, None


def _approved(session: Session, approval: _Approval, now: datetime) -> None:
    held = approval.held
    held.status, held.decided_at, held.decided_by = "approved", now, approval.by[:200]
    retire_held(session, held.school_id, f"plan {held.id} was approved", keep=held.id, now=now)


def _changed_since(session: Session, school: School, held: HeldPlan, snapshot: Any) -> str | None:
    """Why the held plan no longer describes the school's data (None: it still does)."""
    if held.source_mutated_at != snapshot.mutated_at:
        return "the source's data changed since the plan was made (its mutation stamp moved)"
    if make_plan(session, school, snapshot).plan_hash != held.plan_hash:
        return "the school's data changed since the plan was made (a new plan differs)"
    return None


def _stale(
    work: UnitOfWork,
    plugins: Plugins,
    held: HeldPlan,
    school: School,
    run: SyncRun,
    by: str,
    reason: str,
    held_lease: lease.Lease,
) -> Decision:
    """Mark the plan stale, record why, and sync anew (its plan may be held in turn)."""
    session = work.session
    work.rollback()
    now = utcnow()
    held.status, held.decided_at, held.decided_by = "stale", now, by[:200]
    finish_run(run, Outcome.SKIPPED, {}, f"plan {held.id} was not applied: {reason}")
    work.commit()
    log.warning("plan_stale", plan_id=held.id, reason=reason)
    try:
        new_run = sync_school(
            session,
            school.id,
            plugins=plugins,
            trigger=APPROVAL_TRIGGER,
            worker=run.worker,
            force=True,
            held=held_lease,
        )
    except KoppelError:
        new_run = _latest_run(session, school.id)
    new_plan = None
    if new_run is not None and new_run.outcome == Outcome.HELD:
        new_plan = session.scalar(select(HeldPlan.id).where(HeldPlan.run_id == new_run.id))
        if new_plan is None:  # the same plan as one already held keeps that one's id
            new_plan = session.scalar(
                select(HeldPlan.id)
                .where(HeldPlan.school_id == school.id, HeldPlan.status == "held")
                .order_by(HeldPlan.id.desc())
            )
    return Decision(held, False, new_run, reason, new_plan)


def _latest_run(session: Session, school_id: int) -> SyncRun | None:
    return session.scalars(
        select(SyncRun).where(SyncRun.school_id == school_id).order_by(SyncRun.id.desc())
    ).first()


def _decidable(session: Session, plan_id: int) -> HeldPlan:
    held = get_plan(session, plan_id)
    if held.status != "held":
        raise PlanError(
            f"plan {plan_id} is {held.status}, not held: only a held plan can be decided",
            hint="'koppel plans list' shows the plans waiting for a decision",
        )
    return held


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in sorted(counts.items()) if v}


def _summary(held: HeldPlan, brin6: str) -> dict[str, Any]:
    return {
        "id": held.id,
        "school_id": held.school_id,
        "brin6": brin6,
        "status": held.status,
        "created_at": _iso(held.created_at),
        "run_id": held.run_id,
        "reasons": list(held.reasons or []),
        "counts": _nonzero(held.counts or {}),
        "plan_hash": held.plan_hash,
        "source_mutated_at": _iso(held.source_mutated_at),
        "decided_at": _iso(held.decided_at),
        "decided_by": held.decided_by,
    }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _records(session: Session, stored: dict[str, Any]) -> dict[str, Any]:
    """Each write of the plan as koppel id and source id (group keys for groups); no names."""
    if is_merge_plan(stored):
        return _merge_records(session, stored)
    plan = SyncPlan.from_dict(stored)
    found: dict[str, Any] = {}
    for kind, changes, model in (
        ("groups", plan.groups, Group),
        ("pupils", plan.pupils, Pupil),
        ("staff", plan.staff, Staff),
    ):
        key = "ref" if model is Group else "source_id"
        source_ids = _source_ids(session, model, changes.tombstone)
        found[kind] = {
            "create": [{key: str(w.key)} for w in changes.create],
            "update": [{"id": w.id, key: str(w.key)} for w in changes.update],
            "restore": [{"id": w.id, key: str(w.key)} for w in changes.restore],
            "rekey": [{"id": w.id, key: str(w.key)} for w in changes.rekey],
            "remove": [{"id": i, key: source_ids.get(i)} for i in changes.tombstone],
        }
        if model is Group:
            del found[kind]["rekey"]
    found["networks"] = {"add": len(plan.networks_add), "remove": len(plan.networks_remove)}
    return found


def _merge_records(session: Session, stored: dict[str, Any]) -> dict[str, Any]:
    """A held merge: who moves to the target, who is closed (the target has them), by id."""
    found: dict[str, Any] = {"target_source_id": stored["target_source_id"]}
    for kind, model, actions in (
        ("groups", Group, ("close",)),
        ("pupils", Pupil, ("move", "stay")),
        ("staff", Staff, ("move", "stay")),
    ):
        key = "ref" if model is Group else "source_id"
        found[kind] = {}
        for action in actions:
            ids = [int(i) for i in stored[kind][action]]
            source_ids = _source_ids(session, model, ids)
            found[kind][action] = [{"id": i, key: source_ids.get(i)} for i in ids]
    return found


def _source_ids(session: Session, model: Any, ids: list[int]) -> dict[int, str]:
    """Source ids of stored rows by koppel id; a group's is its ref ("group:5A")."""
    found: dict[int, str] = {}
    for part in chunks(ids):
        if model is Group:
            rows = session.execute(
                select(Group.id, Group.kind, Group.source_key).where(Group.id.in_(part))
            )
            found.update((row.id, str(GroupRef(row.kind, row.source_key))) for row in rows)
        else:
            rows = session.execute(select(model.id, model.source_id).where(model.id.in_(part)))
            found.update((row.id, row.source_id) for row in rows)
    return found
