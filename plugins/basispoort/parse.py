"""Basispoort JSON to snapshot types: lenient where data is incomplete, strict where it matters.

Strict (raise SourceDataError; nothing of the school is stored, it keeps its last good data):
- a response that is not a JSON object, or a top-level list (``leerlingen``, ``medewerkers``,
  ``groepen``, ``subgroepen``) that is missing, null or not a list: reading it as empty would
  turn every pupil into a leaver;
- an element of those lists, or a person's membership/role list, of the wrong type;
- a person without ``id``, or an ``id`` that is not a JSON integer in the int64 range;
- two people with the same ``id`` in one list: which one is right is ambiguous;
- a text field (a name, ``eckid``, ``emailadres``, a group's ``naam``, ...) or a key that is
  not a string (a key may also be an integer), and ``persoonsgegevens`` that is not an object:
  reading them as missing would erase what is stored;
- a ``jaargroep`` that is a number (or digits) outside 1-8, or not a number or text at all;
- an ``einddatum`` that is not a "YYYY-MM-DD" date: reading it as "none" would let a staff
  member in after it;
- a network list with an item that is not a string, or (checked by the core, the same rule as
  for networks an administrator enters) not a network: host bits set ("10.0.6.77/8"), wider
  than /8 (IPv6 /16), or no address at all. Dropping or widening it would change who may log in.

The core refuses what no column can hold, for every source (core/snapshot.py): text longer
than its column, NUL characters, lone surrogates. Every message names the record by its
position or id and the field, never its value.

Lenient (accepted; the note named in brackets is counted in ``SchoolSnapshot.notes``):
- missing or null optional fields, ``eckid`` and ``lasKey`` included (no note);
- staff roles are kept as given, unknown ones too; a role that is not a string is dropped
  [role_invalid];
- ``jaargroep`` "5" or 5 gives 5; text that is not a number ("1/2", "groep 3") gives None
  [year_group_invalid];
- a group without ``lasKey`` is keyed "naam:<naam>" [group_keyed_by_name], or skipped when it
  has no name either [group_without_key]; a second group with the same key is skipped
  [group_duplicate_key];
- a pupil whose ``groep`` names no known group keeps group None [pupil_unknown_group]; unknown
  sub-groups are dropped from the pupil's list [pupil_unknown_subgroup]; the same for staff
  [staff_unknown_group, staff_unknown_subgroup];
- ``metaResult`` timestamps become aware UTC datetimes; unparseable ones, and ones outside the
  representable dates ("9999-12-31T23:59:59-01:00"), None [timestamp_invalid]: the school is
  then fetched in full, never taken as unchanged; one without offset is read as UTC
  [timestamp_naive];
- ``actief`` that is not a boolean is read as active [actief_invalid]; a ``gefuseerdNaar``
  that is not an id is read as "not merged" [field_wrong_type].

IDs are signed 64-bit integers; they are kept as decimal strings (source_id, source_school_id).
The search result's ``brincode`` includes the location code ("12AB00"); details split it into
``brincode`` and ``dependancecode``. Messages carry ids, indexes and counts, never personal data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from koppel.plugin import (
    GroupKind,
    GroupRecord,
    InvalidBrin,
    PupilRecord,
    SchoolInfo,
    SchoolSnapshot,
    SourceDataError,
    StaffRecord,
    parse_brin6,
)
from plugins.basispoort import assumptions

INT64 = range(-(2**63), 2**63)
YEAR_GROUPS = range(1, 9)
NAME_KEY_PREFIX = "naam:"


_Person = TypeVar("_Person", PupilRecord, StaffRecord)


def source_id(value: Any, what: str) -> str:
    """An int64 id as a decimal string, or SourceDataError naming ``what`` (never its data)."""
    # bool is an int in Python but never an id.
    if isinstance(value, bool) or not isinstance(value, int):
        kind = "no id" if value is None else f"an id of type {type(value).__name__}"
        raise SourceDataError(f"{what} has {kind}; Basispoort ids are integers")
    if value not in INT64:
        raise SourceDataError(f"{what} has an id outside the 64-bit range")
    return str(value)


def parse_ids(doc: Any, what: str) -> tuple[str, ...]:
    """A JSON array of ids (instellingen, toegekend, ingetrokken) as decimal strings."""
    if not isinstance(doc, list):
        raise SourceDataError(f"{what}: expected a JSON array of ids, got {_kind(doc)}")
    return tuple(source_id(item, f"{what} item {i}") for i, item in enumerate(doc))


def parse_timestamp(value: Any, notes: Counter[str]) -> datetime | None:
    """An RFC 3339 timestamp as an aware UTC datetime; None (and a note) when unreadable."""
    if value is None:
        return None
    if not isinstance(value, str):
        notes["timestamp_invalid"] += 1
        return None
    text = value.strip()
    if text[-1:] == "z":
        text = text[:-1] + "Z"
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            notes["timestamp_naive"] += 1
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: in UTC it falls outside years 1-9999
        notes["timestamp_invalid"] += 1
        return None


def mutation_timestamp(doc: Mapping[str, Any], notes: Counter[str]) -> datetime | None:
    """``metaResult.mutationTimestamp`` of a response, if present and readable."""
    meta = doc.get("metaResult")
    if not isinstance(meta, Mapping):
        return None
    return parse_timestamp(meta.get("mutationTimestamp"), notes)


def expect_object(doc: Any, what: str, lists: tuple[str, ...] = ()) -> Mapping[str, Any]:
    """The response as a JSON object whose fields ``lists`` are arrays, or SourceDataError."""
    if not isinstance(doc, Mapping):
        raise SourceDataError(f"{what}: expected a JSON object, got {_kind(doc)}")
    for field in lists:
        if not isinstance(doc.get(field), list):
            raise SourceDataError(f"{what}: '{field}' is {_kind(doc.get(field))}, not a list")
    return doc


def parse_details(school_id: str, doc: Any, notes: Counter[str] | None = None) -> SchoolInfo:
    """The ``details`` response as SchoolInfo (brincode and dependancecode split)."""
    notes = Counter() if notes is None else notes
    what = f"details of school {school_id}"
    doc = expect_object(doc, what)
    brin, location = _split_brin(_text(doc, "brincode", what), _code(doc.get("dependancecode")))
    return SchoolInfo(
        source_school_id=school_id,
        name=_text(doc, "naam", what),
        brin=brin,
        location_code=location,
        active=_active(doc, notes),
        merged_into=_merged_into(doc.get("gefuseerdNaar"), notes),
        ref=_text(doc, "instellingRef", what),
    )


def parse_search_result(item: Any, index: int = 0) -> SchoolInfo:
    """One nawsearch result as SchoolInfo; its ``brincode`` holds BRIN and location ("12AB00")."""
    what = f"search result {index}"
    item = expect_object(item, what)
    notes: Counter[str] = Counter()
    school_id = source_id(item.get("id"), what)
    brin, location = _split_brin(_text(item, "brincode", what), None)
    return SchoolInfo(
        source_school_id=school_id,
        name=_text(item, "naam", what),
        brin=brin,
        location_code=location,
        active=_active(item, notes),
    )


def search_brin6(item: Mapping[str, Any]) -> str | None:
    """The normalised BRIN6 of a search result, for the exact match of the connection check."""
    value = item.get("brincode")
    return value.strip().upper() if isinstance(value, str) else None


def parse_groups(doc: Any, notes: Counter[str], school_id: str = "?") -> tuple[GroupRecord, ...]:
    """The ``groepen`` response: groups and sub-groups, keyed by lasKey (or by name)."""
    doc = expect_object(doc, f"groups of school {school_id}")
    groups: list[GroupRecord] = []
    for field, kind in (("groepen", GroupKind.GROUP), ("subgroepen", GroupKind.SUBGROUP)):
        seen: set[str] = set()
        for i, item in enumerate(_objects(doc, field, f"school {school_id}")):
            record = _group(item, kind, notes, f"{field} item {i} of school {school_id}")
            if record is None:
                continue
            if record.key in seen:
                notes["group_duplicate_key"] += 1
                continue
            seen.add(record.key)
            groups.append(record)
    return tuple(groups)


def parse_pupils(
    doc: Any, groups: Iterable[GroupRecord], notes: Counter[str], school_id: str = "?"
) -> tuple[PupilRecord, ...]:
    """The ``leerlingen`` response as PupilRecords; memberships checked against ``groups``."""
    group_keys, subgroup_keys = _keys_by_kind(groups)

    def pupil(item: Mapping[str, Any], what: str, person: dict[str, Any]) -> PupilRecord:
        group_key = _key(item, "groep", what)
        if group_key is not None and group_key not in group_keys:
            notes["pupil_unknown_group"] += 1
            group_key = None
        return PupilRecord(
            **person,
            year_group=_year_group(item, notes, what),
            group_key=group_key,
            subgroup_keys=_members(item, "subgroepen", subgroup_keys, "pupil", what, notes),
        )

    return _people(doc, "leerlingen", ("pupils", "pupil"), school_id, pupil)


def parse_staff(
    doc: Any, groups: Iterable[GroupRecord], notes: Counter[str], school_id: str = "?"
) -> tuple[StaffRecord, ...]:
    """The ``staf`` response as StaffRecords; roles kept as given, memberships checked."""
    group_keys, subgroup_keys = _keys_by_kind(groups)

    def member(item: Mapping[str, Any], what: str, person: dict[str, Any]) -> StaffRecord:
        return StaffRecord(
            **person,
            email=_text(item, "emailadres", what),
            end_date=_end_date(item, what),
            roles=_roles(item, what, notes),
            group_keys=_members(item, "groepen", group_keys, "staff", what, notes, "group"),
            subgroup_keys=_members(item, "subgroepen", subgroup_keys, "staff", what, notes),
        )

    return _people(doc, "medewerkers", ("staff", "staff member"), school_id, member)


def _people(
    doc: Any,
    field: str,
    names: tuple[str, str],
    school_id: str,
    record: Callable[[Mapping[str, Any], str, dict[str, Any]], _Person],
) -> tuple[_Person, ...]:
    """The people listed under ``field``: what pupils and staff share (a unique id, eckid,
    lasKey, names) read here, the rest by ``record``. ``names``: the list's and one person's."""
    doc = expect_object(doc, f"{names[0]} of school {school_id}")
    people: list[_Person] = []
    seen: set[str] = set()
    for i, item in enumerate(_objects(doc, field, f"school {school_id}")):
        what = f"{names[1]} {i} of school {school_id}"
        person = {
            "source_id": _unique_id(item, what, seen),
            "eckid": _text(item, "eckid", what),
            "las_key": _key(item, "lasKey", what),
            **_names(item, what),
        }
        people.append(record(item, what, person))
    return tuple(people)


def parse_networks(doc: Any, school_id: str = "?") -> tuple[str, ...]:
    """The assumed ``ipadressen`` response: its networks as given (stripped, without repeats).

    Every item must be a string; whether it is a network koppel accepts is decided by the
    core when the snapshot is planned (core.sync.records.canonical_networks), by the same rule
    as for networks an administrator enters. One bad item refuses the whole list.
    """
    what = f"networks of school {school_id}"
    doc = expect_object(doc, what)
    field = assumptions.IPADRESSEN_KEY
    items = doc.get(field)
    if not isinstance(items, list):
        raise SourceDataError(f"{what}: '{field}' is {_kind(items)}, not a list")
    networks: dict[str, None] = {}
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise SourceDataError(f"{what}: '{field}' item {i} is {_kind(item)}, not a string")
        networks[item.strip()] = None
    return tuple(networks)


def build_snapshot(
    school_id: str,
    *,
    details: Any,
    groepen: Any,
    leerlingen: Any,
    staf: Any,
    ipadressen: Any | None = None,
    overview: Any | None = None,
) -> SchoolSnapshot:
    """One school's snapshot from its responses; ``ipadressen`` None means "not offered".

    ``mutated_at`` is the overview's mutationTimestamp when given (the same clock as
    latest_change), else the newest of the other responses' timestamps.
    """
    notes: Counter[str] = Counter()
    school = parse_details(school_id, details, notes)
    groups = parse_groups(groepen, notes, school_id)
    pupils = parse_pupils(leerlingen, groups, notes, school_id)
    staff = parse_staff(staf, groups, notes, school_id)
    networks = None if ipadressen is None else parse_networks(ipadressen, school_id)
    mutated_at = None
    if overview is not None:
        mutated_at = mutation_timestamp(expect_object(overview, f"school {school_id}"), notes)
    if mutated_at is None:
        stamps = [mutation_timestamp(d, notes) for d in (details, groepen, leerlingen, staf)]
        mutated_at = max((s for s in stamps if s is not None), default=None)
    return SchoolSnapshot(
        school=school,
        groups=groups,
        pupils=pupils,
        staff=staff,
        networks=networks,
        mutated_at=mutated_at,
        complete=True,
        notes=dict(notes),
    )


# -- helpers --------------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    names = {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }
    if value is None:
        return "null"
    return names.get(type(value), f"a {type(value).__name__}")


def _objects(doc: Mapping[str, Any], field: str, where: str) -> list[Mapping[str, Any]]:
    items = doc.get(field)
    if not isinstance(items, list):
        raise SourceDataError(f"{where}: '{field}' is {_kind(items)}, not a list")
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise SourceDataError(f"{where}: '{field}' item {i} is {_kind(item)}, not an object")
    return items


def _wrong_type(what: str, field: str, value: Any, expected: str) -> SourceDataError:
    # The field is named, its value never: it may be a person's data.
    return SourceDataError(f"{what}: '{field}' is {_kind(value)}, not {expected}")


def _text(obj: Mapping[str, Any], field: str, what: str, path: str = "") -> str | None:
    """A text field: a string (blank reads as missing) or null; any other type refuses."""
    value = obj.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _wrong_type(what, path + field, value, "a string")
    return value.strip() or None


def _key(obj: Mapping[str, Any], field: str, what: str) -> str | None:
    """A lasKey or group reference: a string or an integer (as its decimal text), or null."""
    return _key_value(obj.get(field), what, field)


def _key_value(value: Any, what: str, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise _wrong_type(what, field, value, "a string or an integer")
    return value.strip() or None


def _code(value: Any) -> str | None:
    """A dependancecode, "0" or 0 padded to "00"."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip().isdigit():
        return None
    return value.strip().zfill(2)


