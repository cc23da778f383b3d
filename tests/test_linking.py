"""Linking a school: a check that meets the same school just linked by another check updates it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from core.connection import ConnectionStatus
from core.db import make_engine
from core.linking import link_school
from core.models import School
from tests.conftest import migrated_database
from tests.fakes import FakeSource, fake_plugins, make_snapshot


@pytest.mark.postgres  # SQLite runs one writer at a time: two checks cannot interleave there
def test_two_checks_of_a_new_school_at_once_both_answer_and_link_it_once(tmp_path: Path) -> None:
    engine = make_engine(migrated_database("postgres", tmp_path))
    plugins, _ = fake_plugins(FakeSource(make_snapshot(pupils=1, staff=1, groups=1)))
    try:
        with Session(engine) as first, Session(engine) as second:
            linked_first: list[bool] = []

            def the_other_check_links_it_first(*_args: Any) -> None:
                # Between this check's look-up (no school yet) and its insert; once.
                if linked_first:
                    return
                linked_first.append(True)
                assert link_school(first, plugins, "99ZZ00", "fake").status is (
                    ConnectionStatus.CONNECTED
                )

            event.listen(second, "before_flush", the_other_check_links_it_first)
            check = link_school(second, plugins, "99ZZ00", "fake")  # before: IntegrityError
        assert check.status is ConnectionStatus.CONNECTED and linked_first
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(School)) == 1
            assert session.scalar(select(School.consent)) == "granted"
    finally:
        engine.dispose()
