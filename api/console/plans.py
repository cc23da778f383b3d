"""Held plans across schools (ids and counts, no names), approved or rejected by an operator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.console.acted import Act
from api.console.page import page
from api.console.session import HOME, SignedInOperator, require_operator
from api.services import services
from api.web.csrf import require_csrf
from core.errors import KoppelError
from core.operator_audit import Action, Outcome
from core.plans import approve_plan, list_plans, reject_plan
from core.schools import school_names

router = APIRouter()

PLANS = f"{HOME}/plans"
PlanId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get(PLANS)
def plans_page(
    request: Request, operator: Annotated[SignedInOperator, Depends(require_operator)]
) -> Response:
    with services(request).session() as session:
        plans = [_with_time(plan) for plan in list_plans(session)]
        names = school_names(session) if plans else {}
    return page(request, operator, "console/plans.html", {"plans": plans, "names": names})


@router.post(f"{PLANS}/{{plan_id}}/approve", dependencies=[Depends(require_csrf)])
def approve(
    request: Request,
    plan_id: PlanId,
    operator: Annotated[SignedInOperator, Depends(require_operator)],
) -> Response:
    def decide(session: Session, act: Act) -> Response:
        decision = approve_plan(session, services(request).plugins, plan_id, by=operator.name)
        run_id = decision.run.id if decision.run else "-"
        if decision.applied:
            return act.done(
                (
                    f"Plan {plan_id} is uitgevoerd (run {run_id}).",
                    f"Plan {plan_id} was applied (run {run_id}).",
                ),
                detail=f"applied as run {run_id}",
            )
        again = f" Nieuw plan: {decision.new_plan_id}." if decision.new_plan_id else ""
        return act.answer(
            Outcome.FAILED,
            (
                f"Plan {plan_id} is niet uitgevoerd: de gegevens van de school zijn sindsdien "
                f"veranderd ({decision.reason}). De school is opnieuw gesynchroniseerd.{again}",
                f"Plan {plan_id} was not applied: {decision.reason}. The school was synced "
                f"anew.{again.replace('Nieuw plan', 'New plan')}",
            ),
            detail=f"not applied: {decision.reason}",
        )

    return _decide(request, operator, Action.APPROVE, plan_id, decide)


@router.post(f"{PLANS}/{{plan_id}}/reject", dependencies=[Depends(require_csrf)])
def reject(
    request: Request,
    plan_id: PlanId,
    operator: Annotated[SignedInOperator, Depends(require_operator)],
) -> Response:
    def decide(session: Session, act: Act) -> Response:
        reject_plan(session, plan_id, by=operator.name)
        return act.done(
            (
                f"Plan {plan_id} is afgewezen; er is niets uitgevoerd.",
                f"Plan {plan_id} was rejected; nothing was applied.",
            )
        )

    return _decide(request, operator, Action.REJECT, plan_id, decide)


def _decide(
    request: Request,
    operator: SignedInOperator,
    action: Action,
    plan_id: int,
    decide: Callable[[Session, Act], Response],
) -> Response:
    """Run one decision on the plan; one that core refuses (decided already, school busy)
    is rolled back and told."""
    with services(request).session() as session:
        act = Act(request, session, operator, action, f"plan {plan_id}", PLANS)
        try:
            return decide(session, act)
        except KoppelError as exc:
            session.rollback()
            return act.failed(exc)


def _with_time(plan: dict[str, Any]) -> dict[str, Any]:
    made = plan["created_at"]
    return {**plan, "made": datetime.fromisoformat(made) if made else None}
