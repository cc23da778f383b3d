"""The safety check between plan and apply: reasons to hold a plan for a person to approve."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.models import School
from core.snapshot import SchoolSnapshot
from core.sync.plan import SyncPlan


def check_plan(
    session: Session, school: School, plan: SyncPlan, snapshot: SchoolSnapshot
) -> list[str]:
    """Reasons not to apply ``plan`` now (e.g. it would tombstone too many people); [] to apply.

    Reasons are shown to an operator: ids and counts only, never names.
    """
    return []
