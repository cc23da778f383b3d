"""Unchanged schools confirmed without the lease, and every case that must go the full way."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from core import lease
from core.models import School, SyncRun, utcnow
from core.plugins import get_plugins
from core.snapshot import SchoolSnapshot, SourceCapabilities
from core.sync.engine import sync_school
from core.sync.unchanged import (
    KnownSchool,
    Probe,
    confirm_known,
    confirm_unchanged_unleased,
    read_probe,
)
from tests.fakes import FakeSourcePlugin, make_snapshot
from tests.sync.conftest import recording
from tests.workers.factories import SchoolsSource, linked_school, runs_of
from workers import queues
from workers.enqueue import send_nightly
from workers.inprocess import drain
from workers.known import known_schools

STAMP = datetime(2026, 11, 2, 5, 0, tzinfo=UTC)


class StampedSource(SchoolsSource):
    """Every school's data carries ``stamp``; latest_change answers it."""

    def __init__(self) -> None:
        super().__init__()
        self.capabilities = SourceCapabilities(change_stamps=True)
        self.stamp = STAMP

    def fetch_snapshot(self, source_school_id: str) -> SchoolSnapshot:
        self._call("fetch_snapshot", source_school_id)
        snapshot = make_snapshot(pupils=5, staff=2, groups=2, source_school_id=source_school_id)
        return replace(snapshot, mutated_at=self.stamp)

    def latest_change(self, source_school_id: str) -> datetime | None:
        self._call("latest_change", source_school_id)
        return self.stamp


@pytest.fixture
def source() -> StampedSource:
    return StampedSource()


def _night(school_id: int, minutes_ago: float = 0) -> None:
    send_nightly(school_id, utcnow() - timedelta(minutes=minutes_ago))
    drain()


def _synced_and_probed(sessions: sessionmaker[Session]) -> tuple[int, Probe]:
    """A school synced once (in step with the source) and the probe a message reads of it."""
    school_id = linked_school(sessions)
    with sessions() as s:
        sync_school(s, school_id, plugins=get_plugins())
        return school_id, read_probe(s, school_id, utcnow())


def _known(sessions: sessionmaker[Session], school_id: int) -> KnownSchool:
    """Read the process's schools again (as a worker does after a while) and return this one."""
    known_schools.clear()
    with sessions() as s:
        known = known_schools.get(s, school_id)
    assert known is not None and known.stamp == STAMP
    return known


def _synced_and_known(sessions: sessionmaker[Session], minutes_ago: float = 1) -> int:
    """A school synced ``minutes_ago`` (in step with the source), known to this process."""
    school_id = linked_school(sessions)
    _night(school_id, minutes_ago=minutes_ago)
    _known(sessions, school_id)
    return school_id


def _token(sessions: sessionmaker[Session], school_id: int) -> int:
    with sessions() as s:
        return s.scalar(select(School.lease_token).where(School.id == school_id)) or 0


def test_an_unchanged_school_is_confirmed_without_its_lease_or_a_running_row(
    worker, sessions: sessionmaker[Session], source: StampedSource, plugin: FakeSourcePlugin
) -> None:
    school_id = linked_school(sessions)
    _night(school_id, minutes_ago=1)
    token = _token(sessions, school_id)

    _night(school_id)

    runs = runs_of(sessions, school_id)
    assert [r.outcome for r in runs] == ["succeeded", "unchanged"]
    assert runs[1].finished_at is not None and runs[1].worker
    assert _token(sessions, school_id) == token  # the lease was never taken
    assert source.called("fetch_snapshot") == 1 and source.called("latest_change") == 1
    # Plugins see the unchanged run as any other: started, then ended.
    assert [(e, d["run_id"]) for e, d in plugin.events[-2:]] == [
        ("before", runs[1].id),
        ("after", runs[1].id),
    ]
    assert plugin.events[-1][1]["outcome"] == "unchanged"


