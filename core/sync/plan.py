"""A sync plan: what to write for one school, diffed set-based; ids and keys only, no names."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from core.errors import PlanError, SourceDataError
from core.models import Group, Pupil, School, SchoolNetwork, Staff
from core.snapshot import SchoolSnapshot
from core.sync.changes import Changes, Write
from core.sync.counts import KindCounts
from core.sync.digest import group_digest, pupil_digest, staff_digest
from core.sync.people import Hashed, diff_people, moved_pupils
from core.sync.records import (
    GroupRef,
    canonical_networks,
    check_snapshot,
    resolve_pupil,
    resolve_staff,
)

PLAN_VERSION = 1


def _stored(table: Any, *columns: str, origin: str = "source") -> Select[Any]:
    """The school's stored rows of ``table``: Core, built once (every sync reads them; an ORM
    select costs several times more client CPU). Parameters: school_id, source."""
    return select(*(table.c[c] for c in columns)).where(
        table.c.school_id == bindparam("school_id"), table.c[origin] == bindparam("source")
    )


_GROUPS = _stored(Group.__table__, "id", "kind", "source_key", "row_hash", "left_at")
_PEOPLE = ("id", "source_id", "row_hash", "left_at", "eckid", "las_key")
_PUPILS = _stored(Pupil.__table__, *_PEOPLE, "group_id")
_STAFF = _stored(Staff.__table__, *_PEOPLE)
_NETWORKS = _stored(SchoolNetwork.__table__, "id", "network", origin="origin").order_by(
    SchoolNetwork.__table__.c.id
)


@dataclass(frozen=True)
class Prepared:
    """Snapshot records as the plan resolved and hashed them; never stored.

    Kept so that an apply right after planning, with the same snapshot object, need not
    resolve and hash every record again; a plan read back from storage has none.
    """

    snapshot: SchoolSnapshot
    pupils: Mapping[str, Hashed]
    staff: Mapping[str, Hashed]


@dataclass
class SyncPlan:
    """Everything one sync of one school would write, applied with the snapshot it came from.

    ``counts`` keys: groups_/pupils_/staff_ + created, updated, left, restored (people also
    rekeyed); pupils_moved (a sub-count of the pupils written whose group changed);
    networks_added, networks_removed. ``notes`` counts what the plan left out on purpose
    (memberships of groups the school does not have).
    """

    school_id: int
    source: str
    complete: bool
    groups: Changes = field(default_factory=Changes)
    pupils: Changes = field(default_factory=Changes)
    staff: Changes = field(default_factory=Changes)
    networks_add: list[str] = field(default_factory=list)
    networks_remove: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    prepared: Prepared | None = field(default=None, repr=False, compare=False)

    @property
    def is_empty(self) -> bool:
        return not (
            self.groups or self.pupils or self.staff or self.networks_add or self.networks_remove
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (ids, keys and hashes only) for storing a held plan."""
        return {
            "version": PLAN_VERSION,
            "school_id": self.school_id,
            "source": self.source,
            "complete": self.complete,
            "groups": self.groups.to_dict(),
            "pupils": self.pupils.to_dict(),
            "staff": self.staff.to_dict(),
            "networks": {"add": list(self.networks_add), "remove": list(self.networks_remove)},
            "counts": dict(sorted(self.counts.items())),
            "notes": dict(sorted(self.notes.items())),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SyncPlan:
        """Read back what ``to_dict`` wrote; PlanError if it is not such a plan."""
        try:
            if data["version"] != PLAN_VERSION:
                raise PlanError(f"stored plan has version {data['version']}, not {PLAN_VERSION}")
            return cls(
                school_id=int(data["school_id"]),
                source=str(data["source"]),
                complete=bool(data["complete"]),
                groups=Changes.from_dict(data["groups"], GroupRef.parse),
                pupils=Changes.from_dict(data["pupils"]),
                staff=Changes.from_dict(data["staff"]),
                networks_add=[str(n) for n in data["networks"]["add"]],
                networks_remove=[int(i) for i in data["networks"]["remove"]],
                counts={str(k): int(v) for k, v in data["counts"].items()},
                notes={str(k): int(v) for k, v in data["notes"].items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PlanError(f"stored plan is not readable ({type(exc).__name__})") from None

    @property
    def plan_hash(self) -> str:
        """64 hex characters over the whole plan: equal hash, same writes."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def make_plan(session: Session, school: School, snapshot: SchoolSnapshot) -> SyncPlan:
    """Diff ``snapshot`` against what is stored for ``school``: one select per kind of row.

    Raises SourceDataError (nothing planned) when the snapshot breaks the source's promises.
    Tombstones only when the snapshot is complete.
    """
    check_snapshot(school.id, school.source_school_id, snapshot)
    networks = (
        None if snapshot.networks is None else canonical_networks(school.id, snapshot.networks)
    )
    plan = SyncPlan(school_id=school.id, source=school.source, complete=snapshot.complete)
    live = _plan_groups(session, school, snapshot, plan.groups)

    dropped = 0
    pupils: dict[str, Hashed] = {}
    for record in snapshot.pupils:
        pupil, lost = resolve_pupil(record, live)
        dropped += lost
        pupils[pupil.source_id] = Hashed(pupil, pupil_digest(pupil))
    of_school = {"school_id": school.id, "source": school.source}
    rows = session.execute(_PUPILS, of_school).all()
    plan.pupils = diff_people(rows, pupils, snapshot.complete)
    moved = moved_pupils(plan.pupils.rewritten, rows, pupils, live)

    staff: dict[str, Hashed] = {}
    for record in snapshot.staff:
        member, lost = resolve_staff(record, live)
        dropped += lost
        staff[member.source_id] = Hashed(member, staff_digest(member))
    rows = session.execute(_STAFF, of_school).all()
    plan.staff = diff_people(rows, staff, snapshot.complete)

    if networks is not None:
        plan.networks_add, plan.networks_remove = _plan_networks(session, school, networks)

    for changes in (plan.groups, plan.pupils, plan.staff):
        changes.sort()
    plan.counts = _counts(plan, moved)
    if dropped:
        plan.notes["unresolved_memberships"] = dropped
    plan.prepared = Prepared(snapshot, pupils, staff)
    return plan


def _plan_groups(
    session: Session, school: School, snapshot: SchoolSnapshot, changes: Changes
) -> dict[tuple[str, str], int | None]:
    """Fill ``changes`` for groups; return the groups alive after the plan (ref -> id or None)."""
    stored = {
        GroupRef(row.kind, row.source_key): row
        for row in session.execute(_GROUPS, {"school_id": school.id, "source": school.source})
    }
    live: dict[tuple[str, str], int | None] = {}
    for group in snapshot.groups:
        ref = GroupRef(str(group.kind), group.key)
        row_hash = group_digest(group)
        row = stored.get(ref)
        if row is None:
            changes.create.append(Write(None, ref, row_hash))
            live[ref] = None
            continue
        if row.left_at is not None:
            changes.restore.append(Write(row.id, ref, row_hash))
        elif row.row_hash != row_hash:
            changes.update.append(Write(row.id, ref, row_hash))
        live[ref] = row.id
    for ref, row in stored.items():
        if ref in live or row.left_at is not None:
            continue
        if snapshot.complete:
            changes.tombstone.append(row.id)
        else:
            live[ref] = row.id  # not in a partial snapshot says nothing: the group stays
    return live


def _plan_networks(
    session: Session, school: School, wanted: list[str]
) -> tuple[list[str], list[int]]:
    kept: set[str] = set()
    remove: list[int] = []
    for row in session.execute(_NETWORKS, {"school_id": school.id, "source": school.source}):
        canonical = _canonical_or_none(row.network)
        if canonical in wanted and canonical not in kept:
            kept.add(canonical)
        else:
            remove.append(row.id)
    return [n for n in wanted if n not in kept], sorted(remove)


def _canonical_or_none(network: str) -> str | None:
    try:
        return canonical_networks(0, [network])[0]
    except SourceDataError:
        return None  # a stored row nobody can read is replaced, not kept


def _counts(plan: SyncPlan, moved: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for kind, changes in (("groups", plan.groups), ("pupils", plan.pupils), ("staff", plan.staff)):
        made = KindCounts(
            created=len(changes.create),
            updated=len(changes.update),
            left=len(changes.tombstone),
            restored=len(changes.restore),
            rekeyed=len(changes.rekey),
        )
        counts.update(made.as_counts(kind, rekeys=kind != "groups"))
    counts["pupils_moved"] = moved
    counts["networks_added"] = len(plan.networks_add)
    counts["networks_removed"] = len(plan.networks_remove)
    return counts
