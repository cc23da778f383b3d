"""The safety check between plan and apply: reasons to hold a plan for a person to approve.

A roster sync must never read an upstream's bad night (an empty or half answer) as "everyone
left". Per kind (pupils, staff, groups) a plan is held when it would:

- remove people while the snapshot is not declared complete (such a plan should not exist);
- find an empty list in a complete snapshot for a school that has rows of that kind;
- remove more than the budget's share of the kind (with an absolute minimum for small schools);
- update more than the budget's share of the kind;
- bring the removals of the rolling window (default 7 days, counted since the school's last
  approved plan) above the window's share: a slow trickle is caught too.

In the season (the school-year rollover) the raised limits apply. Restores and re-keys are
never limited: they keep or bring back rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import Group, Outcome, Pupil, School, Staff, SyncRun, utcnow
from core.snapshot import SchoolSnapshot
from core.sync.budget import Budget, Limits
from core.sync.changes import Changes
from core.sync.counts import KindCounts
from core.sync.plan import SyncPlan

KINDS = ("pupils", "staff", "groups")

# The trigger of the run that applies a plan a person approved; the window starts over there.
APPROVAL_TRIGGER = "approval"


def check_plan(
    session: Session,
    school: School,
    plan: SyncPlan,
    snapshot: SchoolSnapshot,
    budget: Budget,
    *,
    now: datetime | None = None,
) -> list[str]:
    """Reasons not to apply ``plan`` now (e.g. it would tombstone too many people); [] to apply.

    ``budget``: the limits (Budget.from_settings); ``now`` defaults to the current time.
    Reasons are shown to an operator: ids and counts only, never names.
    """
    now = now or utcnow()
    limits = budget.limits_at(now)
    kinds = (plan.pupils, plan.staff, plan.groups)
    if not any(c.tombstone for c in kinds) and all(
        len(c.update) <= limits.update_min for c in kinds
    ):
        return []  # most nights: no rule can fire, so nothing needs counting
    served = {
        "pupils": len(snapshot.pupils),
        "staff": len(snapshot.staff),
        "groups": len(snapshot.groups),
    }
    changes = {"pupils": plan.pupils, "staff": plan.staff, "groups": plan.groups}
    complete = snapshot.complete and plan.complete
    return _reasons(session, school, changes, served, complete, budget, now)


def check_merge(
    session: Session,
    school: School,
    leaving: dict[str, list[int]],
    target: str,
    budget: Budget,
    *,
    now: datetime | None = None,
) -> list[str]:
    """Reasons not to move a merged school's rows (``leaving``, ids per kind) to ``target``.

    For the merged school a move is a removal, so the removal rules of ``check_plan`` decide,
    with the same budget and window; [] to move now.
    """
    changes = {kind: Changes(tombstone=list(leaving[kind])) for kind in KINDS}
    # None served: "the source served none" is no reason here, a merger empties the school.
    reasons = _reasons(session, school, changes, None, True, budget, now or utcnow())
    if reasons:
        reasons.insert(0, f"the school was merged into {target}: its people would move there")
    return reasons


def _reasons(
    session: Session,
    school: School,
    changes: dict[str, Changes],
    served: dict[str, int] | None,
    complete: bool,
    budget: Budget,
    now: datetime,
) -> list[str]:
    """The budget's reasons per kind; ``served`` None: as many as the school has."""
    limits = budget.limits_at(now)
    sizes = live_counts(session, school.id)
    served = served or sizes
    removed_before = _removed_in_window(session, school.id, budget.window_days, now)
    reasons: list[str] = []
    for kind in KINDS:
        reasons.extend(
            _kind_reasons(
                kind,
                changes[kind],
                size=sizes[kind],
                served=served[kind],
                complete=complete,
                limits=limits,
                removed_before=removed_before[kind],
                window_days=budget.window_days,
            )
        )
    if reasons and budget.in_season(now):
        reasons.append("the school-year season's raised limits were applied")
    return reasons


def _kind_reasons(
    kind: str,
    changes: Changes,
    *,
    size: int,
    served: int,
    complete: bool,
    limits: Limits,
    removed_before: int,
    window_days: int,
) -> list[str]:
    left = len(changes.tombstone)
    if left and not complete:
        return [f"the snapshot is not declared complete, yet the plan would remove {left} {kind}"]
    if complete and served == 0 and size > 0:
        return [f"the source served no {kind} for a school that has {size}"]
    reasons = []
    allowed = limits.allowed_tombstones(size)
    if left > allowed:
        reasons.append(
            f"would remove {left} of {size} {kind} ({_percent(left, size)}), more than the "
            f"{allowed} allowed ({_percent_of(limits.tombstone_share)}, at least "
            f"{limits.tombstone_min})"
        )
    updated = len(changes.update)
    allowed = limits.allowed_updates(size)
    if updated > allowed:
        reasons.append(
            f"would update {updated} of {size} {kind} ({_percent(updated, size)}), more than "
            f"the {allowed} allowed ({_percent_of(limits.update_share)})"
        )
    if left and removed_before and window_days and len(reasons) == 0:
        total, baseline = removed_before + left, size + removed_before
        allowed = limits.allowed_in_window(baseline)
        if total > allowed:
            reasons.append(
                f"would bring the {kind} removed in {window_days} days to {total} of "
                f"{baseline} ({_percent(total, baseline)}; {removed_before} before this plan), "
                f"more than the {allowed} allowed ({_percent_of(limits.window_share)})"
            )
    return reasons


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "all"


def _percent_of(share: float) -> str:
    return f"{100 * share:g}%"


def live_counts(session: Session, school_id: int) -> dict[str, int]:
    """Rows of each kind the school has now (not left), one count per kind."""
    counts = {}
    for kind, model in (("pupils", Pupil), ("staff", Staff), ("groups", Group)):
        counts[kind] = (
            session.scalar(
                select(func.count())
                .select_from(model)
                .where(model.school_id == school_id, model.left_at.is_(None))
            )
            or 0
        )
    return counts


def _removed_in_window(
    session: Session, school_id: int, days: int, now: datetime
) -> dict[str, int]:
    """Removals per kind applied by the school's runs in the window.

    The window starts no earlier than the school's latest approved plan: what a person
    approved is the new baseline, not a debt that holds every plan after it.
    """
    removed = dict.fromkeys(KINDS, 0)
    if days <= 0:
        return removed
    since = now - timedelta(days=days)
    approved = session.scalar(
        select(func.max(SyncRun.started_at)).where(
            SyncRun.school_id == school_id,
            SyncRun.trigger == APPROVAL_TRIGGER,
            SyncRun.outcome == Outcome.SUCCEEDED,
        )
    )
    after_approval = approved is not None and approved >= since
    rows = session.execute(
        select(SyncRun.started_at, SyncRun.trigger, SyncRun.counts).where(
            SyncRun.school_id == school_id,
            SyncRun.outcome == Outcome.SUCCEEDED,
            SyncRun.started_at >= (approved if after_approval else since),
        )
    )
    for started_at, trigger, counts in rows:
        if after_approval and (trigger == APPROVAL_TRIGGER or started_at <= approved):
            continue
        for kind in KINDS:
            removed[kind] += KindCounts.of(counts, kind).left
    return removed
