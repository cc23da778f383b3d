"""Storing a held plan, and retiring held plans that no longer apply (status "stale")."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.models import HeldPlan, School, SyncRun, utcnow
from core.snapshot import SchoolSnapshot
from core.sync.plan import SyncPlan

log = structlog.get_logger()


def hold_plan(
    session: Session,
    school: School,
    run: SyncRun,
    plan: SyncPlan,
    reasons: list[str],
    snapshot: SchoolSnapshot,
) -> HeldPlan:
    """Store ``plan`` for a person to approve or reject (the caller commits).

    The same plan held again (a later night, nothing changed) keeps its row and id, so an
    operator's "approve 12" still means what they looked at. A different plan supersedes the
    school's older held ones: they are marked stale.
    """
    plan_hash = plan.plan_hash
    held = session.scalars(
        select(HeldPlan).where(
            HeldPlan.school_id == school.id,
            HeldPlan.status == "held",
            HeldPlan.plan_hash == plan_hash,
        )
    ).first()
    if held is None:
        held = HeldPlan(
            school_id=school.id,
            run_id=run.id,
            status="held",
            plan_hash=plan_hash,
            reasons=list(reasons),
            counts=dict(plan.counts),
            plan=plan.to_dict(),
            source_mutated_at=snapshot.mutated_at,
        )
        session.add(held)
        session.flush()
    else:
        held.reasons = list(reasons)  # the limits may have changed; the plan did not
    retire_held(session, school.id, "superseded by a newer plan", keep=held.id)
    log.warning(
        "sync_plan_held",
        plan_id=held.id,
        counts={k: v for k, v in sorted(plan.counts.items()) if v},
        reasons=reasons,
    )
    return held


def retire_held(
    session: Session,
    school_id: int,
    why: str,
    *,
    keep: int | None = None,
    now: datetime | None = None,
) -> int:
    """Mark the school's still-held plans stale (all but ``keep``); returns how many.

    ``why`` is stored as the decision's author, so 'koppel plans list --all' says what
    retired a plan that nobody decided on.
    """
    query = (
        update(HeldPlan)
        .where(HeldPlan.school_id == school_id, HeldPlan.status == "held")
        .values(status="stale", decided_at=now or utcnow(), decided_by=why[:200])
        .execution_options(synchronize_session="fetch")
    )
    if keep is not None:
        query = query.where(HeldPlan.id != keep)
    return session.execute(query).rowcount  # type: ignore[attr-defined,no-any-return]