def _split_brin(brincode: str | None, location: str | None) -> tuple[str | None, str | None]:
    if brincode is None:
        return None, location
    code = brincode.strip().upper()
    if len(code) == 6:
        try:
            return parse_brin6(code)
        except InvalidBrin:
            return None, location
    return (code if len(code) == 4 else None), location


def _active(obj: Mapping[str, Any], notes: Counter[str]) -> bool:
    value = obj.get("actief")
    if value is None or isinstance(value, bool):
        return value is not False
    notes["actief_invalid"] += 1
    return True


def _merged_into(value: Any, notes: Counter[str]) -> str | None:
    if value is None or value == "":
        return None
    # At most 20 characters: an int64 has no more, and int() of a long string is slow or fails.
    if isinstance(value, str) and value.strip().lstrip("-").isdecimal() and len(value) <= 20:
        value = int(value)
    try:
        return source_id(value, "gefuseerdNaar")
    except SourceDataError:
        notes["field_wrong_type"] += 1
        return None


def _group(
    item: Mapping[str, Any], kind: GroupKind, notes: Counter[str], what: str
) -> GroupRecord | None:
    name = _text(item, "naam", what)
    key = _key(item, "lasKey", what)
    if key is None:
        if name is None:
            notes["group_without_key"] += 1
            return None
        notes["group_keyed_by_name"] += 1
        key = NAME_KEY_PREFIX + name
    return GroupRecord(
        key=key,
        kind=kind,
        name=name,
        year_group=_year_group(item, notes, what),
        description=_text(item, "omschrijving", what),
    )


