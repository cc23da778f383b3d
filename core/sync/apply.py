"""Applying a sync plan in bulk, in the caller's transaction (apply never commits)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from core.errors import PlanStale
from core.models import Pupil, PupilSubgroup, School, Staff, StaffGroup
from core.snapshot import GroupKind, PupilRecord, SchoolSnapshot, StaffRecord
from core.sync.apply_groups import (
    BULK,
    apply_groups,
    apply_networks,
    live_groups,
    matching,
    tombstone,
)
from core.sync.bulk import chunks, insert_rows, update_rows
from core.sync.changes import Changes, Write
from core.sync.digest import pupil_digest, staff_digest
from core.sync.people import Hashed
from core.sync.plan import Prepared, SyncPlan
from core.sync.records import resolve_pupil, resolve_staff

# The ids of the people an apply just inserted (parameter ``now``: their first_seen_at).
_NEW_IDS = {
    table.name: select(table.c.id, table.c.source_id).where(
        table.c.school_id == bindparam("school_id"),
        table.c.source == bindparam("source"),
        table.c.first_seen_at == bindparam("now"),
    )
    for table in (Pupil.__table__, Staff.__table__)
}


def apply_plan(
    session: Session, school: School, plan: SyncPlan, snapshot: SchoolSnapshot, now: datetime
) -> None:
    """Write ``plan`` with the records of ``snapshot``: bulk inserts, bulk updates, tombstones.

    Groups first, so people can refer to their ids. Raises PlanStale (and writes nothing the
    caller would keep: roll back) when the snapshot no longer matches the plan's hashes.
    """
    if plan.school_id != school.id or plan.source != school.source:
        raise PlanStale(f"the plan is for school {plan.school_id}, not for school {school.id}")
    if plan.is_empty:
        return
    apply_groups(session, school, plan.groups, snapshot, now)
    live: _Live | None = None
    if plan.pupils.create or plan.pupils.rewritten or plan.staff.create or plan.staff.rewritten:
        live = live_groups(session, school)
    for kind in (_PUPILS, _STAFF):
        _apply_people(session, school, plan, snapshot, live, now, kind)
    apply_networks(session, school, plan, now)


def _prepared(plan: SyncPlan, snapshot: SchoolSnapshot) -> Prepared | None:
    """What planning already resolved, if the plan was made from this very snapshot."""
    prepared = plan.prepared
    return prepared if prepared is not None and prepared.snapshot is snapshot else None


def _records(
    school: School,
    what: str,
    prepared: Mapping[str, Hashed] | None,
    records: Iterable[Any],
    resolve: Callable[[Any], Any],
    digest: Callable[[Any], str],
) -> Callable[[Write], Any]:
    """How to find the (resolved) snapshot record of a write.

    A plan made just now from this very snapshot already resolved and hashed its records;
    any other plan (a stored one) is checked record by record against its hashes.
    """
    if prepared is not None:
        return lambda write: prepared[write.key].record
    by_key = {r.source_id: r for r in records}

    def checked(write: Write) -> Any:
        found = by_key.get(write.key)
        return matching(school, what, write, None if found is None else resolve(found), digest)

    return checked


def _group_gone(school: School) -> PlanStale:
    """A group the plan counted on but the database no longer has (a KeyError in ``live``)."""
    return PlanStale(f"school {school.id}: a group the plan refers to is gone from the database")


def _person(record: PupilRecord | StaffRecord, write: Write, now: datetime) -> dict[str, Any]:
    return {
        "source_id": record.source_id,
        "eckid": record.eckid,
        "las_key": record.las_key,
        "first_name": record.first_name,
        "prefix": record.prefix,
        "last_name": record.last_name,
        "initials": record.initials,
        "row_hash": write.row_hash,
        "updated_at": now,
        "left_at": None,
        # Written again with the source's data, the row is no longer a purged one.
        "purged_at": None,
    }


def _write_people(
    session: Session,
    school: School,
    model: Any,
    changes: Changes,
    values: Callable[[Write], tuple[dict[str, Any], list[int]]],
    membership: Any,
    owner: str,
    now: datetime,
) -> None:
    """Insert, update and re-member one kind of person; ``values`` gives columns and groups."""
    members: list[_Live] = []
    if changes.create:
        rows, groups = [], {}
        for write in changes.create:
            row, group_ids = values(write)  # a fresh dict: completed in place, not copied
            row["school_id"], row["source"], row["first_seen_at"] = school.id, school.source, now
            rows.append(row)
            groups[write.key] = group_ids
        # No RETURNING (COPY has none, and a multi-row INSERT with RETURNING is about three
        # times slower on psycopg): one select reads the new ids back, found by this apply's
        # own first_seen_at rather than by a long IN list of source ids.
        insert_rows(session, model, rows)
        if any(groups.values()):
            new = {"school_id": school.id, "source": school.source, "now": now}
            for pid, source_id in session.execute(_NEW_IDS[model.__tablename__], new):
                members.extend({owner: pid, "group_id": gid} for gid in groups.get(source_id, ()))
    if rewritten := changes.rewritten:
        rows = []
        for write in rewritten:
            row, group_ids = values(write)
            rows.append({"id": write.id, **row})
            members.extend({owner: write.id, "group_id": gid} for gid in group_ids)
        update_rows(session, model, rows)
        # Only the memberships of people written again are replaced; others are not touched.
        column = getattr(membership, owner)
        for part in chunks([w.id for w in rewritten if w.id is not None]):
            session.execute(delete(membership).where(column.in_(part)).execution_options(**BULK))
    insert_rows(session, membership, members)
    tombstone(session, school, model, changes.tombstone, now)


_GROUP, _SUBGROUP = GroupKind.GROUP.value, GroupKind.SUBGROUP.value
# Group ids by (kind, key): GroupRef keys, looked up with plain tuples (equal, and cheaper to
# make for every person).
_Live = dict[tuple[str, str], int]


def _pupil_columns(pupil: PupilRecord, live: _Live, row: dict[str, Any]) -> list[int]:
    row["year_group"] = pupil.year_group
    row["group_id"] = live[(_GROUP, pupil.group_key)] if pupil.group_key else None
    return sorted({live[(_SUBGROUP, k)] for k in pupil.subgroup_keys})


def _staff_columns(member: StaffRecord, live: _Live, row: dict[str, Any]) -> list[int]:
    row["email"] = member.email
    row["end_date"] = member.end_date
    row["roles"] = sorted(set(member.roles))
    groups = {live[(_GROUP, k)] for k in member.group_keys}
    groups.update(live[(_SUBGROUP, k)] for k in member.subgroup_keys)
    return sorted(groups)


@dataclass(frozen=True, slots=True)
class _Kind:
    """What differs between writing pupils and staff: the rest is one path."""

    name: str  # the plan's, the snapshot's and Prepared's attribute
    label: str  # in errors
    model: Any
    membership: Any
    owner: str  # the membership's column naming the person
    resolve: Callable[[Any, _Live], tuple[Any, Any]]
    digest: Callable[[Any], str]
    # Fills the kind's own columns of a row in; returns the person's group ids (KeyError: a
    # group the plan counted on is gone).
    columns: Callable[[Any, _Live, dict[str, Any]], list[int]]


_PUPILS = _Kind(
    "pupils", "pupil", Pupil, PupilSubgroup, "pupil_id", resolve_pupil, pupil_digest,
    _pupil_columns,
)  # fmt: skip
_STAFF = _Kind(
    "staff", "staff member", Staff, StaffGroup, "staff_id", resolve_staff, staff_digest,
    _staff_columns,
)  # fmt: skip


def _apply_people(
    session: Session,
    school: School,
    plan: SyncPlan,
    snapshot: SchoolSnapshot,
    live: _Live | None,
    now: datetime,
    kind: _Kind,
) -> None:
    changes: Changes = getattr(plan, kind.name)
    if not (changes.create or changes.rewritten):
        tombstone(session, school, kind.model, changes.tombstone, now)
        return
    assert live is not None
    prepared = _prepared(plan, snapshot)
    record_of = _records(
        school,
        kind.label,
        getattr(prepared, kind.name) if prepared else None,
        getattr(snapshot, kind.name),
        lambda r: kind.resolve(r, live)[0],
        kind.digest,
    )
    columns = kind.columns

    def values(write: Write) -> tuple[dict[str, Any], list[int]]:
        record = record_of(write)
        row = _person(record, write, now)
        # try/except rather than a context manager per row: this runs for every person.
        try:
            return row, columns(record, live, row)
        except KeyError:
            raise _group_gone(school) from None

    _write_people(session, school, kind.model, changes, values, kind.membership, kind.owner, now)