def test_a_moved_stamp_is_fetched_without_asking_for_it_twice(
    worker, sessions: sessionmaker[Session], source: StampedSource
) -> None:
    school_id = linked_school(sessions)
    _night(school_id, minutes_ago=1)
    source.stamp = STAMP + timedelta(days=1)

    _night(school_id)

    assert [r.outcome for r in runs_of(sessions, school_id)] == ["succeeded", "succeeded"]
    assert source.called("latest_change") == 1  # read once, handed to the full sync
    assert source.called("fetch_snapshot") == 2
    with sessions() as s:
        assert s.scalar(select(School.source_mutated_at).where(School.id == school_id)) == (
            source.stamp
        )


@pytest.mark.parametrize("known", [False, True], ids=["read-first", "known"])
def test_a_school_leased_by_another_is_not_confirmed_but_waits_for_the_lease(
    worker,
    stub_broker: StubBroker,
    sessions: sessionmaker[Session],
    source: StampedSource,
    known: bool,
) -> None:
    school_id = linked_school(sessions)
    _night(school_id, minutes_ago=1)
    if known:
        _known(sessions, school_id)
    with sessions() as s:
        lease.acquire(s, school_id, "another-worker", 1.5)

    send_nightly(school_id, utcnow())
    deferred = stub_broker.queues[dq_name(queues.SYNC_NIGHTLY)]
    deadline = time.monotonic() + 10
    while deferred.unfinished_tasks == 0:  # the worker found the lease taken and deferred
        assert time.monotonic() < deadline, "the message was not deferred"
        time.sleep(0.02)
    assert [r.outcome for r in runs_of(sessions, school_id)] == ["succeeded"]
    # Read first: not asked while another holds the lease; known: asked once, before it is seen.
    assert source.called("latest_change") == (1 if known else 0)

    drain()  # the holder's lease lapses; then the school is confirmed in step
    assert [r.outcome for r in runs_of(sessions, school_id)] == ["succeeded", "unchanged"]


def test_a_sync_started_after_the_probe_stops_the_confirmation(
    sessions: sessionmaker[Session], source: StampedSource, plugin: FakeSourcePlugin
) -> None:

    school_id, probe = _synced_and_probed(sessions)
    with sessions() as s:
        # Another worker takes and gives back the lease in between: the token moved.
        lease.release(s, lease.acquire(s, school_id, "another-worker", 60))

        run, stamp = confirm_unchanged_unleased(
            s, get_plugins(), probe, trigger="nightly", worker="w"
        )

    assert run is None and stamp == STAMP
    assert [r.outcome for r in runs_of(sessions, school_id)] == ["succeeded"]


def test_a_run_left_running_sends_the_school_the_full_way_and_is_abandoned(
    worker, sessions: sessionmaker[Session], source: StampedSource
) -> None:
    school_id = linked_school(sessions)
    _night(school_id, minutes_ago=2)
    with sessions() as s:
        s.add(SyncRun(school_id=school_id, worker="dead:1/x", outcome="running"))
        s.commit()
    token = _token(sessions, school_id)

    _night(school_id)

    outcomes = [r.outcome for r in runs_of(sessions, school_id)]
    assert outcomes == ["succeeded", "failed", "unchanged"]
    assert _token(sessions, school_id) == token + 1  # it took the lease to clean up


def test_a_failing_start_hook_fails_the_unchanged_run_too(
    sessions: sessionmaker[Session], source: StampedSource, plugin: FakeSourcePlugin
) -> None:
    from core.errors import InternalError
    from core.hookspecs import hookimpl

    school_id, probe = _synced_and_probed(sessions)
    with sessions() as s:

        class Refusing:
            @hookimpl
            def koppel_before_school_sync(self, school_id: int, source: str, run_id: int) -> None:
                raise RuntimeError("a plugin that refuses")

        get_plugins().pm.register(Refusing())
        with pytest.raises(InternalError, match="RuntimeError"):
            confirm_unchanged_unleased(s, get_plugins(), probe, trigger="nightly", worker="w")

    runs = runs_of(sessions, school_id)
    assert [r.outcome for r in runs] == ["succeeded", "failed"]
    assert "a plugin that refuses" in (runs[1].error or "")
    assert plugin.events[-1][1]["outcome"] == "failed"


# -- a school the worker process already knows (workers/known.py) -----------------------------


