"""The audit of the operator's console: one row per action and one log line without names."""

from __future__ import annotations

from enum import StrEnum

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import OperatorAction, utcnow

log = structlog.get_logger()


class Action(StrEnum):
    SIGN_IN = "sign_in"
    SIGN_OUT = "sign_out"
    APPROVE = "approve"
    REJECT = "reject"
    SYNC_NOW = "sync_now"
    REQUEUE = "requeue"


class Outcome(StrEnum):
    DONE = "done"
    REFUSED = "refused"  # not allowed: a wrong password, a locked account
    FAILED = "failed"  # allowed, but it did not work (a stale plan, RabbitMQ away)


def record(
    session: Session,
    operator: str,
    action: Action,
    outcome: Outcome,
    *,
    operator_id: int | None = None,
    target: str | None = None,
    detail: str | None = None,
) -> OperatorAction:
    """Store the action (committed) and log it; the log line names the account by id only."""
    row = OperatorAction(
        at=utcnow(),
        operator=operator[:100],
        action=action.value,
        target=target[:200] if target else None,
        outcome=outcome.value,
        detail=detail,
    )
    session.add(row)
    session.commit()
    log.info(
        "operator_action",
        action=action.value,
        outcome=outcome.value,
        operator_id=operator_id,
        target=target,
        audit_id=row.id,
    )
    return row


def recent_actions(session: Session, limit: int = 200) -> list[OperatorAction]:
    """The latest actions, newest first."""
    return list(
        session.scalars(
            select(OperatorAction)
            .order_by(OperatorAction.at.desc(), OperatorAction.id.desc())
            .limit(limit)
        )
    )
