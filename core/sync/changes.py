"""The writes a plan holds for one kind of row: create, update, restore, re-key, tombstone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from core.sync.records import GroupRef


class Write(NamedTuple):
    """One row to write: its id (None when it is to be created), its source key, its new hash."""

    id: int | None
    key: str | GroupRef  # a person's source id, or a group's ref
    row_hash: str


@dataclass
class Changes:
    """The writes for one kind of row (groups, pupils or staff)."""

    create: list[Write] = field(default_factory=list)
    update: list[Write] = field(default_factory=list)
    restore: list[Write] = field(default_factory=list)  # tombstoned rows that reappeared
    rekey: list[Write] = field(default_factory=list)  # same person, new source id
    tombstone: list[int] = field(default_factory=list)

    @property
    def rewritten(self) -> list[Write]:
        """Existing rows whose fields (and memberships) are written again."""
        return [*self.update, *self.restore, *self.rekey]

    def __len__(self) -> int:
        return (
            len(self.create)
            + len(self.update)
            + len(self.restore)
            + len(self.rekey)
            + len(self.tombstone)
        )

    def sort(self) -> None:
        # A stable order makes the plan hash depend on the content only.
        self.create.sort(key=lambda w: w.key)
        for writes in (self.update, self.restore, self.rekey):
            writes.sort(key=lambda w: (w.id, w.key))
        self.tombstone.sort()

    def to_dict(self) -> dict[str, list[Any]]:
        # Keys as text: a group's ref as "group:5A", as plans have always been stored (their
        # hashes, and the plans held before refs became values, stay what they were).
        return {
            "create": [[str(w.key), w.row_hash] for w in self.create],
            "update": [[w.id, str(w.key), w.row_hash] for w in self.update],
            "restore": [[w.id, str(w.key), w.row_hash] for w in self.restore],
            "rekey": [[w.id, str(w.key), w.row_hash] for w in self.rekey],
            "tombstone": list(self.tombstone),
        }

    @classmethod
    def from_dict(cls, data: dict[str, list[Any]], key: Callable[[str], Any] = str) -> Changes:
        """Read back what ``to_dict`` wrote; ``key`` makes a key of its text (GroupRef.parse
        for groups)."""
        return cls(
            create=[Write(None, key(str(k)), str(h)) for k, h in data["create"]],
            update=[Write(int(i), key(str(k)), str(h)) for i, k, h in data["update"]],
            restore=[Write(int(i), key(str(k)), str(h)) for i, k, h in data["restore"]],
            rekey=[Write(int(i), key(str(k)), str(h)) for i, k, h in data["rekey"]],
            tombstone=[int(i) for i in data["tombstone"]],
        )
