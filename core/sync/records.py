"""A snapshot made ready to diff: checked, group references resolved, networks canonical."""

from __future__ import annotations

from collections.abc import Container, Hashable, Iterable
from dataclasses import replace
from typing import NamedTuple

from core.errors import SourceDataError
from core.login.networks import InvalidNetwork, parse_network
from core.snapshot import GroupKind, PupilRecord, SchoolSnapshot, StaffRecord


class GroupRef(NamedTuple):
    """How plans and lookups name a group: its kind and the source's key.

    A plain ``(kind, key)`` tuple is equal to it and hashes alike: lookups made for every
    person build those (a NamedTuple costs about three times as much to make). Only a stored
    plan writes it as text, ``str(ref)`` ("group:5A"), read back by ``GroupRef.parse``.
    """

    kind: str
    key: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"

    @classmethod
    def parse(cls, text: str) -> GroupRef:
        """A ref from its stored text; ValueError if it is not "kind:key" with a known kind."""
        kind, sep, key = text.partition(":")
        if not sep or kind not in _KINDS:
            raise ValueError(f"not a group reference: {text!r}")
        return cls(kind, key)


_GROUP = GroupKind.GROUP.value
_SUBGROUP = GroupKind.SUBGROUP.value
_KINDS = frozenset(GroupKind)


def check_snapshot(school_id: int, source_school_id: str, snapshot: SchoolSnapshot) -> None:
    """Refuse a snapshot that breaks the source's promises; ids and counts only in the message."""
    if snapshot.school.source_school_id != source_school_id:
        raise SourceDataError(
            f"school {school_id}: the source answered for another school "
            f"({snapshot.school.source_school_id!r} instead of {source_school_id!r})"
        )
    _unique(school_id, "group", ((str(g.kind), g.key) for g in snapshot.groups))
    _unique(school_id, "pupil", (p.source_id for p in snapshot.pupils))
    _unique(school_id, "staff", (s.source_id for s in snapshot.staff))


def _unique(school_id: int, what: str, keys: Iterable[Hashable]) -> None:
    seen: set[Hashable] = set()
    repeated = 0
    for key in keys:
        if key in seen:
            repeated += 1
        seen.add(key)
    if repeated:
        raise SourceDataError(
            f"school {school_id}: the snapshot lists {repeated} {what} id(s) more than once"
        )


def canonical_networks(school_id: int, networks: Iterable[str]) -> list[str]:
    """Each network in canonical CIDR form, sorted, without repeats.

    The rules for networks an administrator enters (core.login.networks.parse_network) decide:
    host bits set ("10.0.6.77/8") are refused, never cleared, since clearing them would let
    the whole range in; nothing wider than /8 or /16, which would switch the IP rule off;
    IPv4-mapped IPv6 unwrapped (clients arrive unwrapped). One bad network refuses them all.
    """
    found: set[str] = set()
    for position, text in enumerate(networks):
        try:
            found.add(str(parse_network(text)))
        except InvalidNetwork as exc:
            # The value itself stays out of the message: it is the school's data, not ours.
            raise SourceDataError(
                f"school {school_id}: network number {position + 1} in the snapshot {exc.why}"
            ) from None
    return sorted(found)


def resolve_pupil(pupil: PupilRecord, live: Container[tuple[str, str]]) -> tuple[PupilRecord, int]:
    """The pupil with memberships of groups that will not exist dropped, and how many were."""
    group_key = pupil.group_key
    if group_key is not None and (_GROUP, group_key) not in live:
        group_key = None
    subgroups = tuple(k for k in pupil.subgroup_keys if (_SUBGROUP, k) in live)
    dropped = (group_key != pupil.group_key) + len(pupil.subgroup_keys) - len(subgroups)
    if not dropped:
        return pupil, 0
    return replace(pupil, group_key=group_key, subgroup_keys=subgroups), dropped


def resolve_staff(staff: StaffRecord, live: Container[tuple[str, str]]) -> tuple[StaffRecord, int]:
    """The staff member with memberships of groups that will not exist dropped, and how many."""
    groups = tuple(k for k in staff.group_keys if (_GROUP, k) in live)
    subgroups = tuple(k for k in staff.subgroup_keys if (_SUBGROUP, k) in live)
    dropped = len(staff.group_keys) - len(groups) + len(staff.subgroup_keys) - len(subgroups)
    if not dropped:
        return staff, 0
    return replace(staff, group_keys=groups, subgroup_keys=subgroups), dropped
