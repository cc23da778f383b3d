"""Diffing people (pupils or staff): stored rows against hashed snapshot records, with re-keys."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from core.snapshot import GroupKind, PupilRecord, StaffRecord
from core.sync.changes import Changes, Write

_GROUP = GroupKind.GROUP.value


class Hashed(NamedTuple):
    """A snapshot record (memberships resolved) and its digest."""

    record: PupilRecord | StaffRecord
    row_hash: str


def diff_people(rows: Sequence[Any], wanted: Mapping[str, Hashed], complete: bool) -> Changes:
    """What to write so the stored ``rows`` match ``wanted`` (by source id).

    ``rows`` carry id, source_id, row_hash, left_at, eckid and las_key. A record whose source id
    is new but whose eckid (else lasKey) belongs to exactly one stored person missing from the
    snapshot is that person under a new source id: a re-key keeps their row (and its id).
    """
    stored = {row.source_id: row for row in rows}
    changes = Changes()
    new: list[tuple[str, Hashed]] = []
    for source_id, hashed in wanted.items():
        row = stored.get(source_id)
        if row is None:
            new.append((source_id, hashed))
        elif row.left_at is not None:
            changes.restore.append(Write(row.id, source_id, hashed.row_hash))
        elif row.row_hash != hashed.row_hash:
            changes.update.append(Write(row.id, source_id, hashed.row_hash))

    absent = [row for source_id, row in stored.items() if source_id not in wanted]
    by_eckid = _unique_index(absent, "eckid") if new else {}
    by_las_key = _unique_index(absent, "las_key") if new else {}
    taken: set[int] = set()
    for source_id, hashed in new:
        record = hashed.record
        match = None
        for index, value in ((by_eckid, record.eckid), (by_las_key, record.las_key)):
            candidate = index.get(value) if value else None
            if candidate is not None and candidate.id not in taken:
                match = candidate
                break
        if match is None:
            changes.create.append(Write(None, source_id, hashed.row_hash))
        else:
            taken.add(match.id)
            changes.rekey.append(Write(match.id, source_id, hashed.row_hash))

    if complete:
        changes.tombstone = [
            row.id for row in absent if row.left_at is None and row.id not in taken
        ]
    return changes


def _unique_index(rows: Iterable[Any], column: str) -> dict[str, Any]:
    """Rows by a secondary key, leaving out values two rows share (a match must be certain)."""
    index: dict[str, Any] = {}
    shared: set[str] = set()
    for row in rows:
        value = getattr(row, column)
        if not value:
            continue
        if value in index:
            shared.add(value)
        index[value] = row
    for value in shared:
        del index[value]
    return index


def moved_pupils(
    written: Iterable[Write],
    rows: Sequence[Any],
    wanted: Mapping[str, Hashed],
    live_groups: Mapping[tuple[str, str], int | None],
) -> int:
    """How many of the rewritten pupils end up in another group (class) than stored."""
    old_group = {row.id: row.group_id for row in rows}
    moved = 0
    for write in written:
        record = wanted[write.key].record
        assert isinstance(record, PupilRecord)
        if record.group_key is None:
            moved += old_group[write.id] is not None
            continue
        new_id = live_groups.get((_GROUP, record.group_key))
        # A group still to be created has no id yet: the pupil cannot already be in it.
        moved += new_id is None or new_id != old_group[write.id]
    return moved