def _keys_by_kind(groups: Iterable[GroupRecord]) -> tuple[set[str], set[str]]:
    group_keys: set[str] = set()
    subgroup_keys: set[str] = set()
    for g in groups:
        (group_keys if g.kind is GroupKind.GROUP else subgroup_keys).add(g.key)
    return group_keys, subgroup_keys


def _unique_id(item: Mapping[str, Any], what: str, seen: set[str]) -> str:
    pid = source_id(item.get("id"), what)
    if pid in seen:
        raise SourceDataError(f"{what}: id {pid} appears twice; the list is ambiguous")
    seen.add(pid)
    return pid


def _year_group(item: Mapping[str, Any], notes: Counter[str], what: str) -> int | None:
    """1-8; text that is no number (a combination group's "1/2") is unknown, with a note."""
    value = item.get("jaargroep")
    if value is None or value == "":
        return None
    if isinstance(value, str) and not value.strip().isdecimal():
        notes["year_group_invalid"] += 1
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _wrong_type(what, "jaargroep", value, "a year group 1-8")
    if isinstance(value, str):
        # One digit at most: a string of a million digits must not become a number.
        digits = value.strip().lstrip("0")
        value = int(digits) if len(digits) == 1 else None
    if value not in YEAR_GROUPS:
        raise SourceDataError(f"{what}: 'jaargroep' is outside the year groups 1-8")
    return value


