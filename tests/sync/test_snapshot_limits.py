"""Every source's records refuse what no column can hold, naming the field, never the value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from core.errors import SourceDataError
from core.snapshot import (
    GroupKind,
    GroupRecord,
    PupilRecord,
    SchoolInfo,
    SchoolSnapshot,
    StaffRecord,
)

SECRET = "Geheimnaam"
SCHOOL = SchoolInfo("42", "De Regenboog", "12AB", "00")

CASES: dict[str, tuple[Callable[[], Any], str]] = {
    "long first name": (
        lambda: PupilRecord("7", first_name=SECRET * 21),
        "pupil 7: first_name has 210",
    ),
    "long prefix": (
        lambda: PupilRecord("7", prefix=SECRET * 6),
        "prefix has 60 characters, more than the 50",
    ),
    "long ECK iD": (lambda: StaffRecord("8", eckid=SECRET * 31), "staff member 8: eckid has 310"),
    "long e-mail": (
        lambda: StaffRecord("8", email=SECRET * 33),
        "email has 330 characters, more than the 320",
    ),
    "NUL in a last name": (
        lambda: PupilRecord("7", last_name=f"{SECRET}\x00"),
        "last_name contains a NUL",
    ),
    "lone surrogate": (
        lambda: PupilRecord("7", initials="\ud800"),
        "initials is not valid Unicode",
    ),
    "NUL in a role": (
        lambda: StaffRecord("8", roles=("Leerkracht", "x\x00")),
        "roles contains a NUL",
    ),
    "long group key": (
        lambda: GroupRecord("naam:" + SECRET * 20, GroupKind.GROUP),
        "a group: key has 205",
    ),
    "long group name": (
        lambda: GroupRecord("g", GroupKind.SUBGROUP, SECRET * 21),
        "a subgroup: name has",
    ),
    "huge year group": (
        lambda: GroupRecord("g", GroupKind.GROUP, year_group=10**30),
        "year_group is out",
    ),
    "long school name": (
        lambda: SchoolInfo("42", SECRET * 21, None, None),
        "school 42: name has 210",
    ),
    "long source id": (lambda: PupilRecord("9" * 65), "a pupil: source_id has 65 characters"),
    "a number as a name": (
        lambda: PupilRecord("7", first_name=5),
        "pupil 7: first_name is int, not text",
    ),
    "long network": (
        lambda: SchoolSnapshot(SCHOOL, networks=("1" * 65,)),
        "network number 1: network has 65",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_value_no_column_can_hold_is_refused_naming_its_field(case: str) -> None:
    make, reason = CASES[case]
    with pytest.raises(SourceDataError) as caught:
        make()
    assert reason in str(caught.value)
    assert SECRET not in str(caught.value)


def test_text_that_fits_is_accepted_whatever_its_script() -> None:
    pupil = PupilRecord("7", first_name="Zoë", last_name="Çelik", initials="Ž" * 50)
    assert pupil.initials == "Ž" * 50
