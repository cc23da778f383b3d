"""Storing a held plan, and retiring held plans that no longer apply (status "stale")."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from core.db import follow_loaded
from core.models import HeldPlan, School, SyncRun, utcnow
from core.snapshot import SchoolSnapshot
from core.sync.merge import MergePlan
from core.sync.plan import SyncPlan

log = structlog.get_logger()

_held = HeldPlan.__table__
_keep = bindparam("keep", type_=_held.c.id.type)  # None: keep none
# Built once (an applying sync runs it): Core on the table, not the ORM's bulk update.
_RETIRE = (
    update(_held)
    .where(
        _held.c.school_id == bindparam("of_school"),
        _held.c.status == "held",
        or_(_keep.is_(None), _held.c.id != _keep),
    )
    .values(status="stale", decided_at=bindparam("decided_at"), decided_by=bindparam("decided_by"))
    .returning(_held.c.id)
)


def hold_plan(
    session: Session,
    school: School,
    run: SyncRun,
    plan: SyncPlan | MergePlan,
    reasons: list[str],
    snapshot: SchoolSnapshot | None,
) -> HeldPlan:
    """Store ``plan`` for a person to approve or reject (the caller commits).

    ``snapshot`` is the one the plan was made from; None for a merge, which reads no snapshot.

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
            source_mutated_at=None if snapshot is None else snapshot.mutated_at,
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
    decided = {"decided_at": now or utcnow(), "decided_by": why[:200]}
    params = {"of_school": school_id, "keep": keep, **decided}
    retired = session.execute(_RETIRE, params).scalars().all()
    for plan_id in retired:  # a copy loaded in the session follows suit
        follow_loaded(session, HeldPlan, plan_id, {"status": "stale", **decided})
    return len(retired)
