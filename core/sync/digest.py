"""Stable content hashes of snapshot records: equal hash means nothing to write."""

from __future__ import annotations

from hashlib import blake2b

import orjson

from core.snapshot import GroupRecord, PupilRecord, StaffRecord

# The first element of every digested list: bump it when the fields change, so every row is
# rewritten once instead of old hashes silently meaning something else.
_GROUP, _PUPIL, _STAFF = "group/1", "pupil/1", "staff/1"


def _digest(fields: list[object]) -> str:
    # orjson writes exactly what json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    # wrote before it (pinned by a test), about ten times faster: stored hashes stay valid.
    return blake2b(orjson.dumps(fields), digest_size=16).hexdigest()


def _keys(keys: tuple[str, ...]) -> list[str]:
    # Memberships and roles are sets: order and repeats at the source mean nothing.
    return sorted(set(keys))


def group_digest(group: GroupRecord) -> str:
    """32 hex characters over every synced field of a group."""
    return _digest(
        [_GROUP, str(group.kind), group.key, group.name, group.year_group, group.description]
    )


def pupil_digest(pupil: PupilRecord) -> str:
    """32 hex characters over every synced field of a pupil, memberships included."""
    return _digest(
        [
            _PUPIL,
            pupil.source_id,
            pupil.eckid,
            pupil.las_key,
            pupil.first_name,
            pupil.prefix,
            pupil.last_name,
            pupil.initials,
            pupil.year_group,
            pupil.group_key,
            _keys(pupil.subgroup_keys),
        ]
    )


def staff_digest(staff: StaffRecord) -> str:
    """32 hex characters over every synced field of a staff member, roles and memberships too."""
    return _digest(
        [
            _STAFF,
            staff.source_id,
            staff.eckid,
            staff.las_key,
            staff.first_name,
            staff.prefix,
            staff.last_name,
            staff.initials,
            staff.email,
            staff.end_date.isoformat() if staff.end_date else None,
            _keys(staff.roles),
            _keys(staff.group_keys),
            _keys(staff.subgroup_keys),
        ]
    )
