"""What an identity source hands the core: one school's people and groups at one moment.

Every record checks itself when it is made (``fitting``), so no source can hand the core a value
the database cannot hold: text no longer than its column, without NUL characters or lone
surrogates, a year group that fits its column. A value that does not fit raises
SourceDataError naming the record by id and the field, never the value.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from core.errors import SourceDataError
from core.models import Group, Pupil, School, SchoolNetwork, Staff


class TextFields:
    """A record's text fields, the most characters of each (its column's size; None: JSON or
    unbounded Text), and a getter of all their values at once."""

    def __init__(self, columns: dict[str, Any]) -> None:
        self.limits = {
            n: getattr(getattr(c, "type", None), "length", None) for n, c in columns.items()
        }
        self.values = operator.attrgetter(*self.limits)


_PERSON_TEXT = ("source_id", "eckid", "las_key", "first_name", "prefix", "last_name", "initials")
_SCHOOL_TEXT = TextFields(
    {
        "source_school_id": School.source_school_id,
        "name": School.name,
        "brin": School.brin,
        "location_code": School.location_code,
        "merged_into": School.merged_into_source_id,
        "ref": School.source_ref,
    }
)
_GROUP_TEXT = TextFields(
    {"key": Group.source_key, "name": Group.name, "description": Group.description}
)
_PUPIL_TEXT = TextFields(
    {name: getattr(Pupil, name) for name in _PERSON_TEXT}
    | {"group_key": Group.source_key, "subgroup_keys": Group.source_key}
)
_STAFF_TEXT = TextFields(
    {name: getattr(Staff, name) for name in _PERSON_TEXT}
    | {
        "email": Staff.email,
        "roles": None,
        "group_keys": Group.source_key,
        "subgroup_keys": Group.source_key,
    }
)
_NETWORK_MAX = SchoolNetwork.network.type.length
_YEAR_GROUPS = range(-(2**31), 2**31)  # what an Integer column holds on every backend


def _fits(value: Any, limit: int | None, what: str, name: str) -> None:
    """``value`` is text the database can store in a column of ``limit`` characters."""
    if not isinstance(value, str):
        raise SourceDataError(f"{what}: {name} is {type(value).__name__}, not text")
    if limit is not None and len(value) > limit:
        raise SourceDataError(
            f"{what}: {name} has {len(value)} characters, more than the {limit} koppel stores"
        )
    if "\x00" in value:
        raise SourceDataError(f"{what}: {name} contains a NUL character")
    if not (value.isascii() or _encodes(value)):
        raise SourceDataError(f"{what}: {name} is not valid Unicode (a lone surrogate)")


def fitting(record: Any, what: str, fields: TextFields) -> None:
    """Check ``record``'s text ``fields`` or raise SourceDataError naming the first bad one."""
    texts: list[str] = []
    for (name, limit), value in zip(fields.limits.items(), fields.values(record), strict=True):
        if value is None:
            continue
        for item in value if value.__class__ is tuple else (value,):
            if item.__class__ is not str or (limit is not None and len(item) > limit):
                _fits(item, limit, what, name)
            texts.append(item)
    # One look at all of them (every changed school's records pass here); by field if it fails.
    joined = "".join(texts)
    if "\x00" in joined or not (joined.isascii() or _encodes(joined)):
        for name, limit in fields.limits.items():
            value = getattr(record, name)
            for item in value if isinstance(value, tuple) else (value,):
                if item is not None:
                    _fits(item, limit, what, name)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _who(kind: str, source_id: Any, limit: int | None, name: str = "source_id") -> str:
    """How an error names a record: by its id once that id itself is known to fit."""
    _fits(source_id, limit, f"a {kind}", name)
    return f"{kind} {source_id}"


def _year_group(value: int | None, what: str) -> None:
    if value is not None and (isinstance(value, bool) or value not in _YEAR_GROUPS):
        raise SourceDataError(f"{what}: year_group is out of range")


