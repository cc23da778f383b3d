"""Basispoort JSON to snapshot: every lenient rule (and its note) and every SourceDataError."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import pytest

from core.errors import SourceDataError
from core.snapshot import GroupKind, GroupRecord
from plugins.basispoort.parse import (
    build_snapshot,
    parse_details,
    parse_groups,
    parse_ids,
    parse_networks,
    parse_pupils,
    parse_search_result,
    parse_staff,
    parse_timestamp,
)

META = {"mutationTimestamp": "2024-03-01T10:15:00Z", "generationTimestamp": "2024-03-02T01:00:00Z"}
GROUPS = (
    GroupRecord("g5", GroupKind.GROUP, "Groep 5", 5),
    GroupRecord("g6", GroupKind.GROUP, "Groep 6", 6),
    GroupRecord("lees", GroupKind.SUBGROUP, "Leesgroep"),
)


def school_docs() -> dict[str, Any]:
    """A small, well-formed school as Basispoort serves it."""
    return {
        "details": {
            "naam": "De Regenboog",
            "straat": "Schoolstraat",
            "huisnummer": 1,
            "huisnummertoevoeging": "a",
            "postcode": "1234AB",
            "woonplaats": "Utrecht",
            "brincode": "12AB",
            "dependancecode": "00",
            "schoolkey": "x",
            "instellingRef": "ref-42",
            "bestuurscode": "10000",
            "actief": True,
            "gefuseerdNaar": None,
            "metaResult": META,
        },
        "groepen": {
            "groepen": [
                {"lasKey": "g5", "naam": "Groep 5", "jaargroep": "5", "omschrijving": "vijf"},
                {"lasKey": "g6", "naam": "Groep 6", "jaargroep": "6"},
            ],
            "subgroepen": [{"lasKey": "lees", "naam": "Leesgroep"}],
            "metaResult": META,
        },
        "leerlingen": {
            "leerlingen": [
                {
                    "id": 9000000000000000001,
                    "eckid": "https://ketenid.nl/201703/abc",
                    "lasKey": "L1",
                    "persoonsgegevens": {
                        "voornaam": "Anna",
                        "voorvoegsel": "van der",
                        "achternaam": "Berg",
                        "voorletters": "A.",
                    },
                    "jaargroep": "5",
                    "groep": "g5",
                    "subgroepen": ["lees"],
                },
                {
                    "id": 2,
                    "persoonsgegevens": {"voornaam": "Bram"},
                    "groep": "g6",
                    "subgroepen": [],
                },
            ],
            "metaResult": META,
        },
        "staf": {
            "medewerkers": [
                {
                    "id": 77,
                    "eckid": None,
                    "lasKey": "M1",
                    "persoonsgegevens": {"achternaam": "Jansen"},
                    "emailadres": "j@school.example",
                    "einddatum": "2025-07-31",
                    "rollen": ["Leerkracht", "ICTCoordinator"],
                    "groepen": ["g5"],
                    "subgroepen": ["lees"],
                }
            ],
            "metaResult": META,
        },
    }


def snapshot(docs: dict[str, Any], **extra: Any):  # type: ignore[no-untyped-def]
    return build_snapshot("42", **docs, **extra)


def test_a_well_formed_school_maps_field_by_field_without_notes() -> None:
    snap = snapshot(school_docs())
    assert snap.notes == {}
    assert snap.complete is True
    assert snap.networks is None
    assert snap.mutated_at == datetime(2024, 3, 1, 10, 15, tzinfo=UTC)
    school = snap.school
    assert (school.source_school_id, school.name, school.brin, school.location_code) == (
        "42",
        "De Regenboog",
        "12AB",
        "00",
    )
    assert (school.active, school.merged_into, school.ref) == (True, None, "ref-42")
    assert [(g.key, g.kind, g.year_group) for g in snap.groups] == [
        ("g5", GroupKind.GROUP, 5),
        ("g6", GroupKind.GROUP, 6),
        ("lees", GroupKind.SUBGROUP, None),
    ]
    assert snap.groups[0].description == "vijf"
    anna, bram = snap.pupils
    assert anna.source_id == "9000000000000000001"  # int64 kept exactly, as text
    assert (anna.first_name, anna.prefix, anna.last_name, anna.initials) == (
        "Anna",
        "van der",
        "Berg",
        "A.",
    )
    assert (anna.eckid, anna.las_key, anna.year_group) == ("https://ketenid.nl/201703/abc", "L1", 5)
    assert (anna.group_key, anna.subgroup_keys) == ("g5", ("lees",))
    assert (bram.source_id, bram.eckid, bram.las_key, bram.group_key) == ("2", None, None, "g6")
    (jansen,) = snap.staff
    assert jansen.source_id == "77"
    assert jansen.roles == ("Leerkracht", "ICTCoordinator")
    assert jansen.end_date == date(2025, 7, 31)
    assert jansen.email == "j@school.example"
    assert (jansen.group_keys, jansen.subgroup_keys) == (("g5",), ("lees",))


def test_overview_timestamp_wins_over_the_others() -> None:
    overview = {"metaResult": {"mutationTimestamp": "2024-01-01T00:00:00+01:00"}}
    snap = snapshot(school_docs(), overview=overview)
    assert snap.mutated_at == datetime(2023, 12, 31, 23, 0, tzinfo=UTC)


def test_without_overview_the_newest_timestamp_is_taken() -> None:
    docs = school_docs()
    docs["staf"]["metaResult"] = {"mutationTimestamp": "2024-05-05T05:05:05.123Z"}
    assert snapshot(docs).mutated_at == datetime(2024, 5, 5, 5, 5, 5, 123000, tzinfo=UTC)


# -- lenient rules --------------------------------------------------------------------------------


def test_unknown_roles_are_kept_as_given_and_non_strings_dropped() -> None:
    notes: Counter[str] = Counter()
    doc = {"medewerkers": [{"id": 1, "rollen": ["Inval", "Schoolleider2030", 5, None]}]}
    (member,) = parse_staff(doc, GROUPS, notes)
    assert member.roles == ("Inval", "Schoolleider2030")
    assert notes == {"role_invalid": 2}


def test_missing_optional_fields_and_null_keys_are_accepted_without_notes() -> None:
    notes: Counter[str] = Counter()
    doc = {
        "leerlingen": [
            {"id": 1},
            {"id": 2, "eckid": None, "lasKey": None, "persoonsgegevens": None, "subgroepen": None},
        ]
    }
    pupils = parse_pupils(doc, GROUPS, notes)
    assert [p.source_id for p in pupils] == ["1", "2"]
    assert all(p.eckid is None and p.las_key is None and p.first_name is None for p in pupils)
    assert all(p.group_key is None and p.subgroup_keys == () for p in pupils)
    staff = parse_staff({"medewerkers": [{"id": 3}]}, GROUPS, notes)
    assert staff[0].roles == () and staff[0].end_date is None
    assert notes == {}


@pytest.mark.parametrize(
    ("value", "expected", "noted"),
    [
        ("5", 5, False),
        (" 8 ", 8, False),
        (1, 1, False),
        (None, None, False),
        ("", None, False),
        ("08", 8, False),
        ("1/2", None, True),
        ("groep 3", None, True),
        ("²", None, True),
    ],
)
def test_jaargroep(value: Any, expected: int | None, noted: bool) -> None:
    notes: Counter[str] = Counter()
    (pupil,) = parse_pupils({"leerlingen": [{"id": 1, "jaargroep": value}]}, GROUPS, notes)
    assert pupil.year_group == expected
    assert notes["year_group_invalid"] == int(noted)


@pytest.mark.parametrize("value", ["0", "9", 0, 10**30, 1e30, "9" * 5000, True, 4.0, [5], {}])
def test_a_jaargroep_that_is_no_year_group_refuses_the_snapshot(value: Any) -> None:
    doc = {"leerlingen": [{"id": 1, "jaargroep": value}]}
    with pytest.raises(SourceDataError, match="pupil 0 of school 9: 'jaargroep' is "):
        parse_pupils(doc, GROUPS, Counter(), "9")


def test_group_without_laskey_is_keyed_by_name_or_skipped() -> None:
    notes: Counter[str] = Counter()
    doc = {
        "groepen": [{"naam": "Groep 7"}, {"jaargroep": "3"}, {"lasKey": 12, "naam": "Groep 8"}],
        "subgroepen": [{"naam": "Rekenen"}],
    }
    groups = parse_groups(doc, notes)
    assert [(g.key, g.kind) for g in groups] == [
        ("naam:Groep 7", GroupKind.GROUP),
        ("12", GroupKind.GROUP),
        ("naam:Rekenen", GroupKind.SUBGROUP),
    ]
    assert notes == {"group_keyed_by_name": 2, "group_without_key": 1}


def test_a_second_group_with_the_same_key_is_skipped() -> None:
    notes: Counter[str] = Counter()
    doc = {
        "groepen": [{"lasKey": "a", "naam": "first"}, {"lasKey": "a", "naam": "second"}],
        "subgroepen": [{"lasKey": "a", "naam": "a sub-group may share the key"}],
    }
    groups = parse_groups(doc, notes)
    assert [(g.key, g.name) for g in groups] == [
        ("a", "first"),
        ("a", "a sub-group may share the key"),
    ]
    assert notes == {"group_duplicate_key": 1}


def test_pupil_in_an_unknown_group_is_kept_without_group() -> None:
    notes: Counter[str] = Counter()
    doc = {"leerlingen": [{"id": 1, "groep": "g9"}, {"id": 2, "groep": "lees"}]}
    pupils = parse_pupils(doc, GROUPS, notes)
    assert [(p.source_id, p.group_key) for p in pupils] == [("1", None), ("2", None)]
    assert notes == {"pupil_unknown_group": 2}  # a sub-group's key is not a group's


def test_unknown_subgroups_are_dropped_from_the_pupil() -> None:
    notes: Counter[str] = Counter()
    doc = {"leerlingen": [{"id": 1, "groep": "g5", "subgroepen": ["lees", "nope", "g5", "lees"]}]}
    (pupil,) = parse_pupils(doc, GROUPS, notes)
    assert pupil.group_key == "g5"
    assert pupil.subgroup_keys == ("lees",)
    assert notes == {"pupil_unknown_subgroup": 2}


def test_unknown_groups_and_subgroups_are_dropped_from_staff() -> None:
    notes: Counter[str] = Counter()
    doc = {"medewerkers": [{"id": 1, "groepen": ["g5", "x", "lees"], "subgroepen": ["y", "lees"]}]}
    (member,) = parse_staff(doc, GROUPS, notes)
    assert member.group_keys == ("g5",)
    assert member.subgroup_keys == ("lees",)
    assert notes == {"staff_unknown_group": 2, "staff_unknown_subgroup": 1}


@pytest.mark.parametrize(
    ("pupil", "field"),
    [
        ({"eckid": 5}, "'eckid' is a number"),
        ({"lasKey": ["x"]}, "'lasKey' is an array"),
        ({"groep": {"k": "g5"}}, "'groep' is an object"),
        ({"subgroepen": [["lees"]]}, "'subgroepen' is an array"),
        ({"persoonsgegevens": {"voornaam": 3}}, "'persoonsgegevens.voornaam' is a number"),
        ({"persoonsgegevens": {"achternaam": ["Berg"]}}, "'persoonsgegevens.achternaam' is an"),
        ({"persoonsgegevens": "Anna Berg"}, "'persoonsgegevens' is a string, not an object"),
        ({"persoonsgegevens": [1, 2]}, "'persoonsgegevens' is an array"),
    ],
)
def test_a_field_of_the_wrong_type_refuses_the_snapshot(pupil: dict[str, Any], field: str) -> None:
    # Read as missing, it would erase what is stored (a name, a key, a membership).
    doc = {"leerlingen": [{"id": 1}, {"id": 2, **pupil}]}
    with pytest.raises(SourceDataError, match="pupil 1 of school 9: ") as caught:
        parse_pupils(doc, GROUPS, Counter(), "9")
    assert field in str(caught.value)
    assert "Berg" not in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [("emailadres", 5), ("einddatum", 20250731), ("einddatum", "31-07-2025"), ("groepen", [1.5])],
)
def test_a_staff_field_of_the_wrong_type_refuses_the_snapshot(field: str, value: Any) -> None:
    doc = {"medewerkers": [{"id": 1, field: value}]}
    with pytest.raises(SourceDataError, match=f"staff member 0 of school 9: '{field}' is"):
        parse_staff(doc, GROUPS, Counter(), "9")


@pytest.mark.parametrize("field", ["naam", "brincode", "instellingRef"])
def test_school_text_of_the_wrong_type_refuses_the_details(field: str) -> None:
    with pytest.raises(SourceDataError, match=f"details of school 9: '{field}' is a number"):
        parse_details("9", {field: 12})


@pytest.mark.parametrize(
    ("value", "expected", "note"),
    [
        ("2025-07-31", date(2025, 7, 31), None),
        (None, None, None),
        ("", None, None),
    ],
)
def test_einddatum(value: Any, expected: date | None, note: str | None) -> None:
    notes: Counter[str] = Counter()
    (member,) = parse_staff({"medewerkers": [{"id": 1, "einddatum": value}]}, GROUPS, notes)
    assert member.end_date == expected
    assert notes == ({note: 1} if note else {})


@pytest.mark.parametrize(
    ("value", "expected", "note"),
    [
        ("2024-03-01T10:15:00Z", datetime(2024, 3, 1, 10, 15, tzinfo=UTC), None),
        ("2024-03-01T10:15:00z", datetime(2024, 3, 1, 10, 15, tzinfo=UTC), None),
        ("2024-03-01T12:15:00+02:00", datetime(2024, 3, 1, 10, 15, tzinfo=UTC), None),
        ("2024-03-01T10:15:00", datetime(2024, 3, 1, 10, 15, tzinfo=UTC), "timestamp_naive"),
        ("yesterday", None, "timestamp_invalid"),
        (1709288100, None, "timestamp_invalid"),
        ("9999-12-31T23:59:59-01:00", None, "timestamp_invalid"),
        ("0001-01-01T00:00:00+01:00", None, "timestamp_invalid"),
        (None, None, None),
    ],
)
def test_timestamps_are_aware_utc(value: Any, expected: datetime | None, note: str | None) -> None:
    notes: Counter[str] = Counter()
    moment = parse_timestamp(value, notes)
    assert moment == expected
    if moment is not None:
        assert moment.utcoffset() is not None and moment.utcoffset().total_seconds() == 0
    assert notes == ({note: 1} if note else {})


def test_bad_metaresult_timestamp_gives_a_note_and_no_mutation_time() -> None:
    docs = school_docs()
    for name in ("details", "groepen", "leerlingen", "staf"):
        docs[name]["metaResult"] = {"mutationTimestamp": "not a time"}
    snap = snapshot(docs)
    assert snap.mutated_at is None
    assert snap.notes == {"timestamp_invalid": 4}


def test_notes_are_counted_in_the_snapshot() -> None:
    docs = school_docs()
    docs["leerlingen"]["leerlingen"][0]["groep"] = "gone"
    docs["leerlingen"]["leerlingen"][1]["groep"] = "gone"
    docs["groepen"]["groepen"].append({"jaargroep": "2"})
    snap = snapshot(docs)
    assert snap.notes == {"pupil_unknown_group": 2, "group_without_key": 1}
    assert len(snap.pupils) == 2


def test_actief_and_gefuseerdnaar() -> None:
    notes: Counter[str] = Counter()
    merged = parse_details("1", {"actief": False, "gefuseerdNaar": 4242}, notes)
    assert (merged.active, merged.merged_into) == (False, "4242")
    assert parse_details("1", {"gefuseerdNaar": "4243"}, notes).merged_into == "4243"
    missing = parse_details("1", {}, notes)
    assert (missing.active, missing.merged_into, missing.name, missing.brin) == (
        True,
        None,
        None,
        None,
    )
    assert notes == {}
    odd = parse_details("1", {"actief": "nee", "gefuseerdNaar": {"id": 1}}, notes)
    assert (odd.active, odd.merged_into) == (True, None)
    assert notes == {"actief_invalid": 1, "field_wrong_type": 1}


@pytest.mark.parametrize(
    ("brincode", "dependance", "expected"),
    [
        ("12AB", "00", ("12AB", "00")),
        ("12ab", 1, ("12AB", "01")),
        ("12AB01", None, ("12AB", "01")),
        ("12AB", None, ("12AB", None)),
        ("garbage", "00", (None, "00")),
    ],
)
def test_details_brincode_and_dependancecode(
    brincode: str, dependance: Any, expected: tuple[str | None, str | None]
) -> None:
    info = parse_details("1", {"brincode": brincode, "dependancecode": dependance})
    assert (info.brin, info.location_code) == expected


def test_search_result_brincode_includes_the_location() -> None:
    item = {
        "id": 123,
        "naam": "De Regenboog",
        "actief": False,
        "brincode": "12ab03",
        "huisnummerToevoeging": "b",
    }
    info = parse_search_result(item)
    assert (info.source_school_id, info.name, info.brin, info.location_code, info.active) == (
        "123",
        "De Regenboog",
        "12AB",
        "03",
        False,
    )


def test_networks_are_kept_as_given_for_the_core_to_judge() -> None:
    doc = {"ipadressen": [" 192.0.2.0/24", "2001:db8::/48", "192.0.2.0/24", "10.0.6.77/8"]}
    assert parse_networks(doc) == ("192.0.2.0/24", "2001:db8::/48", "10.0.6.77/8")


@pytest.mark.parametrize("items", [[5, None, "abc", {}], ["192.0.2.0/24", None], [["10.0.0.0/8"]]])
def test_a_network_list_with_an_item_that_is_not_a_string_is_refused(items: list[Any]) -> None:
    with pytest.raises(SourceDataError, match=r"networks of school 9: 'ipadressen' item \d"):
        parse_networks({"ipadressen": items}, "9")


def test_networks_in_the_snapshot_and_an_empty_list_is_not_none() -> None:
    assert snapshot(school_docs(), ipadressen={"ipadressen": []}).networks == ()
    assert snapshot(school_docs(), ipadressen={"ipadressen": ["192.0.2.0/24"]}).networks == (
        "192.0.2.0/24",
    )


def test_ids() -> None:
    assert parse_ids([1, -2, 9223372036854775807], "ids") == ("1", "-2", "9223372036854775807")
    assert parse_ids([], "ids") == ()


# -- strict rules ---------------------------------------------------------------------------------


def broken(mutate) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    docs = copy.deepcopy(school_docs())
    mutate(docs)
    return docs


STRICT_CASES = {
    "duplicate pupil id": lambda d: d["leerlingen"]["leerlingen"].append({"id": 2}),
    "duplicate staff id": lambda d: d["staf"]["medewerkers"].append({"id": 77}),
    "pupil without id": lambda d: d["leerlingen"]["leerlingen"][0].pop("id"),
    "pupil with null id": lambda d: d["leerlingen"]["leerlingen"][0].update(id=None),
    "pupil with string id": lambda d: d["leerlingen"]["leerlingen"][0].update(id="12"),
    "pupil with float id": lambda d: d["leerlingen"]["leerlingen"][0].update(id=1.0),
    "pupil with boolean id": lambda d: d["leerlingen"]["leerlingen"][0].update(id=True),
    "pupil id beyond int64": lambda d: d["leerlingen"]["leerlingen"][0].update(id=2**63),
    "staff without id": lambda d: d["staf"]["medewerkers"][0].pop("id"),
    "leerlingen not a list": lambda d: d["leerlingen"].update(leerlingen={"id": 1}),
    "leerlingen missing": lambda d: d["leerlingen"].pop("leerlingen"),
    "leerlingen null": lambda d: d["leerlingen"].update(leerlingen=None),
    "medewerkers not a list": lambda d: d["staf"].update(medewerkers="none"),
    "groepen not a list": lambda d: d["groepen"].update(groepen={}),
    "subgroepen missing": lambda d: d["groepen"].pop("subgroepen"),
    "pupil not an object": lambda d: d["leerlingen"]["leerlingen"].append([3]),
    "group not an object": lambda d: d["groepen"]["groepen"].append("g7"),
    "pupil subgroepen not a list": lambda d: d["leerlingen"]["leerlingen"][0].update(
        subgroepen="lees"
    ),
    "staff rollen not a list": lambda d: d["staf"]["medewerkers"][0].update(rollen="Leerkracht"),
    "details not an object": lambda d: d.update(details=["x"]),
    "leerlingen response an array": lambda d: d.update(leerlingen=[]),
}


@pytest.mark.parametrize("case", STRICT_CASES)
def test_broken_promises_refuse_the_whole_snapshot(case: str) -> None:
    docs = broken(STRICT_CASES[case])
    with pytest.raises(SourceDataError) as caught:
        snapshot(docs)
    message = str(caught.value)
    # Errors name ids and positions, never a person's data.
    for private in ("Anna", "Berg", "ketenid", "Jansen", "j@school"):
        assert private not in message


def test_duplicate_id_error_names_the_id() -> None:
    docs = broken(lambda d: d["leerlingen"]["leerlingen"].append({"id": 2}))
    with pytest.raises(SourceDataError, match=r"id 2 appears twice"):
        snapshot(docs)


@pytest.mark.parametrize("doc", [{"ids": [1]}, [1, "2"], [1, None], "1"])
def test_bad_id_lists(doc: Any) -> None:
    with pytest.raises(SourceDataError):
        parse_ids(doc, "toegekend")


@pytest.mark.parametrize("doc", [{"ipadressen": "192.0.2.0/24"}, {}, ["192.0.2.0/24"]])
def test_bad_network_responses(doc: Any) -> None:
    with pytest.raises(SourceDataError):
        parse_networks(doc)


def test_search_result_without_id() -> None:
    with pytest.raises(SourceDataError):
        parse_search_result({"naam": "x", "brincode": "12AB00"})