def test_a_known_unchanged_school_is_confirmed_by_one_statement_and_no_probe(
    worker,
    sessions: sessionmaker[Session],
    db_engine: Engine,
    source: StampedSource,
    plugin: FakeSourcePlugin,
) -> None:
    school_id = linked_school(sessions)
    _night(school_id, minutes_ago=1)
    token = _token(sessions, school_id)
    _known(sessions, school_id)

    with recording(db_engine) as statements:
        _night(school_id)

    runs = runs_of(sessions, school_id)
    assert [r.outcome for r in runs] == ["succeeded", "unchanged"]
    assert _token(sessions, school_id) == token
    assert source.called("latest_change") == 1 and source.called("fetch_snapshot") == 1
    assert plugin.events[-1][1]["outcome"] == "unchanged"
    work = [s for s in statements.sql if "school" in s]
    assert not any(s.lstrip().upper().startswith("SELECT") for s in work), work
    # PostgreSQL: the compare-and-set and the run's insert in one statement; SQLite: two.
    assert len(work) == (1 if db_engine.dialect.name == "postgresql" else 2), work


def test_a_known_school_that_moved_is_fetched_without_asking_twice(
    worker, sessions: sessionmaker[Session], source: StampedSource
) -> None:
    school_id = _synced_and_known(sessions)
    source.stamp = STAMP + timedelta(days=1)

    _night(school_id)

    assert [r.outcome for r in runs_of(sessions, school_id)] == ["succeeded", "succeeded"]
    assert source.called("latest_change") == 1 and source.called("fetch_snapshot") == 2
    assert school_id not in known_schools  # read again at the next reload


def test_a_known_school_whose_last_run_failed_is_fetched_again(
    worker, sessions: sessionmaker[Session], source: StampedSource
) -> None:
    school_id = linked_school(sessions)
    _night(school_id, minutes_ago=2)
    with sessions() as s:
        s.add(SyncRun(school_id=school_id, outcome="failed", finished_at=utcnow()))
        s.commit()
    _known(sessions, school_id)

    _night(school_id)

    assert [r.outcome for r in runs_of(sessions, school_id)] == ["succeeded", "failed", "succeeded"]
    assert source.called("fetch_snapshot") == 2


def test_a_settled_message_of_a_known_school_records_nothing_more(
    worker, sessions: sessionmaker[Session], source: StampedSource
) -> None:
    school_id = _synced_and_known(sessions, minutes_ago=2)
    since = utcnow()
    for _ in range(2):  # the scheduler sent it twice (or RabbitMQ delivered it again)
        send_nightly(school_id, since)
        drain()

    assert [r.outcome for r in runs_of(sessions, school_id)] == ["succeeded", "unchanged"]


def test_what_a_process_knows_is_checked_again_by_the_statement(
    worker, sessions: sessionmaker[Session], source: StampedSource
) -> None:
    school_id = linked_school(sessions)
    _night(school_id, minutes_ago=1)
    known = _known(sessions, school_id)
    # Wrong knowledge (another school's source id) confirms nothing by itself.
    known_schools.remember(replace(known, source_school_id="somebody-else"))

    _night(school_id)

    assert [r.outcome for r in runs_of(sessions, school_id)] == ["succeeded", "unchanged"]
    assert source.called("latest_change") == 2  # the wrong id was asked, then the right one
    assert school_id in known_schools  # learnt again from the probe


def test_a_failing_start_hook_fails_the_known_schools_run_too(
    sessions: sessionmaker[Session], source: StampedSource, plugin: FakeSourcePlugin
) -> None:
    from core.errors import InternalError
    from core.hookspecs import hookimpl

    school_id, _probe = _synced_and_probed(sessions)
    known = _known(sessions, school_id)

    class Refusing:
        @hookimpl
        def koppel_before_school_sync(self, school_id: int, source: str, run_id: int) -> None:
            raise RuntimeError("a plugin that refuses")

    get_plugins().pm.register(Refusing())
    with sessions() as s, pytest.raises(InternalError, match="RuntimeError"):
        confirm_known(s, get_plugins(), known, since=utcnow(), trigger="nightly", worker="w")

    runs = runs_of(sessions, school_id)
    assert [r.outcome for r in runs] == ["succeeded", "failed"]
    assert "a plugin that refuses" in (runs[1].error or "")
    assert plugin.events[-1][1]["outcome"] == "failed"
