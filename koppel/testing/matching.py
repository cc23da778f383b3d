"""Which served person a source's record (or koppel's stored row) stands for."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from koppel.testing.roster import KitPerson, Roster


def _clean(value: str | None) -> str:
    # Sources may strip blanks and read a blank name as missing (documented leniency).
    return (value or "").strip()


def served_person(record: Any, roster: Roster) -> KitPerson | None:
    """The kit person a record with eckid/first_name/last_name is, by ECK iD, else by name."""
    eckid = getattr(record, "eckid", None)
    for person in roster.people:
        if eckid and eckid == person.eckid:
            return person
    name = (_clean(record.first_name), _clean(record.last_name))
    matches = [p for p in roster.people if (_clean(p.first_name), _clean(p.last_name)) == name]
    return matches[0] if len(matches) == 1 else None


def ids_by_key(records: Iterable[Any], roster: Roster) -> dict[str, str]:
    """kit key -> the source's id, for every record that stands for a served person."""
    found: dict[str, str] = {}
    for record in records:
        person = served_person(record, roster)
        if person is not None:
            found[person.key] = record.source_id
    return found


def same_name(record: Any, person: KitPerson) -> bool:
    return (_clean(record.first_name), _clean(record.last_name)) == (
        _clean(person.first_name),
        _clean(person.last_name),
    )
