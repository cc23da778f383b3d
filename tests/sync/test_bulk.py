"""Bulk behaviour: statements do not grow with the school's size; the export shows the source."""

from __future__ import annotations

from dataclasses import replace

from core.export import export_school
from core.settings import get_settings
from core.sync.engine import sync_school
from tests.fakes import FakeSource, fake_plugins, make_snapshot
from tests.sync.conftest import new_school, recording
from tests.sync.expect import expected_people, people_of


def _statements(db, pupils: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Statements sent by a first sync and by a sync changing every pupil, for one school size."""
    school = new_school(db)
    source = FakeSource(
        make_snapshot(pupils=pupils, staff=30, groups=8, source_school_id=school.source_school_id)
    )
    plugins, _ = fake_plugins(source)
    with recording(db) as first:
        assert sync_school(db, school.id, plugins=plugins).outcome == "succeeded"
    source.change(pupils=tuple(replace(p, initials="X.") for p in source.snapshot.pupils))
    with recording(db) as second:
        run = sync_school(db, school.id, plugins=plugins)
    assert run.counts["pupils_updated"] == pupils
    return len(first.sql), len(second.sql)


def test_statement_count_does_not_grow_with_pupils(db, monkeypatch):
    # Every pupil is rewritten on purpose, above the safety budget's update share: lift it.
    monkeypatch.setattr(get_settings(), "safety_update_share", 1.0)
    # On SQLite every statement passes SQLAlchemy's events; on PostgreSQL COPY and the
    # UPDATE ... FROM unnest go straight to psycopg (one per table), so there it is a lower bound.
    small = _statements(db, 150)
    large = _statements(db, 1500)

    # Insert batches of 1000 rows may add a statement; nothing per pupil.
    for few, many in zip(small, large, strict=True):
        assert many <= few + 3, (small, large)
    assert max(large) < 40, large


def test_export_matches_what_the_source_served(db, school, source, plugins):
    sync_school(db, school.id, plugins=plugins)

    exported = export_school(db, school)

    assert people_of(exported) == expected_people(source.snapshot)
    assert exported["school"] == {
        "brin6": school.brin6,
        "name": "De Fakeschool",
        "source": "fake",
        "source_school_id": source.snapshot.school.source_school_id,
        "consent": "granted",
        "active": True,
        "merged_into": None,
        "last_synced_at": school.last_synced_at.isoformat(),
    }
    assert exported["networks"] == [{"network": "192.0.2.0/24", "origin": "fake"}]
