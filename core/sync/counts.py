"""A run's counts: how many records of each kind a sync changed, and how, one key spelling."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum


class Change(StrEnum):
    """What a sync did to a record; a count's key is ``<kind>_<change>`` ("pupils_left")."""

    CREATED = "created"
    UPDATED = "updated"
    LEFT = "left"  # tombstoned: left the school at the source
    RESTORED = "restored"
    REKEYED = "rekeyed"  # people only: matched by ECK iD or lasKey under a new source id


def count_key(kind: str, change: Change) -> str:
    """The stored key of a count: ``kind`` is "pupils", "staff" or "groups"."""
    return f"{kind}_{change}"


@dataclass(frozen=True, slots=True)
class KindCounts:
    """One kind's counts of a run, read from its stored counts (absent: 0)."""

    created: int = 0
    updated: int = 0
    left: int = 0
    restored: int = 0
    rekeyed: int = 0

    @classmethod
    def of(cls, counts: Mapping[str, int] | None, kind: str) -> KindCounts:
        found = counts or {}
        return cls(*(int(found.get(count_key(kind, Change(f.name)), 0)) for f in fields(cls)))

    def as_counts(self, kind: str, *, rekeys: bool = True) -> dict[str, int]:
        """The stored form (``rekeys``: people have a re-key count, groups do not)."""
        return {
            count_key(kind, Change(f.name)): getattr(self, f.name)
            for f in fields(self)
            if rekeys or f.name != Change.REKEYED
        }
