"""Applying a sync plan in bulk, in the caller's transaction (apply never commits)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from core.errors import PlanStale
from core.models import Group, Pupil, PupilSubgroup, School, SchoolNetwork, Staff, StaffGroup
from core.snapshot import PupilRecord, SchoolSnapshot, StaffRecord
from core.sync.bulk import insert_rows, update_rows
from core.sync.changes import Changes, Write
from core.sync.digest import group_digest, pupil_digest, staff_digest
from core.sync.people import Hashed
from core.sync.plan import Prepared, SyncPlan
from core.sync.records import group_ref, resolve_pupil, resolve_staff, split_ref

# Ids per IN (...) list: far below SQLite's 32766 and PostgreSQL's 65535 bound parameters.
CHUNK = 5000

T = TypeVar("T")

# ORM-enabled bulk statements without identity-map bookkeeping: apply loads no objects.
_BULK = {"synchronize_session": False}

# Reads every first sync makes, Core and built once (an ORM select costs several times more
# client CPU). Parameters: school_id, source.
_group = Group.__table__
_LIVE_GROUPS = select(_group.c.id, _group.c.kind, _group.c.source_key).where(
    _group.c.school_id == bindparam("school_id"),
    _group.c.source == bindparam("source"),
    _group.c.left_at.is_(None),
)
# The ids of the people an apply just inserted (parameter ``now``: their first_seen_at).
_NEW_IDS = {
    table.name: select(table.c.id, table.c.source_id).where(
        table.c.school_id == bindparam("school_id"),
        table.c.source == bindparam("source"),
        table.c.first_seen_at == bindparam("now"),
    )
    for table in (Pupil.__table__, Staff.__table__)
}


def chunks(ids: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


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
    _apply_groups(session, school, plan.groups, snapshot, now)
    live: dict[str, int] | None = None
    if plan.pupils.create or plan.pupils.rewritten or plan.staff.create or plan.staff.rewritten:
        live = _live_groups(session, school)
    _apply_pupils(session, school, plan, snapshot, live, now)
    _apply_staff(session, school, plan, snapshot, live, now)
    _apply_networks(session, school, plan, now)


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
        record = None if found is None else resolve(found)
        if record is None or digest(record) != write.row_hash:
            raise PlanStale(
                f"school {school.id}: {what} {write.key!r} in the plan no longer matches "
                "the snapshot"
            )
        return record

    return checked


def _matching(school: School, what: str, write: Write, record: Any, digest: Callable[..., str]):
    """The snapshot record a write refers to, if it still hashes to what the plan expects."""
    if record is None or digest(record) != write.row_hash:
        raise PlanStale(
            f"school {school.id}: {what} {write.key!r} in the plan no longer matches the snapshot"
        )
    return record


def _tombstone(session: Session, school: School, model: Any, ids: list[int], now: datetime) -> None:
    for part in chunks(ids):
        session.execute(
            update(model)
            .where(model.id.in_(part), model.school_id == school.id, model.left_at.is_(None))
            .values(left_at=now, updated_at=now)
            .execution_options(**_BULK)
        )


def _apply_groups(
    session: Session, school: School, changes: Changes, snapshot: SchoolSnapshot, now: datetime
) -> None:
    records = {group_ref(str(g.kind), g.key): g for g in snapshot.groups}

    def values(write: Write) -> dict[str, Any]:
        group = _matching(school, "group", write, records.get(write.key), group_digest)
        return {
            "name": group.name,
            "year_group": group.year_group,
            "description": group.description,
            "row_hash": write.row_hash,
            "updated_at": now,
            "left_at": None,
        }

    if changes.create:
        rows = []
        for write in changes.create:
            kind, key = split_ref(write.key)
            rows.append(
                {
                    "school_id": school.id,
                    "source": school.source,
                    "kind": kind,
                    "source_key": key,
                    "first_seen_at": now,
                    **values(write),
                }
            )
        insert_rows(session, Group, rows)
    if rewritten := changes.rewritten:
        session.execute(update(Group), [{"id": w.id, **values(w)} for w in rewritten])
    _tombstone(session, school, Group, changes.tombstone, now)


def _live_groups(session: Session, school: School) -> dict[str, int]:
    """The school's groups that exist after the group writes, ref -> id (one select)."""
    return {
        group_ref(kind, key): gid
        for gid, kind, key in session.execute(
            _LIVE_GROUPS, {"school_id": school.id, "source": school.source}
        )
    }


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
    members: list[dict[str, int]] = []
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
            session.execute(delete(membership).where(column.in_(part)).execution_options(**_BULK))
    insert_rows(session, membership, members)
    _tombstone(session, school, model, changes.tombstone, now)


