"""Reading OneRoster CSV zips: schools by BRIN6, roles, classes, enrollments, clear errors."""

from __future__ import annotations

import os
import zipfile
from datetime import date
from pathlib import Path

import pytest

from koppel.plugin import (
    ConnectionStatus,
    ConsentChanges,
    GroupKind,
    SourceDataError,
    SourceRefused,
    SourceUnavailable,
)
from koppel_oneroster.package import read_package
from koppel_oneroster.source import OneRosterSource

SAMPLE = Path(__file__).parent / "data" / "sample-1.2"
NAMES = ("Ayla", "Voorbeeldt", "Proefhoven", "Meesterhuis", "ketenid", "roos@")


def drop(directory: Path, name: str = "drop.zip", mtime: int = 1_790_000_000, **changes: str):
    """Zip the sample package into ``directory``, with files replaced (text) or left out (None)."""
    directory.mkdir(exist_ok=True)
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(SAMPLE.glob("*.csv"))}
    for filename, text in changes.items():
        files[f"{filename}.csv"] = text
    with zipfile.ZipFile(directory / name, "w") as archive:
        for filename, text in files.items():
            if text is not None:
                archive.writestr(filename, text)
    os.utime(directory / name, (mtime, mtime))
    return directory / name


def edited(filename: str, old: str, new: str) -> str:
    text = (SAMPLE / f"{filename}.csv").read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new)


def refusal(tmp_path: Path, **changes: str) -> str:
    drop(tmp_path / "drops", **changes)
    with pytest.raises(SourceDataError) as caught:
        OneRosterSource(tmp_path / "drops").fetch_snapshot("99XA00")
    message = str(caught.value)
    assert not [name for name in NAMES if name in message], message
    return message


def test_schools_are_found_by_brin6_in_the_org_identifier(tmp_path):
    drop(tmp_path / "drops")
    source = OneRosterSource(tmp_path / "drops")
    a = source.check_connection("99XA", "00")
    assert (a.status, a.school.source_school_id, a.school.name) == (
        ConnectionStatus.CONNECTED,
        "99XA00",
        "OBS De Linde",
    )
    assert source.check_connection("99XB", "01").school.name == "CBS Het Anker"
    assert source.check_connection("99XB", "00").status is ConnectionStatus.NOT_FOUND


def test_roles_make_pupils_and_staff_classes_make_groups(tmp_path):
    drop(tmp_path / "drops")
    snapshot = OneRosterSource(tmp_path / "drops").fetch_snapshot("99XA00")
    assert snapshot.complete
    pupils = {p.source_id: p for p in snapshot.pupils}
    staff = {s.source_id: s for s in snapshot.staff}
    assert sorted(pupils) == ["u-p1", "u-p2"]  # u-p3 tobedeleted, u-p4 at the other school
    assert pupils["u-p1"].eckid == "https://ketenid.nl/201703/pupilaaaa1"
    assert (pupils["u-p1"].group_key, pupils["u-p1"].subgroup_keys) == ("c-3a", ("c-lees",))
    assert pupils["u-p2"].last_name == "van Proefhoven"
    assert {k: s.roles for k, s in staff.items()} == {
        "u-t1": ("teacher",),
        "u-t2": ("aide",),
        "u-t3": ("principal",),  # the district role is the board's, not this school's
        "u-t4": ("ext:conciërge",),  # a role OneRoster does not know is kept as written
    }
    assert staff["u-t1"].eckid == "https://ketenid.nl/201703/staffaaaa1"
    assert staff["u-t1"].group_keys == ("c-3a",)
    assert snapshot.notes == {"guardian_left_out": 1}
    assert {(g.key, g.kind) for g in snapshot.groups} == {
        ("c-3a", GroupKind.GROUP),
        ("c-4b", GroupKind.GROUP),
        ("c-lees", GroupKind.SUBGROUP),
    }


def test_roles_in_users_csv_as_oneroster_1_1_writes_them(tmp_path):
    users = edited(
        "users", "primaryOrgSourcedId,pronouns", "primaryOrgSourcedId,pronouns,role,orgSourcedIds"
    )
    users = users.replace(",org-a,\n", ",org-a,,student,org-a\n", 2)
    manifest = edited("manifest", "file.roles,bulk", "file.roles,absent")
    drop(tmp_path / "drops", users=users, manifest=manifest, roles=None)
    snapshot = OneRosterSource(tmp_path / "drops").fetch_snapshot("99XA00")
    assert sorted(p.source_id for p in snapshot.pupils) == ["u-p1", "u-p2"]


def test_the_newest_zip_holding_a_school_wins(tmp_path):
    drop(tmp_path / "drops", "old.zip", mtime=1_790_000_000)
    new = drop(
        tmp_path / "drops",
        "new.zip",
        mtime=1_790_000_100,
        roles=edited("roles", "r-p2,active", "r-p2,tobedeleted"),
    )
    source = OneRosterSource(tmp_path / "drops")
    snapshot = source.fetch_snapshot("99XA00")
    assert [p.source_id for p in snapshot.pupils] == ["u-p1"]
    assert source.latest_change("99XA00") == snapshot.mutated_at
    os.utime(new, (1_790_000_200, 1_790_000_200))
    assert source.latest_change("99XA00") != snapshot.mutated_at