class GroupKind(StrEnum):
    """A class (groep) or a sub-group (subgroep: a level group, a reading group, ...)."""

    GROUP = "group"
    SUBGROUP = "subgroup"


@dataclass(frozen=True, slots=True)
class SchoolInfo:
    """A school as the source describes it."""

    source_school_id: str
    name: str | None
    brin: str | None  # 4 characters, e.g. "12AB"
    location_code: str | None  # 2 digits, e.g. "00"
    active: bool = True
    merged_into: str | None = None  # the source id of the school this one was merged into
    ref: str | None = None  # the source's reference used in SSO deep links (instellingRef)

    def __post_init__(self) -> None:
        what = _who(
            "school",
            self.source_school_id,
            _SCHOOL_TEXT.limits["source_school_id"],
            "source_school_id",
        )
        fitting(self, what, _SCHOOL_TEXT)


@dataclass(frozen=True, slots=True)
class GroupRecord:
    """A group or sub-group, keyed within its school and kind by the source's key (lasKey)."""

    key: str
    kind: GroupKind
    name: str | None = None
    year_group: int | None = None  # jaargroep 1-8; None for combination or unknown
    description: str | None = None

    def __post_init__(self) -> None:
        # A group's key may hold its name (a person's, in "Groep 3 juf ..."): no key shown.
        fitting(self, f"a {self.kind}", _GROUP_TEXT)
        _year_group(self.year_group, f"a {self.kind}")


@dataclass(frozen=True, slots=True)
class PupilRecord:
    """A pupil (leerling); ``group_key`` and ``subgroup_keys`` refer to GroupRecord keys."""

    source_id: str
    eckid: str | None = None
    las_key: str | None = None
    first_name: str | None = None
    prefix: str | None = None  # tussenvoegsel, e.g. "van der"
    last_name: str | None = None
    initials: str | None = None
    year_group: int | None = None
    group_key: str | None = None
    subgroup_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        what = _who("pupil", self.source_id, _PUPIL_TEXT.limits["source_id"])
        fitting(self, what, _PUPIL_TEXT)
        _year_group(self.year_group, what)


@dataclass(frozen=True, slots=True)
class StaffRecord:
    """A staff member (medewerker) with roles as the source names them (unknown roles kept)."""

    source_id: str
    eckid: str | None = None
    las_key: str | None = None
    first_name: str | None = None
    prefix: str | None = None
    last_name: str | None = None
    initials: str | None = None
    email: str | None = None
    end_date: date | None = None
    roles: tuple[str, ...] = ()
    group_keys: tuple[str, ...] = ()
    subgroup_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        what = _who("staff member", self.source_id, _STAFF_TEXT.limits["source_id"])
        fitting(self, what, _STAFF_TEXT)


@dataclass(frozen=True, slots=True)
class SchoolSnapshot:
    """Everything a source knows of one school now.

    ``complete`` says the lists are whole, so a person missing from them has left. ``networks``
    is None when the source does not know the school's networks (never read as "no networks").
    ``notes`` counts the lenient rules applied while reading (e.g. "pupil_unknown_group": 3).
    """

    school: SchoolInfo
    groups: tuple[GroupRecord, ...] = ()
    pupils: tuple[PupilRecord, ...] = ()
    staff: tuple[StaffRecord, ...] = ()
    networks: tuple[str, ...] | None = None
    mutated_at: datetime | None = None
    complete: bool = True
    notes: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for position, network in enumerate(self.networks or ()):
            _fits(network, _NETWORK_MAX, f"network number {position + 1}", "network")


@dataclass(frozen=True, slots=True)
class ConsentChanges:
    """Schools (by source school id) that granted or revoked consent on one day."""

    granted: tuple[str, ...] = ()
    revoked: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceCapabilities:
    """What an identity source can do; the core adapts to it."""

    complete_snapshots: bool = True  # a person absent from a snapshot has left
    change_stamps: bool = False  # latest_change() tells whether a school changed
    consent_feed: bool = False  # consent_changes() lists grants and revocations per day
    networks: bool = False  # snapshots may carry the school's networks
