"""Writing a plan's groups and networks, and what the people writes share with them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from core.errors import PlanStale
from core.models import Group, School, SchoolNetwork
from core.snapshot import SchoolSnapshot
from core.sync.bulk import chunks, insert_rows
from core.sync.changes import Changes, Write
from core.sync.digest import group_digest
from core.sync.plan import SyncPlan
from core.sync.records import GroupRef

# ORM-enabled bulk statements without identity-map bookkeeping: apply loads no objects.
BULK = {"synchronize_session": False}

# Reads every first sync makes, Core and built once (an ORM select costs several times more
# client CPU). Parameters: school_id, source.
_group = Group.__table__
_LIVE_GROUPS = select(_group.c.id, _group.c.kind, _group.c.source_key).where(
    _group.c.school_id == bindparam("school_id"),
    _group.c.source == bindparam("source"),
    _group.c.left_at.is_(None),
)


def matching(school: School, what: str, write: Write, record: Any, digest: Callable[..., str]):
    """The snapshot record a write refers to, if it still hashes to what the plan expects."""
    if record is None or digest(record) != write.row_hash:
        key = str(write.key)  # a group's ref as the plan stores it: "group:5A"
        raise PlanStale(
            f"school {school.id}: {what} {key!r} in the plan no longer matches the snapshot"
        )
    return record


def tombstone(session: Session, school: School, model: Any, ids: list[int], now: datetime) -> None:
    for part in chunks(ids):
        session.execute(
            update(model)
            .where(model.id.in_(part), model.school_id == school.id, model.left_at.is_(None))
            .values(left_at=now, updated_at=now)
            .execution_options(**BULK)
        )


def apply_groups(
    session: Session, school: School, changes: Changes, snapshot: SchoolSnapshot, now: datetime
) -> None:
    records = {(str(g.kind), g.key): g for g in snapshot.groups}

    def values(write: Write) -> dict[str, Any]:
        group = matching(school, "group", write, records.get(write.key), group_digest)
        return {
            "name": group.name,
            "year_group": group.year_group,
            "description": group.description,
            "row_hash": write.row_hash,
            "updated_at": now,
            "left_at": None,
        }

    if changes.create:
        rows = [
            {
                "school_id": school.id,
                "source": school.source,
                "kind": write.key.kind,
                "source_key": write.key.key,
                "first_seen_at": now,
                **values(write),
            }
            for write in changes.create
        ]
        insert_rows(session, Group, rows)
    if rewritten := changes.rewritten:
        session.execute(update(Group), [{"id": w.id, **values(w)} for w in rewritten])
    tombstone(session, school, Group, changes.tombstone, now)


def live_groups(session: Session, school: School) -> dict[tuple[str, str], int]:
    """The school's groups that exist after the group writes, ref -> id (one select)."""
    return {
        GroupRef(row.kind, row.source_key): row.id
        for row in session.execute(_LIVE_GROUPS, {"school_id": school.id, "source": school.source})
    }


def apply_networks(session: Session, school: School, plan: SyncPlan, now: datetime) -> None:
    # Only rows of this source's origin are in the plan; an admin's rows are never touched.
    for part in chunks(plan.networks_remove):
        session.execute(
            delete(SchoolNetwork)
            .where(
                SchoolNetwork.id.in_(part),
                SchoolNetwork.school_id == school.id,
                SchoolNetwork.origin == school.source,
            )
            .execution_options(**BULK)
        )
    if plan.networks_add:
        session.execute(
            insert(SchoolNetwork),
            [
                {"school_id": school.id, "network": n, "origin": school.source, "created_at": now}
                for n in plan.networks_add
            ],
        )
