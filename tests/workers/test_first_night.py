"""A school's first sync by a worker: no first read, the fewest statements, every guarantee kept."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.models import HeldPlan, Pupil, School, utcnow
from core.snapshot import SchoolSnapshot
from tests.sync.conftest import recording
from tests.workers.factories import SchoolsSource, linked_school, runs_of
from workers.enqueue import send_nightly
from workers.inprocess import drain
from workers.sync import known_schools


def _night(school_id: int, since=None) -> None:  # type: ignore[no-untyped-def]
    send_nightly(school_id, since or utcnow())
    drain()


def _first_night(sessions: sessionmaker[Session]) -> int:
    """A linked school never synced, and a worker process that has read its schools since."""
    other, school_id = linked_school(sessions), linked_school(sessions)
    known_schools.clear()
    _night(other)  # the process reads its schools with its first message
    return school_id


def test_a_never_synced_school_is_synced_without_a_first_read(
    worker, sessions: sessionmaker[Session], db_engine: Engine
) -> None:
    school_id = _first_night(sessions)

    with recording(db_engine) as statements:
        _night(school_id)

    assert [r.outcome for r in runs_of(sessions, school_id)] == ["succeeded"]
    work = [" ".join(s.split()) for s in statements.sql if not s.startswith("BEGIN")]
    assert not any(s.startswith("UPDATE held_plan") for s in work), "none held: none retired"
    assert not any(s.startswith("SELECT school.") for s in work), "no load, no consent re-read"
    if db_engine.dialect.name == "postgresql":
        # Lease (with the state), run, 4 current-row reads, 3 id reads after writing (COPY is
        # not seen here), networks, the run's end, the school written under the fence (which
        # reads the consent), the release. Was 18: the probe, the school's load, retiring held
        # plans, a separate fence and consent read.
        assert len(work) == 13, work


def test_a_repeated_first_night_message_is_settled_under_the_lease(
    worker, sessions: sessionmaker[Session], source: SchoolsSource
) -> None:
    school_id = _first_night(sessions)
    since = utcnow() - timedelta(seconds=1)
    _night(school_id, since)
    known_schools.clear()  # read again: the fake source serves no stamp, so still unstamped

    _night(school_id, since)  # the scheduler sent it twice (or RabbitMQ delivered it again)

    assert [r.outcome for r in runs_of(sessions, school_id)] == ["succeeded"]
    assert source.called("fetch_snapshot") == 2  # the other school's and this one's, once


def test_a_plan_held_before_is_retired_by_the_sync_that_applies(
    worker, sessions: sessionmaker[Session]
) -> None:
    school_id = _first_night(sessions)
    with sessions() as s:
        s.add(HeldPlan(school_id=school_id, status="held", plan_hash="0" * 64))
        s.commit()

    _night(school_id)

    assert [r.outcome for r in runs_of(sessions, school_id)] == ["succeeded"]
    with sessions() as s:
        held = s.scalars(select(HeldPlan).where(HeldPlan.school_id == school_id)).one()
    assert (held.status, held.decided_by) == ("stale", "superseded by a sync that applied")


def test_consent_revoked_while_a_worker_fetches_stops_its_commit(
    worker, sessions: sessionmaker[Session], source: SchoolsSource
) -> None:
    school_id = _first_night(sessions)
    serve = source.fetch_snapshot

    def revoked_meanwhile(source_school_id: str) -> SchoolSnapshot:
        with sessions() as s:  # the consent sweep commits a revocation while the source is asked
            s.execute(update(School).where(School.id == school_id).values(consent="revoked"))
            s.commit()
        return serve(source_school_id)

    source.fetch_snapshot = revoked_meanwhile  # type: ignore[method-assign]
    _night(school_id)

    runs = runs_of(sessions, school_id)
    assert [(r.outcome, r.error) for r in runs] == [
        ("skipped", "consent was revoked while the run worked")
    ]
    with sessions() as s:
        assert s.scalars(select(Pupil.id).where(Pupil.school_id == school_id)).all() == []
        assert s.scalar(select(School.source_mutated_at).where(School.id == school_id)) is None
