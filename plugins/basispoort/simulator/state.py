"""The simulated data: a school's header (always in memory) and its contents (built on demand)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(slots=True)
class SchoolHeader:
    """What the world keeps of every school: details, consent and size, but no people."""

    id: int
    ordinal: int
    brin: str  # 4 characters, e.g. "12AB"
    location: str  # dependancecode, "00" or "01"
    naam: str
    straat: str
    huisnummer: str
    toevoeging: str | None
    postcode: str
    woonplaats: str
    telefoon_net: str
    telefoon_abon: str
    emailadres: str
    bestuurscode: str
    instelling_ref: str
    size: int  # pupils on the first day
    networks: tuple[str, ...]  # CIDRs for the assumed ipadressen endpoint
    first_mutation: datetime  # mutationTimestamp before the first night
    kinds: tuple[str, ...] = ()  # fixed roles that tests find with World.find()
    actief: bool = True
    merged_into: int | None = None
    consent: bool = True
    granted_on: date | None = None  # the day the school granted consent before the world began
    permission_requested: bool = False

    @property
    def brin6(self) -> str:
        return self.brin + self.location

    @property
    def quiet(self) -> bool:
        """A quiet school never changes at night (tests rely on one that stays put)."""
        return "quiet" in self.kinds


@dataclass(slots=True)
class Group:
    """A groep or subgroep; ``years`` are the year groups it teaches (two for a combination)."""

    las_key: str | None
    naam: str
    years: tuple[int, ...] = ()
    omschrijving: str | None = None

    @property
    def jaargroep(self) -> str | None:
        # Basispoort gives a combination group no jaargroep.
        return str(self.years[0]) if len(self.years) == 1 else None


@dataclass(slots=True)
class Pupil:
    """A leerling as Basispoort serves it."""

    id: int
    eckid: str | None
    las_key: str | None
    voornaam: str | None
    voorvoegsel: str | None
    achternaam: str | None
    voorletters: str | None
    jaargroep: int | None
    groep: str | None  # lasKey of the pupil's group
    subgroepen: list[str] = field(default_factory=list)


@dataclass(slots=True)
class StaffMember:
    """A medewerker as Basispoort serves it; ``rollen`` may hold roles unknown to clients."""

    id: int
    eckid: str | None
    las_key: str | None
    voornaam: str | None
    voorvoegsel: str | None
    achternaam: str | None
    voorletters: str | None
    emailadres: str | None
    einddatum: date | None
    rollen: list[str]
    groepen: list[str] = field(default_factory=list)
    subgroepen: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SchoolContents:
    """One school's groups and people at one night, plus how far its history has been replayed."""

    school_id: int
    groepen: list[Group]
    subgroepen: list[Group]
    pupils: dict[int, Pupil]
    staff: dict[int, StaffMember]
    mutated_at: datetime
    next_pupil_serial: int
    next_staff_serial: int
    night: int = 0  # nights replayed so far
    edits_applied: int = 0  # explicit edits replayed so far

    def new_pupil_id(self) -> int:
        self.next_pupil_serial += 1
        return person_id(self.school_id, self.next_pupil_serial)

    def new_staff_id(self) -> int:
        self.next_staff_serial += 1
        return person_id(self.school_id, STAFF_SERIALS + self.next_staff_serial)

    def groups_for_year(self, year: int) -> list[Group]:
        return [g for g in self.groepen if year in g.years and g.las_key]


STAFF_SERIALS = 900_000  # staff serials start here, so pupil and staff ids never meet


def person_id(school_id: int, serial: int) -> int:
    """Basispoort ids are int64 and unique across schools: the school id, then a serial."""
    return school_id * 1_000_000 + serial
