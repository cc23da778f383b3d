"""The writes a plan holds for one kind of row: create, update, restore, re-key, tombstone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


class Write(NamedTuple):
    """One row to write: its id (None when it is to be created), its source key, its new hash."""

    id: int | None
    key: str  # a person's source id, or a group's ref ("group:5A")
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
        return {
            "create": [[w.key, w.row_hash] for w in self.create],
            "update": [list(w) for w in self.update],
            "restore": [list(w) for w in self.restore],
            "rekey": [list(w) for w in self.rekey],
            "tombstone": list(self.tombstone),
        }

    @classmethod
    def from_dict(cls, data: dict[str, list[Any]]) -> Changes:
        return cls(
            create=[Write(None, str(k), str(h)) for k, h in data["create"]],
            update=[Write(int(i), str(k), str(h)) for i, k, h in data["update"]],
            restore=[Write(int(i), str(k), str(h)) for i, k, h in data["restore"]],
            rekey=[Write(int(i), str(k), str(h)) for i, k, h in data["rekey"]],
            tombstone=[int(i) for i in data["tombstone"]],
        )