def _end_date(item: Mapping[str, Any], what: str) -> date | None:
    value = item.get("einddatum")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _wrong_type(what, "einddatum", value, "a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise SourceDataError(f"{what}: 'einddatum' is not a date (YYYY-MM-DD)") from None


def _names(item: Mapping[str, Any], what: str) -> dict[str, str | None]:
    person = item.get("persoonsgegevens")
    if person is None:
        person = {}
    elif not isinstance(person, Mapping):
        raise _wrong_type(what, "persoonsgegevens", person, "an object")
    path = "persoonsgegevens."
    return {
        "first_name": _text(person, "voornaam", what, path),
        "prefix": _text(person, "voorvoegsel", what, path),
        "last_name": _text(person, "achternaam", what, path),
        "initials": _text(person, "voorletters", what, path),
    }


def _list(item: Mapping[str, Any], field: str, what: str) -> list[Any]:
    value = item.get(field)
    if value is None:
        return []
    if not isinstance(value, list):
        raise SourceDataError(f"{what}: '{field}' is {_kind(value)}, not a list")
    return value


def _members(
    item: Mapping[str, Any],
    field: str,
    known: set[str],
    who: str,
    what: str,
    notes: Counter[str],
    kind: str = "subgroup",
) -> tuple[str, ...]:
    keys: dict[str, None] = {}
    for value in _list(item, field, what):
        key = _key_value(value, what, field)
        if key is None:
            continue
        if key not in known:
            notes[f"{who}_unknown_{kind}"] += 1
            continue
        keys[key] = None
    return tuple(keys)


def _roles(item: Mapping[str, Any], what: str, notes: Counter[str]) -> tuple[str, ...]:
    roles: dict[str, None] = {}
    for value in _list(item, "rollen", what):
        if isinstance(value, str) and value.strip():
            roles[value.strip()] = None
        else:
            notes["role_invalid"] += 1
    return tuple(roles)
