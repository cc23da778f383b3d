"""The console's front page (last night and the nights chart) and the list of schools."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import func, select
from starlette.responses import Response

from api.console.chart import ORDER, nights_chart
from api.console.page import page
from api.console.session import HOME, SignedInOperator, require_operator
from api.services import services
from core.models import HeldPlan, Outcome, SyncRun
from core.nights import recent_nights
from core.roster import NEVER, roster
from core.status import night_summary

router = APIRouter()

# The schools list shows this many rows at most: a search narrows it down.
LISTED = 200
OUTCOMES = (*ORDER, NEVER)


@router.get(HOME)
def front_page(
    request: Request, operator: Annotated[SignedInOperator, Depends(require_operator)]
) -> Response:
    with services(request).session() as session:
        summary = night_summary(session)
        nights = recent_nights(session, services(request).settings.zone)
    context = {"summary": summary, "chart": nights_chart(nights), "order": ORDER}
    return page(request, operator, "console/front.html", context)


@router.get(f"{HOME}/schools")
def schools_page(
    request: Request,
    operator: Annotated[SignedInOperator, Depends(require_operator)],
    q: Annotated[str, Query(max_length=100)] = "",
    outcome: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """Every school with consent: its latest run, held plans and latest failure."""
    search = q.strip().lower()
    chosen = outcome if outcome in OUTCOMES else ""
    with services(request).session() as session:
        entries = roster(session, consent=("granted",), outcomes=(chosen,) if chosen else ())
        if search:
            entries = [
                e
                for e in entries
                if search in e.school.brin6.lower() or search in (e.school.name or "").lower()
            ]
        held: dict[int, int] = {
            school_id: count
            for school_id, count in session.execute(
                select(HeldPlan.school_id, func.count())
                .where(HeldPlan.status == "held")
                .group_by(HeldPlan.school_id)
            )
        }
        shown = entries[:LISTED]
        failures = _latest_failures(session, [e.school.id for e in shown])
    context = {
        "entries": shown,
        "total": len(entries),
        "held": held,
        "failures": failures,
        "q": q,
        "outcome": chosen,
        "outcomes": OUTCOMES,
    }
    return page(request, operator, "console/schools.html", context)


def _latest_failures(session, school_ids: list[int]) -> dict[int, SyncRun]:  # type: ignore[no-untyped-def]
    """Each school's latest failed run (for the schools shown)."""
    if not school_ids:
        return {}
    latest = (
        select(SyncRun.school_id, func.max(SyncRun.id).label("run_id"))
        .where(SyncRun.outcome == Outcome.FAILED, SyncRun.school_id.in_(school_ids))
        .group_by(SyncRun.school_id)
        .subquery()
    )
    runs = session.scalars(select(SyncRun).join(latest, latest.c.run_id == SyncRun.id))
    return {run.school_id: run for run in runs}
