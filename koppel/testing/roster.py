"""What the kit asks an upstream to serve: one school's groups and people, in plain terms."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

Kind = Literal["pupil", "staff"]
UNKNOWN_ROLE = "Toverdrankbrouwer"  # no source knows it: it must be kept, mapped or refused
KNOWN_ROLE = "Leerkracht"


@dataclass(frozen=True, slots=True)
class KitGroup:
    """A class (groep); ``key`` is the kit's name for it, stable in every roster."""

    key: str
    name: str
    year_group: int | None = None


@dataclass(frozen=True, slots=True)
class KitPerson:
    """A pupil or staff member; ``key`` names the same person in every roster the kit serves.

    All of it is made up by the kit, so the kit can look for it in logs and errors.
    """

    key: str
    kind: Kind
    first_name: str | None
    last_name: str | None
    eckid: str
    prefix: str | None = None
    birth_date: date | None = None
    email: str | None = None  # staff only
    roles: tuple[str, ...] = ()  # staff only, as the source would name them
    group: str | None = None  # a KitGroup key (pupils)
    year_group: int | None = None

    @property
    def personal_data(self) -> tuple[str, ...]:
        """Every value that must never be seen in a log line or an error message."""
        found = [self.first_name, self.last_name, self.eckid, self.email]
        if self.birth_date is not None:
            found += [self.birth_date.isoformat(), self.birth_date.strftime("%d-%m-%Y")]
        return tuple(v for v in found if v and len(v) >= 3)


@dataclass(frozen=True, slots=True)
class Roster:
    """One school's groups and people as the upstream is to serve them (the whole school)."""

    groups: tuple[KitGroup, ...]
    people: tuple[KitPerson, ...]

    def of_kind(self, kind: Kind) -> tuple[KitPerson, ...]:
        return tuple(p for p in self.people if p.kind == kind)

    def person(self, key: str) -> KitPerson:
        return next(p for p in self.people if p.key == key)

    def without(self, key: str) -> Roster:
        """The same school with the person ``key`` gone (left the school)."""
        return replace(self, people=tuple(p for p in self.people if p.key != key))

    def renamed(self, key: str, last_name: str) -> Roster:
        """The same school with the person ``key`` under another surname."""
        people = tuple(replace(p, last_name=last_name) if p.key == key else p for p in self.people)
        return replace(self, people=people)

    def plus(self, *people: KitPerson) -> Roster:
        return replace(self, people=self.people + people)

    @property
    def personal_data(self) -> frozenset[str]:
        return frozenset(v for p in self.people for v in p.personal_data)


def _eckid(n: int) -> str:
    return f"https://ketenid.nl/201703/kit{n:04d}{'a' * 24}"


_PUPILS = [
    ("Zoë", None, "Vermeulenhof"), ("Daan", "van der", "Bergkampen"), ("Fenna", "de", "Wittebol"),
    ("Bram", None, "Oosterhagen"), ("Sanne", "van", "Dijkstraten"), ("Jesse", None, "Kuipersma"),
    ("Noor", "ten", "Brinkhorst"), ("Milan", None, "Hoekstrama"),
]  # fmt: skip
_STAFF = [
    ("Ingrid", None, "Zwartewaal", (KNOWN_ROLE,)),
    ("Herman", "van", "Lieshoutveld", (KNOWN_ROLE, "Directeur")),
    ("Petra", None, "Gansevoortje", (UNKNOWN_ROLE,)),
]


def base_roster() -> Roster:
    """A small ordinary school: two groups, eight pupils and three staff (one unknown role)."""
    groups = (KitGroup("kit-g3", "Groep 3", 3), KitGroup("kit-g4", "Groep 4", 4))
    people = [
        KitPerson(
            key=f"pupil{n}",
            kind="pupil",
            first_name=first,
            prefix=prefix,
            last_name=last,
            eckid=_eckid(n),
            birth_date=date(2017, 1 + n, 10 + n),
            group=groups[n % 2].key,
            year_group=groups[n % 2].year_group,
        )
        for n, (first, prefix, last) in enumerate(_PUPILS)
    ]
    people += [
        KitPerson(
            key=f"staff{n}",
            kind="staff",
            first_name=first,
            prefix=prefix,
            last_name=last,
            eckid=_eckid(100 + n),
            email=f"{first.lower()}.{last.lower()}@kitschool.example",
            roles=roles,
        )
        for n, (first, prefix, last, roles) in enumerate(_STAFF)
    ]
    return Roster(groups=groups, people=tuple(people))


def odd_people() -> tuple[KitPerson, ...]:
    """People whose names and roles a careless source trips over; all must arrive intact."""
    odd = [
        ("odd1", "Ñúñez-Ødegård", "'t", "D'Hondt-Çelik"),
        ("odd2", "李小龙", None, "Nguyễn Thị"),
        ("odd3", None, None, "Zonder-Voornaam"),
        ("odd4", "Émile 🙂", "van 't", "Ŝtraße"),
    ]
    return tuple(
        KitPerson(
            key=key,
            kind="staff" if key == "odd4" else "pupil",
            first_name=first,
            prefix=prefix,
            last_name=last,
            eckid=_eckid(200 + n),
            birth_date=date(2016, 2, 29) if key != "odd4" else None,
            email="emile.strasse@kitschool.example" if key == "odd4" else None,
            roles=(UNKNOWN_ROLE, KNOWN_ROLE) if key == "odd4" else (),
            group="kit-g3" if key != "odd4" else None,
            year_group=3 if key != "odd4" else None,
        )
        for n, (key, first, prefix, last) in enumerate(odd)
    )


def unstorable_person() -> KitPerson:
    """A name longer than any column: the source (or koppel) must refuse it with a clean error."""
    return KitPerson(
        key="toolong",
        kind="pupil",
        first_name="Wilhelmina",
        last_name="Langenaamvan" * 40,
        eckid=_eckid(300),
        birth_date=date(2016, 7, 4),
        group="kit-g3",
        year_group=3,
    )
