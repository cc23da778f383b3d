"""The school lease on SQLite and PostgreSQL: exclusive, lapsing, and fenced."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core import lease
from core.errors import LeaseLost, SchoolNotFound, SyncBusy
from core.lease_heartbeat import Heartbeat
from core.models import School, SyncRun
from tests.workers.factories import FakeClock, add_school


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def school_id(session_factory: sessionmaker[Session]) -> Iterator[int]:
    """A committed school, visible to every connection (the concurrency tests need that)."""
    with session_factory() as s:
        school = add_school(s)
        s.commit()
        yield school.id


def test_acquire_takes_a_free_school_and_refuses_a_second_holder(db: Session, clock) -> None:
    school = add_school(db)
    first = lease.acquire(db, school.id, "worker-a", 60, clock=clock)
    assert first.token == 1
    row = db.execute(select(School.lease_owner, School.lease_token).where(School.id == school.id))
    assert row.one() == ("worker-a", 1)
    with pytest.raises(SyncBusy, match=f"school {school.id} is leased by worker-a"):
        lease.acquire(db, school.id, "worker-b", 60, clock=clock)


def test_acquire_reading_reads_the_leased_school_with_its_own_runs(db: Session, clock) -> None:
    from core.sync.state import SchoolState, state_columns

    synced, fresh = add_school(db), add_school(db)
    db.add(SyncRun(school_id=synced.id, outcome="succeeded", started_at=clock()))
    db.commit()
    has_runs = select(SyncRun.id).where(SyncRun.school_id == School.id).exists().label("has_runs")

    for school, runs, outcome in ((fresh, False, None), (synced, True, "succeeded")):
        held, row = lease.acquire_reading(
            db, school.id, "worker-a", 60, (has_runs, *state_columns()), clock=clock
        )
        state = SchoolState.from_row(row)
        assert held.token == 1
        # Subqueries answer for the school taken, not for another (SQLite's RETURNING did).
        assert (bool(row.has_runs), state.id, state.last_outcome) == (runs, school.id, outcome)


def test_an_expired_lease_can_be_taken_over_with_a_higher_token(db: Session, clock) -> None:
    school = add_school(db)
    first = lease.acquire(db, school.id, "worker-a", 10, clock=clock)
    clock.advance(10)
    second = lease.acquire(db, school.id, "worker-b", 10, clock=clock)
    assert second.token == first.token + 1
    with pytest.raises(LeaseLost):
        first.fence(db)
    second.fence(db)  # the successor may commit


def test_acquire_on_a_missing_school_says_so(db: Session, clock) -> None:
    with pytest.raises(SchoolNotFound):
        lease.acquire(db, 987654321, "worker-a", 10, clock=clock)


def test_a_released_lease_is_free_again_and_release_spares_a_successor(db: Session, clock) -> None:
    school = add_school(db)
    first = lease.acquire(db, school.id, "worker-a", 10, clock=clock)
    assert lease.release(db, first) is True
    second = lease.acquire(db, school.id, "worker-b", 10, clock=clock)
    assert lease.release(db, first) is False  # the old holder must not free the new one's lease
    owner = db.scalar(select(School.lease_owner).where(School.id == school.id))
    assert owner == "worker-b"
    assert lease.release(db, second) is True


def test_renew_extends_a_held_lease_and_refuses_a_lapsed_one(db: Session, clock) -> None:
    school = add_school(db)
    held = lease.acquire(db, school.id, "worker-a", 10, clock=clock)
    clock.advance(8)
    held = lease.renew(db, held, 10)
    clock.advance(8)  # 16 s after acquiring: alive only thanks to the renewal
    held.fence(db)
    clock.advance(3)
    with pytest.raises(LeaseLost):
        lease.renew(db, held, 10)


def test_a_lapsed_worker_cannot_commit_over_its_successor(
    session_factory: sessionmaker[Session], school_id: int, clock
) -> None:
    with session_factory() as slow, session_factory() as successor:
        lapsed = lease.acquire(slow, school_id, "worker-slow", 10, clock=clock)
        clock.advance(11)  # the slow worker stalls past its lease ...
        current = lease.acquire(successor, school_id, "worker-next", 10, clock=clock)
        # ... then wakes up and tries to commit what it computed.
        slow.execute(update(School).where(School.id == school_id).values(name="stale"))
        with pytest.raises(LeaseLost):
            lapsed.fence(slow)
        slow.rollback()
        successor.execute(update(School).where(School.id == school_id).values(name="fresh"))
        current.fence(successor)
        successor.commit()
    with session_factory() as check:
        assert check.scalar(select(School.name).where(School.id == school_id)) == "fresh"


def test_the_fence_writes_the_school_and_reads_its_consent_in_one_statement(
    db: Session, clock
) -> None:
    school = add_school(db)
    held = lease.acquire(db, school.id, "worker-a", 10, clock=clock)

    assert held.fence(db, {"name": "written"}) == "granted"
    db.execute(update(School).where(School.id == school.id).values(consent="revoked"))
    assert held.fence(db) == "revoked"  # the caller decides; the lease still holds
    clock.advance(11)
    with pytest.raises(LeaseLost):
        held.fence(db, {"name": "too late"})
    assert db.scalar(select(School.name).where(School.id == school.id)) == "written"


def test_write_school_without_a_lease_reports_a_missing_school(db: Session) -> None:
    school = add_school(db)
    assert lease.write_school(db, school.id, {"name": "written"}) == "granted"
    assert school.name == "written"  # the copy loaded in the session follows suit
    assert lease.write_school(db, school.id + 1000, {"name": "nobody"}) is None


def test_a_passed_fence_holds_off_a_successor_until_the_commit(
    session_factory: sessionmaker[Session], school_id: int, clock
) -> None:
    """Between the fence and the commit, a takeover waits instead of slipping in."""
    with session_factory() as holder:
        held = lease.acquire(holder, school_id, "worker-a", 10, clock=clock)
        holder.execute(update(School).where(School.id == school_id).values(name="applied"))
        held.fence(holder)  # passes and now holds the row (PostgreSQL) or the database (SQLite)
        later = FakeClock()
        later.now = clock.now + timedelta(seconds=30)  # the lease has expired by the taker's clock
        taken: list[int] = []

        def take_over() -> None:
            with session_factory() as other:
                taken.append(lease.acquire(other, school_id, "worker-b", 10, clock=later).token)

        taker = threading.Thread(target=take_over)
        taker.start()
        taker.join(timeout=0.5)
        assert taken == [], "the takeover must wait for the fenced commit"
        holder.commit()
        taker.join(timeout=30)
    assert taken == [held.token + 1]


def test_abandoned_runs_are_marked_failed_by_the_next_holder(db: Session, clock) -> None:
    school = add_school(db)
    crashed = SyncRun(school_id=school.id, worker="worker-dead", outcome="running")
    done = SyncRun(school_id=school.id, worker="worker-dead", outcome="succeeded")
    db.add_all([crashed, done])
    db.flush()
    held = lease.acquire(db, school.id, "worker-next", 10, clock=clock)
    assert lease.abandon_stale_runs(db, held) == 1
    db.refresh(crashed)
    db.refresh(done)
    assert crashed.outcome == "failed" and crashed.error and "abandoned" in crashed.error
    assert done.outcome == "succeeded"


def test_a_heartbeat_keeps_the_lease_and_cannot_revive_it_once_lapsed(
    session_factory: sessionmaker[Session], school_id: int, clock
) -> None:
    with session_factory() as holder, session_factory() as other:
        held = lease.acquire(holder, school_id, "worker-a", 10, clock=clock)
        heartbeat = Heartbeat(session_factory, held, 10)
        for _ in range(3):  # 24 s in all, well past the first expiry
            clock.advance(8)
            assert heartbeat.beat() is True
            with pytest.raises(SyncBusy):
                lease.acquire(other, school_id, "worker-b", 10, clock=clock)
            other.rollback()  # its look at the holder holds SQLite's write lock
        held.fence(holder)  # the holder may still commit
        holder.commit()
        clock.advance(11)  # the worker stalled (or the database was away) past its lease
        assert heartbeat.beat() is False  # a lapsed lease stays lapsed ...
        successor = lease.acquire(other, school_id, "worker-b", 10, clock=clock)
        with pytest.raises(LeaseLost):
            held.fence(holder)  # ... and the old holder cannot commit over its successor
        holder.rollback()
        successor.fence(other)


def test_a_heartbeat_stops_renewing_at_its_limit(
    session_factory: sessionmaker[Session], school_id: int, clock
) -> None:
    with session_factory() as holder, session_factory() as other:
        held = lease.acquire(holder, school_id, "worker-a", 10, clock=clock)
        heartbeat = Heartbeat(session_factory, held, 10, until=clock() + timedelta(seconds=12))
        clock.advance(8)
        assert heartbeat.beat() is True  # renewed until 18 s
        clock.advance(5)
        assert heartbeat.beat() is False  # 13 s: past the time limit, not renewed
        clock.advance(6)
        assert lease.acquire(other, school_id, "worker-b", 10, clock=clock).token == held.token + 1
