"""A school's groups, pupils and staff on the first day, derived only from (seed, school)."""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable
from datetime import date

from plugins.basispoort.simulator.draws import chooser
from plugins.basispoort.simulator.names import (
    SUBGROUP_NAMES,
    PersonName,
    ascii_fold,
    name_drawer,
)
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
    new_pupil = pupil_maker(rng, contents)
    for year in years:
        pupil = new_pupil(year)
        contents.pupils[pupil.id] = pupil
    _add_staff(rng, contents, header)
    return contents


def pupil_maker(rng: random.Random, contents: SchoolContents) -> Callable[[int], Pupil]:
    """A function giving a new pupil of a year, with a fresh id, in a group that teaches it.

    It reads the school's groups once (a pupil per call would redo that for nothing), so use it
    only while the groups stay as they are: for one build, one night or one edit.
    """
    random = rng.random
    draw_name = name_drawer(rng)
    subgroup_keys = [g.las_key for g in contents.subgroepen if g.las_key]
    group_choosers: dict[int, Callable[[], str | None] | None] = {}

    # The draws keep their order (name, group, subgroups, ECK iD, lasKey): worlds replay from
    # their seed, and tests/basispoort/test_simulator_world.py pins what they give.
    def new_pupil(year: int) -> Pupil:
        pupil_id = contents.new_pupil_id()
        first, prefix, last, initials = draw_name()
        if year not in group_choosers:
            groups = [g.las_key for g in contents.groups_for_year(year)]
            group_choosers[year] = chooser(rng, groups) if groups else None
        choose_group = group_choosers[year]
        # Membership by lasKey can be incomplete upstream: a few pupils come without a group.
        group = choose_group() if choose_group is not None and random() > 0.01 else None
        subgroups = [key for key in subgroup_keys if random() < 0.08]
        eckid = new_eckid(rng) if random() < 0.95 else None
        las_key = str(pupil_id % 1_000_000 + 40_000) if random() < 0.97 else None
        # Positional: keywords cost half a microsecond per pupil (the fields' order in state.py).
        return Pupil(
            pupil_id, eckid, las_key, first, prefix, last, initials, year, group, subgroups
        )

    return new_pupil


def new_staff(
    rng: random.Random,
    contents: SchoolContents,
    domain: str,
    roles: list[str],
    groups: list[str],
    end: date | None = None,
    draw_name: Callable[[], PersonName] | None = None,
) -> StaffMember:
    """A staff member with a fresh id; most have an e-mail address at the school's domain.

    ``draw_name`` is name_drawer(rng), passed in when adding many: making one costs a little.
    """
    staff_id = contents.new_staff_id()
    first, prefix, last, initials = (draw_name or name_drawer(rng))()
    email = None
    if rng.random() < 0.9:
        email = f"{_email_local(first, prefix, last)}@{domain}"
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
    # The same text as f"{n:0128x}", in half the time (an ECK iD for nearly every person).
    return ECKID_PREFIX + rng.getrandbits(512).to_bytes(64, "big").hex()


@functools.lru_cache(maxsize=8192)  # names come from the tables in names.py: a few thousand
def _email_local(first: str, prefix: str | None, last: str) -> str:
    local = f"{first}.{prefix or ''}{last}".lower().replace(" ", "").replace("'", "")
    return ascii_fold(local)


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
    draw_name = name_drawer(rng)
    for group in contents.groepen:
        teachers = 2 if rng.random() < 0.25 else 1  # duo jobs share a group
        for _ in range(teachers):
            member = new_staff(
                rng, contents, domain, ["Leerkracht"], [group.las_key or ""], draw_name=draw_name
            )
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
        member = new_staff(rng, contents, domain, roles, [], end=end, draw_name=draw_name)
        contents.staff[member.id] = member
