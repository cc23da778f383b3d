"""The kit's Upstream over the bundled Basispoort simulator: one quiet school serves the roster."""

from __future__ import annotations

from datetime import date
from typing import Any

from koppel.testing import Failure, KitPerson, Roster
from plugins.basispoort.simulator import SimulatorServer, World
from plugins.basispoort.simulator.state import (
    STAFF_SERIALS,
    Group,
    Pupil,
    SchoolContents,
    StaffMember,
    person_id,
)

_FAULTS = {"unreachable": "5xx", "garbled": "garbled"}
_FOREVER = 10_000  # requests: far more than any check makes while failing


class SimulatorUpstream:
    """Serves kit rosters from a school of ``server``'s world, each edit a new change stamp."""

    def __init__(self, world: World, server: SimulatorServer) -> None:
        self.world = world
        self.server = server
        self.school_id = world.find("quiet")
        self.brin6 = world.school(self.school_id).brin6
        self.ids: dict[str, int] = {}

    def serve(self, roster: Roster) -> None:
        for person in roster.people:
            if person.key not in self.ids:
                base = 500_000 if person.kind == "pupil" else STAFF_SERIALS + 50_000
                self.ids[person.key] = person_id(self.school_id, base + len(self.ids))
        ids = dict(self.ids)

        def replace_contents(contents: SchoolContents) -> None:
            contents.groepen[:] = [Group(g.key, g.name, (g.year_group,)) for g in roster.groups]
            contents.subgroepen.clear()
            contents.pupils.clear()
            contents.staff.clear()
            for p in roster.of_kind("pupil"):
                contents.pupils[ids[p.key]] = _pupil(ids[p.key], p)
            for p in roster.of_kind("staff"):
                contents.staff[ids[p.key]] = _staff(ids[p.key], p)

        self.world.edit(self.school_id, replace_contents)

    def fail(self, failure: Failure | None) -> bool:
        header = self.world.school(self.school_id)
        if failure is None:
            self.server.faults.clear()
            header.consent = True
        elif failure == "refused":
            header.consent = False  # every data endpoint answers 403, listed nowhere
        else:
            self.server.faults.add(r".", _FAULTS[failure], times=_FOREVER)
        return True

    def set_consent(self, granted: bool) -> date:
        self.world.set_consent(self.school_id, granted)
        return self.world.today


def _pupil(source_id: int, p: KitPerson) -> Pupil:
    return Pupil(**_person(source_id, p), jaargroep=p.year_group, groep=p.group)


def _staff(source_id: int, p: KitPerson) -> StaffMember:
    return StaffMember(
        **_person(source_id, p), emailadres=p.email, einddatum=None, rollen=list(p.roles)
    )


def _person(source_id: int, p: KitPerson) -> dict[str, Any]:
    """The fields pupils and staff share in Basispoort's JSON."""
    return {
        "id": source_id,
        "eckid": p.eckid,
        "las_key": None,
        "voornaam": p.first_name,
        "voorvoegsel": p.prefix,
        "achternaam": p.last_name,
        "voorletters": None,
    }
