"""A school merged into another (gefuseerdNaar): its link and its people move to the target.

The people keep their rows (and ids, so the LVS keeps their history): each live pupil and staff
member of the merged school is re-parented to the target school, without groups (those were
the old school's). The target's next sync matches them to its own snapshot by source id, else
by ECK iD, else by lasKey (a re-key), so they end up once. Someone the target already holds
(same source id or ECK iD) is not moved but tombstoned at the merged school. A lasKey is not
enough for that: before the merger each school's LAS had its own keys, so equal keys across
the two schools say nothing; after the move the target's sync matches lasKeys within its
own, merged LAS. The move
is recorded as that school's run, with counts: ids and counts, never names.

A move is a mass change like any other: it is planned first (``plan_move``, reads only) and
goes through the same safety check (core.sync.safety.check_merge); over the budget it is held
for a person to approve (``koppel plans approve``), and only then applied (``apply_move``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.models import Group, Pupil, PupilSubgroup, School, Staff, StaffGroup
from core.plugins import Plugins
from core.sync.bulk import chunks
from core.sync.merge_target import create_target, linked_target, target_info

log = structlog.get_logger()

# Never equal to a digest: the target's next sync writes every moved row again.
MOVED_HASH = "moved"

_BULK = {"synchronize_session": False}


@dataclass(frozen=True, slots=True)
class MergeResult:
    """What the merge step did: ``moved`` is False when the target cannot take the people."""

    moved: bool
    counts: dict[str, int]
    reason: str | None = None
    target_id: int | None = None
    target_created: bool = False


@dataclass(frozen=True, slots=True)
class MergePlan:
    """Who would move to the target (ids only), or why nothing can move (``reason``).

    ``target_id`` is None while the target is not linked yet: it is linked when the plan is
    applied, not before, so the target's own sync cannot take the people in as new rows while
    a person still has to approve the move.
    """

    target_source_id: str
    target_id: int | None = None
    pupils: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())  # (moving, already there)
    staff: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
    groups: tuple[int, ...] = ()  # the live groups that close
    reason: str | None = None

    @property
    def possible(self) -> bool:
        return self.reason is None

    @property
    def counts(self) -> dict[str, int]:
        counts = {}
        for kind, (moving, staying) in (("pupils", self.pupils), ("staff", self.staff)):
            counts[f"{kind}_moved_to_target"] = len(moving)
            counts[f"{kind}_already_at_target"] = len(staying)
        counts["groups_closed"] = len(self.groups)
        return counts

    @property
    def leaving(self) -> dict[str, list[int]]:
        """The rows that leave the merged school, per kind (for the safety check)."""
        return {
            "pupils": [*self.pupils[0], *self.pupils[1]],
            "staff": [*self.staff[0], *self.staff[1]],
            "groups": list(self.groups),
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form for a held plan: ids only (the target's id is not part of it)."""
        return {
            "version": 1,
            "kind": MERGE_KIND,
            "target_source_id": self.target_source_id,
            "pupils": {"move": list(self.pupils[0]), "stay": list(self.pupils[1])},
            "staff": {"move": list(self.staff[0]), "stay": list(self.staff[1])},
            "groups": {"close": list(self.groups)},
            "counts": self.counts,
        }

    @property
    def plan_hash(self) -> str:
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


MERGE_KIND = "merge"


def is_merge_plan(stored: dict[str, Any] | None) -> bool:
    """Whether a held plan's stored form is a merge (else it is a core.sync.plan.SyncPlan)."""
    return bool(stored) and stored.get("kind") == MERGE_KIND  # type: ignore[union-attr]


