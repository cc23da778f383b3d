"""A school's groups, pupils and staff on the first day, derived only from (seed, school)."""

from __future__ import annotations

import math
import random
from datetime import date

from plugins.basispoort.simulator.names import SUBGROUP_NAMES, ascii_fold, person_name
from plugins.basispoort.simulator.state import (
    Group,
    Pupil,
    SchoolContents,
    SchoolHeader,
    StaffMember,
)

ECKID_PREFIX = "https://ketenid.nl/201703/"
GROUP_SIZE = 28  # a class splits into parallel groups above this


def school_rng(seed: int, school_id: int, purpose: str) -> random.Random:
    """A generator private to one school and purpose; string seeds hash the same in every run."""
    return random.Random(f"{seed}:{school_id}:{purpose}")


def build_contents(seed: int, header: SchoolHeader) -> SchoolContents:
    """The school as it is before the first night."""
    rng = school_rng(seed, header.id, "base")
    groepen = _groups(rng, header.size)
    subgroepen = _subgroups(rng, header.size)
    contents = SchoolContents(
        school_id=header.id,
        groepen=groepen,
        subgroepen=subgroepen,
        pupils={},
        staff={},
        mutated_at=header.first_mutation,
        next_pupil_serial=0,
        next_staff_serial=0,
    )
    years = _year_of_each_pupil(rng, header.size)
    for year in years:
        pupil = new_pupil(rng, contents, year)
        contents.pupils[pupil.id] = pupil
    _add_staff(rng, contents, header)
    return contents


def new_pupil(rng: random.Random, contents: SchoolContents, year: int) -> Pupil:
    """A pupil with a fresh id in one of the groups that teach ``year``."""
    pupil_id = contents.new_pupil_id()
    first, prefix, last, initials = person_name(rng)
    groups = contents.groups_for_year(year)
    # Membership by lasKey can be incomplete upstream: a few pupils come without a group.
    group = rng.choice(groups).las_key if groups and rng.random() > 0.01 else None
    subgroups = [g.las_key for g in contents.subgroepen if g.las_key and rng.random() < 0.08]
    return Pupil(
        id=pupil_id,
        eckid=new_eckid(rng) if rng.random() < 0.95 else None,
        las_key=str(pupil_id % 1_000_000 + 40_000) if rng.random() < 0.97 else None,
        voornaam=first,
        voorvoegsel=prefix,
        achternaam=last,
        voorletters=initials,
        jaargroep=year,
        groep=group,
        subgroepen=subgroups,
    )


def new_staff(
    rng: random.Random,
    contents: SchoolContents,
    domain: str,
    roles: list[str],
    groups: list[str],
    end: date | None = None,
) -> StaffMember:
    """A staff member with a fresh id; most have an e-mail address at the school's domain."""
    staff_id = contents.new_staff_id()
    first, prefix, last, initials = person_name(rng)
    email = None
    if rng.random() < 0.9:
        local = f"{first}.{prefix or ''}{last}".lower().replace(" ", "").replace("'", "")
        email = f"{ascii_fold(local)}@{domain}"
    return StaffMember(
        id=staff_id,
        eckid=new_eckid(rng) if rng.random() < 0.7 else None,
        las_key=f"M{staff_id % 1_000_000}" if rng.random() < 0.9 else None,
        voornaam=first,
        voorvoegsel=prefix,
        achternaam=last,
        voorletters=initials,
        emailadres=email,
        einddatum=end,
        rollen=roles,
        groepen=groups,
    )


def new_eckid(rng: random.Random) -> str:
    return f"{ECKID_PREFIX}{rng.getrandbits(512):0128x}"


def school_year_end(on: date) -> date:
    """The last day of the school year that ``on`` falls in (mid July)."""
    year = on.year if on.month < 8 else on.year + 1
    return date(year, 7, 17)


def _year_of_each_pupil(rng: random.Random, size: int) -> list[int]:
    weights = [rng.uniform(0.85, 1.15) for _ in range(8)]
    return rng.choices(range(1, 9), weights=weights, k=size)


def _groups(rng: random.Random, size: int) -> list[Group]:
    """Year groups: kleuters (1/2) always combined; small years combined with the next one."""
    per_year = size / 8
    plan: list[tuple[int, ...]] = [(1, 2)]
    year = 3
    while year <= 8:
        if per_year < 18 and year < 8:
            plan.append((year, year + 1))
            year += 2
        else:
            plan.append((year,))
            year += 1
    key = rng.randint(10_000, 80_000)
    groups: list[Group] = []
    for years in plan:
        label = "/".join(str(y) for y in years)
        parallel = max(1, math.ceil(per_year * len(years) / GROUP_SIZE))
        combined = len(years) > 1
        for index in range(parallel):
            suffix = chr(ord("A") + index) if parallel > 1 else ""
            key += 1
            groups.append(
                Group(
                    las_key=str(key),
                    naam=f"Groep {label}{suffix}",
                    years=years,
                    omschrijving=f"Combinatiegroep {label}" if combined else None,
                )
            )
    return groups


def _subgroups(rng: random.Random, size: int) -> list[Group]:
    count = min(len(SUBGROUP_NAMES), 1 + size // 80)
    base = rng.randint(100_000, 800_000)
    subgroups = [
        Group(las_key=f"SG{base + i}", naam=name)
        for i, name in enumerate(rng.sample(SUBGROUP_NAMES, count))
    ]
    if rng.random() < 0.1:  # lasKey is optional upstream; such a subgroup has no members
        subgroups.append(Group(las_key=None, naam="Werkgroep"))
    return subgroups


def _add_staff(rng: random.Random, contents: SchoolContents, header: SchoolHeader) -> None:
    domain = header.emailadres.split("@", 1)[1]
    year_end = school_year_end(header.first_mutation.date())
    for group in contents.groepen:
        teachers = 2 if rng.random() < 0.25 else 1  # duo jobs share a group
        for _ in range(teachers):
            member = new_staff(rng, contents, domain, ["Leerkracht"], [group.las_key or ""])
            if rng.random() < 0.15 and contents.subgroepen:
                member.subgroepen = [g.las_key for g in contents.subgroepen[:1] if g.las_key]
            contents.staff[member.id] = member
    extra: list[tuple[list[str], date | None]] = [
        (["ICTCoordinator", "Leerkracht"] if rng.random() < 0.6 else ["ICTCoordinator"], None),
        (["IBRTer"], None),
        (["Stagiair"], year_end),
        (["Inval"], year_end if rng.random() < 0.5 else None),
    ]
    if rng.random() < 0.3:
        extra.append((["Directeur"], None))  # a role newer than the client's list
    for roles, end in extra:
        member = new_staff(rng, contents, domain, roles, [], end=end)
        contents.staff[member.id] = member