def _apply_pupils(
    session: Session,
    school: School,
    plan: SyncPlan,
    snapshot: SchoolSnapshot,
    live: dict[str, int] | None,
    now: datetime,
) -> None:
    changes = plan.pupils
    if not (changes.create or changes.rewritten):
        _tombstone(session, school, Pupil, changes.tombstone, now)
        return
    assert live is not None
    pupil_of = _records(
        school,
        "pupil",
        prepared.pupils if (prepared := _prepared(plan, snapshot)) else None,
        snapshot.pupils,
        lambda p: resolve_pupil(p, live)[0],
        pupil_digest,
    )

    def values(write: Write) -> tuple[dict[str, Any], list[int]]:
        pupil = pupil_of(write)
        row = _person(pupil, write, now)
        row["year_group"] = pupil.year_group
        # try/except rather than a context manager per row: this runs for every pupil.
        try:
            row["group_id"] = live[group_ref("group", pupil.group_key)] if pupil.group_key else None
            subgroups = {live[group_ref("subgroup", k)] for k in pupil.subgroup_keys}
        except KeyError:
            raise _group_gone(school) from None
        return row, sorted(subgroups)

    _write_people(session, school, Pupil, changes, values, PupilSubgroup, "pupil_id", now)


def _apply_staff(
    session: Session,
    school: School,
    plan: SyncPlan,
    snapshot: SchoolSnapshot,
    live: dict[str, int] | None,
    now: datetime,
) -> None:
    changes = plan.staff
    if not (changes.create or changes.rewritten):
        _tombstone(session, school, Staff, changes.tombstone, now)
        return
    assert live is not None
    member_of = _records(
        school,
        "staff member",
        prepared.staff if (prepared := _prepared(plan, snapshot)) else None,
        snapshot.staff,
        lambda s: resolve_staff(s, live)[0],
        staff_digest,
    )

    def values(write: Write) -> tuple[dict[str, Any], list[int]]:
        member = member_of(write)
        row = _person(member, write, now)
        row["email"] = member.email
        row["end_date"] = member.end_date
        row["roles"] = sorted(set(member.roles))
        try:
            groups = {live[group_ref("group", k)] for k in member.group_keys}
            groups.update(live[group_ref("subgroup", k)] for k in member.subgroup_keys)
        except KeyError:
            raise _group_gone(school) from None
        return row, sorted(groups)

    _write_people(session, school, Staff, changes, values, StaffGroup, "staff_id", now)


def _apply_networks(session: Session, school: School, plan: SyncPlan, now: datetime) -> None:
    # Only rows of this source's origin are in the plan; an admin's rows are never touched.
    for part in chunks(plan.networks_remove):
        session.execute(
            delete(SchoolNetwork)
            .where(
                SchoolNetwork.id.in_(part),
                SchoolNetwork.school_id == school.id,
                SchoolNetwork.origin == school.source,
            )
            .execution_options(**_BULK)
        )
    if plan.networks_add:
        session.execute(
            insert(SchoolNetwork),
            [
                {"school_id": school.id, "network": n, "origin": school.source, "created_at": now}
                for n in plan.networks_add
            ],
        )