def plan_move(
    session: Session, plugins: Plugins, school: School, *, create: bool = True
) -> MergePlan:
    """Who of the merged ``school`` would move to its target; reads only.

    The target school row is found by source id; one not linked yet must be served by the
    source (which it only does with the target's consent) when ``create``, and is linked when
    the plan is applied. Without a consenting target nothing can move and the reason says so;
    the people stay until a later run can move them.
    """
    target_source_id = school.merged_into_source_id
    if target_source_id is None:
        return MergePlan("", reason="the school is no longer merged at its source; nothing moved")
    if target_source_id == school.source_school_id:
        return MergePlan(target_source_id, reason="the school is said to be merged into itself")
    target = linked_target(session, school.source, target_source_id)
    if target is None and not create:
        return MergePlan(
            target_source_id,
            reason=f"the school was merged into source school {target_source_id}, which koppel "
            "has not linked; its people stay here until that school is linked (when it grants "
            "consent, or with 'koppel check BRIN6')",
        )
    if target is None:
        _, why = target_info(session, plugins, school, target_source_id)
        if why:
            return MergePlan(target_source_id, reason=why)
    elif target.consent != "granted":
        return MergePlan(
            target_source_id,
            target.id,
            reason=f"the school was merged into school {target.id} (source school "
            f"{target_source_id}), which has not granted consent (consent: {target.consent}); "
            "its people stay here until it does",
        )
    target_id = None if target is None else target.id
    groups = session.scalars(
        select(Group.id)
        .where(Group.school_id == school.id, Group.left_at.is_(None))
        .order_by(Group.id)
    ).all()
    return MergePlan(
        target_source_id,
        target_id,
        pupils=_who_moves(session, Pupil, school, target_id),
        staff=_who_moves(session, Staff, school, target_id),
        groups=tuple(groups),
    )


def apply_move(
    session: Session, plugins: Plugins, school: School, move: MergePlan, now: datetime
) -> MergeResult:
    """Link the target if needed and move the people as ``move`` says (the caller commits).

    A target linked meanwhile, or one that can no longer be linked, gives a result that did
    not move (``moved`` False, with the reason): plan again.
    """
    created = False
    target_id = move.target_id
    if target_id is None:
        if linked_target(session, school.source, move.target_source_id) is not None:
            return MergeResult(False, {}, "the target school was linked since the plan was made")
        target, why = create_target(session, plugins, school, move.target_source_id, now)
        if target is None:
            return MergeResult(False, {}, why)
        target_id, created = target.id, True
    for model, (moving, staying) in ((Pupil, move.pupils), (Staff, move.staff)):
        _move_people(session, model, moving, staying, target_id, now)
    _close_groups(session, move.groups, now)
    counts = move.counts
    log.info("school_merged", target_school_id=target_id, target_created=created, counts=counts)
    return MergeResult(True, counts, None, target_id, created)


def _who_moves(
    session: Session, model: Any, school: School, target_id: int | None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The school's live people: (to move to the target, already there by source id or ECK iD)."""
    source_ids: set[str] = set()
    eckids: set[str] = set()
    if target_id is not None:
        for source_id, eckid in session.execute(
            select(model.source_id, model.eckid).where(
                model.school_id == target_id, model.source == school.source
            )
        ):
            source_ids.add(source_id)
            if eckid:
                eckids.add(eckid)
    moving: list[int] = []
    staying: list[int] = []
    for pid, source_id, eckid in session.execute(
        select(model.id, model.source_id, model.eckid)
        .where(model.school_id == school.id, model.source == school.source, model.left_at.is_(None))
        .order_by(model.id)
    ):
        known = source_id in source_ids or (eckid is not None and eckid in eckids)
        (staying if known else moving).append(pid)
    return tuple(moving), tuple(staying)


def _move_people(
    session: Session,
    model: Any,
    moving: tuple[int, ...],
    staying: tuple[int, ...],
    target_id: int,
    now: datetime,
) -> None:
    """Re-parent ``moving`` to the target; tombstone ``staying`` (the target has them)."""
    membership, owner = (
        (PupilSubgroup, PupilSubgroup.pupil_id)
        if model is Pupil
        else (StaffGroup, StaffGroup.staff_id)
    )
    values: dict[str, Any] = {"school_id": target_id, "row_hash": MOVED_HASH, "updated_at": now}
    if model is Pupil:
        values["group_id"] = None
    for part in chunks(list(moving)):
        # Memberships were of the old school's groups; the target's sync sets its own.
        session.execute(delete(membership).where(owner.in_(part)).execution_options(**_BULK))
        session.execute(
            update(model).where(model.id.in_(part)).values(**values).execution_options(**_BULK)
        )
    for part in chunks(list(staying)):
        session.execute(
            update(model)
            .where(model.id.in_(part))
            .values(left_at=now, updated_at=now)
            .execution_options(**_BULK)
        )


def _close_groups(session: Session, groups: tuple[int, ...], now: datetime) -> None:
    for part in chunks(list(groups)):
        session.execute(
            update(Group)
            .where(Group.id.in_(part), Group.left_at.is_(None))
            .values(left_at=now, updated_at=now)
            .execution_options(**_BULK)
        )
