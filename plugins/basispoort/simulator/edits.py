"""Changes a test makes to one school, kept as replayable operations (deltas, not copies)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from plugins.basispoort.simulator.errors import UnknownPupil
from plugins.basispoort.simulator.names import person_name
from plugins.basispoort.simulator.population import pupil_maker
from plugins.basispoort.simulator.state import Pupil, SchoolContents

# An operation gets the school's contents and a generator private to this edit. It is run again,
# in the same order, whenever an evicted school is rebuilt: it must be deterministic.
EditOp = Callable[[SchoolContents, random.Random], Any]

KEEP: Any = object()  # "leave this field as it is"


def custom(change: Callable[[SchoolContents], Any]) -> EditOp:
    """Wrap a test's own function (it must be deterministic: it may be replayed)."""
    return lambda contents, _rng: change(contents)


def details_changed() -> EditOp:
    """Nothing of the people: the school's own details changed (merged, (in)active), which
    moves its stamp as any change of its data does."""
    return lambda _contents, _rng: None


def remove_pupils(fraction: float) -> EditOp:
    """Remove ``fraction`` of the pupils (chosen by the edit's generator); returns their ids."""

    def op(contents: SchoolContents, rng: random.Random) -> list[int]:
        ids = sorted(contents.pupils)
        chosen = sorted(rng.sample(ids, round(len(ids) * fraction)))
        for pupil_id in chosen:
            del contents.pupils[pupil_id]
        return chosen

    return op


def add_pupils(count: int) -> EditOp:
    """Add ``count`` new pupils in random year groups; returns their ids."""

    def op(contents: SchoolContents, rng: random.Random) -> list[int]:
        new_pupil = pupil_maker(rng, contents)
        added = [new_pupil(rng.randint(1, 8)) for _ in range(count)]
        for pupil in added:
            contents.pupils[pupil.id] = pupil
        return [p.id for p in added]

    return op


def empty_school() -> EditOp:
    """Nothing left: no pupils, staff or groups (what a broken LAS link looks like)."""

    def op(contents: SchoolContents, _rng: random.Random) -> None:
        contents.pupils.clear()
        contents.staff.clear()
        contents.groepen.clear()
        contents.subgroepen.clear()

    return op


def rename_pupil(
    pupil_id: int, *, voornaam: Any = KEEP, voorvoegsel: Any = KEEP, achternaam: Any = KEEP
) -> EditOp:
    """Change a pupil's name; without any name given, a new surname is drawn."""

    def op(contents: SchoolContents, rng: random.Random) -> None:
        pupil = _pupil(contents, pupil_id)
        if voornaam is KEEP and voorvoegsel is KEEP and achternaam is KEEP:
            _, prefix, last, _ = person_name(rng)
            while (prefix, last) == (pupil.voorvoegsel, pupil.achternaam):
                _, prefix, last, _ = person_name(rng)
            pupil.voorvoegsel, pupil.achternaam = prefix, last
            return
        if voornaam is not KEEP:
            pupil.voornaam = voornaam
        if voorvoegsel is not KEEP:
            pupil.voorvoegsel = voorvoegsel
        if achternaam is not KEEP:
            pupil.achternaam = achternaam

    return op


def move_pupil(pupil_id: int, group_key: str | None) -> EditOp:
    """Put a pupil in another group (by lasKey); a one-year group also sets the jaargroep."""

    def op(contents: SchoolContents, _rng: random.Random) -> None:
        pupil = _pupil(contents, pupil_id)
        pupil.groep = group_key
        group = next((g for g in contents.groepen if g.las_key == group_key), None)
        if group is not None and len(group.years) == 1:
            pupil.jaargroep = group.years[0]

    return op


def change_pupil_id(pupil_id: int) -> EditOp:
    """Give a pupil a new Basispoort id, keeping eckid and lasKey; returns the new id."""

    def op(contents: SchoolContents, _rng: random.Random) -> int:
        pupil = contents.pupils.pop(_pupil(contents, pupil_id).id)
        pupil.id = contents.new_pupil_id()
        contents.pupils[pupil.id] = pupil
        return pupil.id

    return op


def _pupil(contents: SchoolContents, pupil_id: int) -> Pupil:
    try:
        return contents.pupils[pupil_id]
    except KeyError:
        raise UnknownPupil(f"school {contents.school_id} has no pupil {pupil_id}") from None
