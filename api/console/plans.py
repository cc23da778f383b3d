"""Held plans across schools (ids and counts, no names), approved or rejected by an operator."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import RedirectResponse, Response

from api.console.page import page
from api.console.session import HOME, SignedInOperator, notify, require_operator
from api.services import services
from api.web.csrf import require_csrf
from core.errors import KoppelError
from core.operator_audit import Action, Outcome, record
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
    target = f"plan {plan_id}"
    with services(request).session() as session:
        try:
            decision = approve_plan(session, services(request).plugins, plan_id, by=operator.name)
        except KoppelError as exc:
            session.rollback()
            _failed(request, session, operator, Action.APPROVE, target, exc)
            return RedirectResponse(PLANS, status_code=303)
        run = decision.run
        if decision.applied:
            detail = f"applied as run {run.id}" if run else "applied"
            notify(
                request,
                "ok",
                f"Plan {plan_id} is uitgevoerd (run {run.id if run else '-'}).",
                f"Plan {plan_id} was applied (run {run.id if run else '-'}).",
            )
            outcome = Outcome.DONE
        else:
            detail = f"not applied: {decision.reason}"
            again = f" New plan: {decision.new_plan_id}." if decision.new_plan_id else ""
            notify(
                request,
                "bad",
                f"Plan {plan_id} is niet uitgevoerd: de gegevens van de school zijn sindsdien "
                f"veranderd. De school is opnieuw gesynchroniseerd.{again}",
                f"Plan {plan_id} was not applied: {decision.reason}. The school was synced "
                f"anew.{again}",
            )
            outcome = Outcome.FAILED
        record(
            session,
            operator.name,
            Action.APPROVE,
            outcome,
            operator_id=operator.id,
            target=target,
            detail=detail,
        )
    return RedirectResponse(PLANS, status_code=303)


@router.post(f"{PLANS}/{{plan_id}}/reject", dependencies=[Depends(require_csrf)])
def reject(
    request: Request,
    plan_id: PlanId,
    operator: Annotated[SignedInOperator, Depends(require_operator)],
) -> Response:
    target = f"plan {plan_id}"
    with services(request).session() as session:
        try:
            reject_plan(session, plan_id, by=operator.name)
        except KoppelError as exc:
            session.rollback()
            _failed(request, session, operator, Action.REJECT, target, exc)
            return RedirectResponse(PLANS, status_code=303)
        notify(
            request,
            "ok",
            f"Plan {plan_id} is afgewezen; er is niets uitgevoerd.",
            f"Plan {plan_id} was rejected; nothing was applied.",
        )
        record(
            session,
            operator.name,
            Action.REJECT,
            Outcome.DONE,
            operator_id=operator.id,
            target=target,
        )
    return RedirectResponse(PLANS, status_code=303)


def _with_time(plan: dict[str, Any]) -> dict[str, Any]:
    made = plan["created_at"]
    return {**plan, "made": datetime.fromisoformat(made) if made else None}


def _failed(request, session, operator, action, target, exc) -> None:  # type: ignore[no-untyped-def]
    """Tell the operator why the action did not happen, and audit that."""
    notify(request, "bad", f"Niet gelukt: {exc}", f"Not done: {exc}")
    record(
        session,
        operator.name,
        action,
        Outcome.FAILED,
        operator_id=operator.id,
        target=target,
        detail=str(exc),
    )
