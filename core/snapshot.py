"""What an identity source hands the core: one school's people and groups at one moment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


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


@dataclass(frozen=True, slots=True)
class GroupRecord:
    """A group or sub-group, keyed within its school and kind by the source's key (lasKey)."""

    key: str
    kind: GroupKind
    name: str | None = None
    year_group: int | None = None  # jaargroep 1-8; None for combination or unknown
    description: str | None = None


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
