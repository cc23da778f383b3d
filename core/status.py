"""Status for operators and the API: per school and for the last night; ids, counts and reasons.

One implementation for 'koppel status' and the HTTP API's school status. Nothing here names
a person: reasons are the sync runs' ``error`` texts, which carry ids and counts only.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import (
    Group,
    HeldPlan,
    Outcome,
    Pupil,
    School,
    SchoolNetwork,
    Staff,
    SyncRun,
    utcnow,
)
from core.sync.runs import GOOD_OUTCOMES

# Plain strings (a click.Choice names enum members by their names), in the order shown.
OUTCOMES = tuple(
    str(o)
    for o in (
        Outcome.SUCCEEDED,
        Outcome.UNCHANGED,
        Outcome.FAILED,
        Outcome.HELD,
        Outcome.SKIPPED,
        Outcome.RUNNING,
    )
)

# How far back "the last night" reaches by default: one day covers any nightly window.
LAST_NIGHT = timedelta(hours=24)


def latest_run(
    session: Session, school_id: int, outcomes: tuple[str, ...] | None = None
) -> SyncRun | None:
    """The school's latest run (of one of ``outcomes``, when given)."""
    query = select(SyncRun).where(SyncRun.school_id == school_id)
    if outcomes is not None:
        query = query.where(SyncRun.outcome.in_(outcomes))
    return session.scalars(
        query.order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1)
    ).first()


def school_counts(session: Session, school_id: int) -> dict[str, Any]:
    """Rows per kind, live and left (purged ones included in left), and the networks."""
    counts: dict[str, Any] = {}
    for kind, model in (("pupils", Pupil), ("staff", Staff), ("groups", Group)):
        live, left = session.execute(
            select(
                func.count().filter(model.left_at.is_(None)),
                func.count().filter(model.left_at.is_not(None)),
            ).where(model.school_id == school_id)
        ).one()
        counts[kind] = {"live": live or 0, "left": left or 0}
    for kind, model in (("pupils", Pupil), ("staff", Staff)):
        counts[kind]["purged"] = (
            session.scalar(
                select(func.count())
                .select_from(model)
                .where(model.school_id == school_id, model.purged_at.is_not(None))
            )
            or 0
        )
    counts["networks"] = (
        session.scalar(
            select(func.count())
            .select_from(SchoolNetwork)
            .where(SchoolNetwork.school_id == school_id)
        )
        or 0
    )
    return counts


def recent_runs(session: Session, school_id: int, limit: int) -> list[SyncRun]:
    """The school's latest ``limit`` runs, newest first (the index's order)."""
    return list(
        session.scalars(
            select(SyncRun)
            .where(SyncRun.school_id == school_id)
            .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
            .limit(limit)
        )
    )


def school_status(session: Session, school: School, *, runs: int = 5) -> dict[str, Any]:
    """Everything an operator asks about one school, its latest ``runs`` runs included."""
    last = latest_run(session, school.id)
    success = latest_run(session, school.id, GOOD_OUTCOMES)
    failure = latest_run(session, school.id, (Outcome.FAILED,))
    held = session.scalars(
        select(HeldPlan)
        .where(HeldPlan.school_id == school.id, HeldPlan.status == "held")
        .order_by(HeldPlan.id)
    ).all()
    return {
        "school_id": school.id,
        "brin6": school.brin6,
        "name": school.name,
        "source": school.source,
        "source_school_id": school.source_school_id,
        "consent": school.consent,
        "consent_changed_at": _iso(school.consent_changed_at),
        "active": school.active,
        "merged_into": school.merged_into_source_id,
        "last_synced_at": _iso(school.last_synced_at),
        "last_run": _run(last),
        "last_success": _run(success),
        "last_failure": _run(failure),
        "held_plans": [
            {
                "id": p.id,
                "created_at": _iso(p.created_at),
                "reasons": list(p.reasons or []),
                "counts": {k: v for k, v in sorted((p.counts or {}).items()) if v},
            }
            for p in held
        ],
        "counts": school_counts(session, school.id),
        "recent_runs": [_run(run) for run in recent_runs(session, school.id, runs)],
    }


def night_summary(
    session: Session, *, since: datetime | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """How the schools' latest runs since ``since`` (default: 24 hours ago) ended.

    Each school counts once, by its latest run in the period. Failures, holds and skips are
    listed by BRIN6 with their reason; ``not_run`` lists schools that should have synced
    (consent, active, not merged) but have no run in the period.
    """
    now = now or utcnow()
    since = since or now - LAST_NIGHT
    latest = (
        select(SyncRun.school_id, func.max(SyncRun.id).label("run_id"))
        .where(SyncRun.started_at >= since)
        .group_by(SyncRun.school_id)
        .subquery()
    )
    rows = session.execute(
        select(SyncRun, School.brin, School.location_code)
        .join(latest, latest.c.run_id == SyncRun.id)
        .join(School, School.id == SyncRun.school_id)
        .order_by(School.brin, School.location_code)
    ).all()
    outcomes: Counter[str] = Counter()
    listed: dict[str, list[dict[str, Any]]] = {"failed": [], "held": [], "skipped": []}
    for run, brin, location in rows:
        outcomes[run.outcome] += 1
        if run.outcome in listed:
            listed[run.outcome].append(
                {"brin6": f"{brin}{location}", "school_id": run.school_id, "reason": run.error}
            )
    ran = {run.school_id for run, _, _ in rows}
    due = session.execute(
        select(School.id, School.brin, School.location_code)
        .where(School.syncable)
        .order_by(School.brin, School.location_code)
    ).all()
    held_plans = (
        session.scalar(select(func.count()).select_from(HeldPlan).where(HeldPlan.status == "held"))
        or 0
    )
    return {
        "since": since.isoformat(),
        "until": now.isoformat(),
        "schools": len(rows),
        "outcomes": {name: outcomes.get(name, 0) for name in OUTCOMES},
        "failures": listed["failed"],
        "held": listed["held"],
        "skipped": listed["skipped"],
        "not_run": [f"{b}{loc}" for school_id, b, loc in due if school_id not in ran],
        "held_plans": held_plans,
        "consent": dict(
            session.execute(select(School.consent, func.count()).group_by(School.consent)).all()
        ),
    }


def _run(run: SyncRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "id": run.id,
        "trigger": run.trigger,
        "outcome": run.outcome,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "reason": run.error,
        "counts": {k: v for k, v in sorted((run.counts or {}).items()) if v},
    }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None