def test_a_delta_package_is_refused_saying_what_to_do(tmp_path):
    message = refusal(tmp_path, manifest=edited("manifest", "file.users,bulk", "file.users,delta"))
    assert "users.csv as a delta file" in message
    assert "full (bulk) OneRoster export" in message


@pytest.mark.parametrize(
    ("filename", "column"),
    [("users", "givenName"), ("roles", "orgSourcedId"), ("enrollments", "classSourcedId")],
)
def test_a_missing_column_is_named_with_its_file(tmp_path, filename, column):
    text = (SAMPLE / f"{filename}.csv").read_text(encoding="utf-8")
    header, rest = text.split("\n", 1)
    message = refusal(tmp_path, **{filename: header.replace(column, "other") + "\n" + rest})
    assert f"drop.zip: {filename}.csv lacks the column {column}" in message


def test_malformed_csv_is_named_by_file_and_line_never_by_value(tmp_path):
    users = edited("users", 'Mees,"van Proefhoven"', 'Mees,"van "Proefhoven')
    assert "users.csv line 3 is not valid CSV" in refusal(tmp_path, users=users)
    users = edited("users", "roos@delinde.example,", "roos@delinde.example,Voorbeeldt,")
    assert "users.csv line 6 has more fields" in refusal(tmp_path, users=users)


def test_a_missing_file_and_a_broken_zip_are_data_errors(tmp_path):
    assert "orgs.csv is missing" in refusal(tmp_path, orgs=None)
    (tmp_path / "drops" / "drop.zip").write_bytes(b"not a zip at all")
    assert "drop.zip is not a zip file" in refusal_only(tmp_path)


def refusal_only(tmp_path: Path) -> str:
    with pytest.raises(SourceDataError) as caught:
        OneRosterSource(tmp_path / "drops").fetch_snapshot("99XA00")
    return str(caught.value)


def test_a_withdrawn_zip_is_refused_and_a_missing_directory_unavailable(tmp_path):
    (tmp_path / "drops").mkdir()
    with pytest.raises(SourceRefused, match="no OneRoster zip in the directory holds"):
        OneRosterSource(tmp_path / "drops").fetch_snapshot("99XA00")
    with pytest.raises(SourceUnavailable, match="is not there"):
        OneRosterSource(tmp_path / "elsewhere").fetch_snapshot("99XA00")


def test_the_zips_dropped_on_a_day_are_its_consent_changes(tmp_path):
    drops = tmp_path / "drops"
    drop(drops, "board.zip", mtime=1_790_000_000)  # 2026-09-21 in Amsterdam
    source = OneRosterSource(drops)
    on_the_day = source.consent_changes(date(2026, 9, 21))
    assert on_the_day == ConsentChanges(granted=("99XA00", "99XB01"), revoked=())
    assert source.consent_changes(date(2026, 9, 22)) == ConsentChanges()
    # A day later the board withdraws one school: marked tobedeleted in a newer zip.
    orgs = edited("orgs", "org-b,active", "org-b,tobedeleted")
    drop(drops, "board-2.zip", mtime=1_790_086_400, orgs=orgs)
    assert source.consent_changes(date(2026, 9, 22)) == ConsentChanges(
        granted=("99XA00",), revoked=("99XB01",)
    )
    assert source.check_connection("99XB", "01").status is ConnectionStatus.NO_CONSENT
    with pytest.raises(SourceRefused, match="marks school 99XB01 tobedeleted"):
        source.fetch_snapshot("99XB01")


def test_each_version_of_a_zip_has_its_orgs_read_once(tmp_path, monkeypatch):
    """Every school's nightly stamp question looks at every zip: not a read of each."""
    zip_path = drop(tmp_path / "drops")
    reads = []
    monkeypatch.setattr(
        "koppel_oneroster.source.read_package",
        lambda path, **kw: reads.append(kw) or read_package(path, **kw),
    )
    source = OneRosterSource(tmp_path / "drops")
    stamps = [source.latest_change("99XA00"), source.latest_change("99XB01")]
    assert reads == [{"only": ("orgs",)}] and stamps[0] == stamps[1]
    os.utime(zip_path, (1_790_000_500, 1_790_000_500))  # a new drop
    assert source.latest_change("99XA00") != stamps[0]
    assert len(reads) == 2


def test_orgs_without_a_brin6_are_not_schools(tmp_path):
    orgs = edited("orgs", "school,99XB01,", "school,LMS-7,")
    drop(tmp_path / "drops", orgs=orgs, mtime=1_790_000_000)
    source = OneRosterSource(tmp_path / "drops")
    assert source.consent_changes(date(2026, 9, 21)).granted == ("99XA00",)
    twice = edited("orgs", "school,99XB01,", "school,99xa 00,")
    drop(tmp_path / "drops", orgs=twice, mtime=1_790_000_100)
    with pytest.raises(SourceDataError, match="two orgs with identifier 99XA00"):
        source.latest_change("99XA00")


def test_an_empty_role_is_named_by_its_line(tmp_path):
    roles = edited(
        "roles",
        "r-t2,active,2026-09-01T06:00:00.000Z,u-t2,primary,aide",
        "r-t2,active,2026-09-01T06:00:00.000Z,u-t2,primary,",
    )
    assert "roles.csv line 7 has an empty role (column role, user u-t2)" in refusal(
        tmp_path, roles=roles
    )
