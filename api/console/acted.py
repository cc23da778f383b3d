"""What follows every operator action: a sentence on the next page and a row in the audit."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from api.console.session import SignedInOperator, notify
from core.operator_audit import Action, Outcome, record


def acted(
    request: Request,
    session: Session,
    operator: SignedInOperator,
    action: Action,
    outcome: Outcome,
    *,
    target: str,
    sentence: tuple[str, str],
    detail: str | None = None,
    then: str,
) -> Response:
    """Audit the action, tell the operator how it went (Dutch, English), and go to ``then``."""
    notify(request, "ok" if outcome is Outcome.DONE else "bad", *sentence)
    record(
        session,
        operator.name,
        action,
        outcome,
        operator_id=operator.id,
        target=target,
        detail=detail,
    )
    return RedirectResponse(then, status_code=303)
