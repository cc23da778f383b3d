"""History retention: audit rows, sync runs and scheduler ticks past their age are deleted.

The audits are the login API's (denials) and the console's (operator actions, 'Logboek').

Expired single sign-on state (sent request ids, seen assertion ids; the OpenID Connect
provider's pending sign-ins, codes and tokens) goes too.

Each kind has its own setting (KOPPEL_LOGIN_AUDIT_RETENTION_DAYS, ..._SYNC_RUN_..., ...
_SCHEDULER_TICK_..., ..._OPERATOR_AUDIT_...). Rows go in batches of BATCH, each its own
transaction, so a first clean-up of years of history never holds a long lock. Sync runs that
something still reads are kept whatever their age: a school's latest run of each outcome (its
status: last run, last success, last failure; the unchanged check), a running one, and a run a
held plan refers to. Logs counts only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from core.db import constant
from core.models import (
    HeldPlan,
    LoginDenial,
    OperatorAction,
    Outcome,
    SamlAssertionSeen,
    SamlRequest,
    SchedulerTick,
    SyncRun,
    utcnow,
)
from core.oidc.codes import expired as oidc_expired
from core.settings import Settings

log = structlog.get_logger()

BATCH = 5000


@dataclass
class PruneReport:
    """Rows deleted per kind (or, with ``dry_run``, that would be)."""

    dry_run: bool
    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """Were rows deleted? On SQLite a checkpoint then takes them out of the WAL."""
        return not self.dry_run and any(self.deleted.values())

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "deleted": self.deleted}


def prune_history(
    session: Session, settings: Settings, now: datetime | None = None, *, dry_run: bool = False
) -> PruneReport:
    """Delete every history row past its retention; commits after each batch."""
    now = now or utcnow()
    report = PruneReport(dry_run=dry_run)
    for kind, model, expired in _expired(settings, now):
        ids = select(model.id).where(expired)
        if dry_run:
            count = select(func.count()).select_from(ids.subquery())
            report.deleted[kind] = session.scalar(count) or 0
            continue
        report.deleted[kind] = _delete_in_batches(session, model, ids)
    log.info("history_pruned", dry_run=dry_run, **report.deleted)
    return report


def _expired(settings: Settings, now: datetime) -> list[tuple[str, Any, ColumnElement[bool]]]:
    def before(days: int) -> datetime:
        return now - timedelta(days=days)

    return [
        (
            "login_denials",
            LoginDenial,
            LoginDenial.at < before(settings.login_audit_retention_days),
        ),
        ("sync_runs", SyncRun, _run_expired(before(settings.sync_run_retention_days))),
        (
            "scheduler_ticks",
            SchedulerTick,
            SchedulerTick.claimed_at < before(settings.scheduler_tick_retention_days),
        ),
        (
            "operator_actions",
            OperatorAction,
            OperatorAction.at < before(settings.operator_audit_retention_days),
        ),
        # Single sign-on state past its expiry: an expired request or assertion is refused anyway.
        ("saml_requests", SamlRequest, SamlRequest.expires_at < now),
        ("saml_assertions", SamlAssertionSeen, SamlAssertionSeen.expires_at < now),
        *oidc_expired(settings, now),
    ]


def _run_expired(cutoff: datetime) -> ColumnElement[bool]:
    newer = aliased(SyncRun)
    return and_(
        SyncRun.started_at < cutoff,
        SyncRun.outcome != constant(Outcome.RUNNING),
        ~exists().where(HeldPlan.run_id == SyncRun.id),
        # A later run of the same school and outcome exists: this one is not the latest.
        exists().where(
            newer.school_id == SyncRun.school_id,
            newer.outcome == SyncRun.outcome,
            or_(
                newer.started_at > SyncRun.started_at,
                and_(newer.started_at == SyncRun.started_at, newer.id > SyncRun.id),
            ),
        ),
    )


def _delete_in_batches(session: Session, model: Any, ids: Any) -> int:
    deleted = 0
    while True:
        batch = ids.order_by(model.id).limit(BATCH).scalar_subquery()
        result = session.execute(
            delete(model).where(model.id.in_(batch)).execution_options(synchronize_session=False)
        )
        session.commit()
        deleted += result.rowcount  # type: ignore[attr-defined]
        if result.rowcount < BATCH:  # type: ignore[attr-defined]
            return deleted
