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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.errors import SourceRefused
from core.models import Group, Pupil, PupilSubgroup, School, Staff, StaffGroup
from core.plugins import Plugins
from core.sync.apply import chunks

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


def move_to_target(
    session: Session, plugins: Plugins, school: School, now: datetime, *, create: bool = True
) -> MergeResult:
    """Move the merged ``school``'s link and people to its target (the caller commits).

    The target school row is found by source id, or (``create``) created when the source
    serves it, which it only does with the target's consent. Without a consenting target
    nothing moves and the reason says so; the people stay until a later run can move them.
    """
    target_source_id = school.merged_into_source_id
    assert target_source_id is not None
    if target_source_id == school.source_school_id:
        return MergeResult(False, {}, "the school is said to be merged into itself; nothing moved")
    target = session.scalars(
        select(School).where(
            School.source == school.source, School.source_school_id == target_source_id
        )
    ).first()
    created = False
    if target is None and not create:
        return MergeResult(
            False,
            {},
            f"the school was merged into source school {target_source_id}, which koppel has "
            "not linked; its people stay here until that school is linked (when it grants "
            "consent, or with 'koppel check BRIN6')",
        )
    if target is None:
        target, why = _create_target(session, plugins, school, target_source_id, now)
        if target is None:
            return MergeResult(False, {}, why)
        created = True
    elif target.consent != "granted":
        return MergeResult(
            False,
            {},
            f"the school was merged into school {target.id} (source school {target_source_id}), "
            f"which has not granted consent (consent: {target.consent}); its people stay here "
            "until it does",
            target.id,
        )
    counts = {}
    for kind, model in (("pupils", Pupil), ("staff", Staff)):
        moved, already = _move_people(session, model, school, target, now)
        counts[f"{kind}_moved_to_target"] = moved
        counts[f"{kind}_already_at_target"] = already
    counts["groups_closed"] = _close_groups(session, school, now)
    log.info("school_merged", target_school_id=target.id, target_created=created, counts=counts)
    return MergeResult(True, counts, None, target.id, created)


def _create_target(
    session: Session, plugins: Plugins, school: School, target_source_id: str, now: datetime
) -> tuple[School | None, str]:
    source = plugins.source(school.source)
    session.commit()  # no transaction stays open while the source is asked
    try:
        info = source.fetch_snapshot(target_source_id).school
    except SourceRefused as exc:
        return None, (
            f"the school was merged into source school {target_source_id}, which koppel has "
            f"not linked and the source does not serve ({type(exc).__name__}); its people stay "
            "here until that school grants consent"
        )
    if info.source_school_id != target_source_id:
        return None, (
            f"the source answered for another school when asked for source school "
            f"{target_source_id}, the school this one was merged into; nothing moved"
        )
    if not info.brin or not info.location_code:
        return None, (
            f"the school was merged into source school {target_source_id}, whose BRIN the "
            "source does not give; link it with 'koppel check BRIN6'"
        )
    taken = session.scalars(
        select(School.id).where(
            School.brin == info.brin.upper(), School.location_code == info.location_code
        )
    ).first()
    if taken is not None:
        return None, (
            f"the school was merged into source school {target_source_id}, whose BRIN6 "
            f"{info.brin.upper()}{info.location_code} koppel already links as school {taken}; "
            "check that link with 'koppel check BRIN6'"
        )
    target = School(
        brin=info.brin.upper(),
        location_code=info.location_code,
        name=info.name,
        source=school.source,
        source_school_id=target_source_id,
        source_ref=info.ref,
        # The source served the target's data, which it only does with the target's consent.
        consent="granted",
        consent_changed_at=now,
        active=info.active,
        merged_into_source_id=info.merged_into,
    )
    session.add(target)
    session.flush()
    return target, ""


def _move_people(
    session: Session, model: Any, school: School, target: School, now: datetime
) -> tuple[int, int]:
    """Re-parent the school's live people to ``target``; returns (moved, already there)."""
    at_target = session.execute(
        select(model.source_id, model.eckid).where(
            model.school_id == target.id, model.source == target.source
        )
    ).all()
    source_ids = {row.source_id for row in at_target}
    eckids = {row.eckid for row in at_target if row.eckid}
    moving: list[int] = []
    staying: list[int] = []
    for pid, source_id, eckid in session.execute(
        select(model.id, model.source_id, model.eckid).where(
            model.school_id == school.id, model.source == school.source, model.left_at.is_(None)
        )
    ):
        known = source_id in source_ids or (eckid is not None and eckid in eckids)
        (staying if known else moving).append(pid)
    membership, owner = (
        (PupilSubgroup, PupilSubgroup.pupil_id)
        if model is Pupil
        else (StaffGroup, StaffGroup.staff_id)
    )
    values: dict[str, Any] = {"school_id": target.id, "row_hash": MOVED_HASH, "updated_at": now}
    if model is Pupil:
        values["group_id"] = None
    for part in chunks(moving):
        # Memberships were of the old school's groups; the target's sync sets its own.
        session.execute(delete(membership).where(owner.in_(part)).execution_options(**_BULK))
        session.execute(
            update(model).where(model.id.in_(part)).values(**values).execution_options(**_BULK)
        )
    for part in chunks(staying):
        session.execute(
            update(model)
            .where(model.id.in_(part))
            .values(left_at=now, updated_at=now)
            .execution_options(**_BULK)
        )
    return len(moving), len(staying)


def _close_groups(session: Session, school: School, now: datetime) -> int:
    result = session.execute(
        update(Group)
        .where(Group.school_id == school.id, Group.left_at.is_(None))
        .values(left_at=now, updated_at=now)
        .execution_options(**_BULK)
    )
    return result.rowcount  # type: ignore[attr-defined,no-any-return]
