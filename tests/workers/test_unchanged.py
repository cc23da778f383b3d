"""Unchanged schools decided by one statement, and every case that must go the full way."""

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
from core.plugins import Plugins, get_plugins, make_plugin_manager, set_plugins
from core.settings import get_settings
from core.snapshot import SchoolSnapshot, SourceCapabilities
from core.sync.unchanged import KnownSchool, confirm_unchanged
from tests.fakes import FakeSourcePlugin, make_snapshot
from tests.sync.conftest import recording
from tests.workers.factories import SchoolsSource, lapse, linked_school, runs_of
from workers import queues
from workers.enqueue import send_nightly
from workers.inprocess import drain
from workers.sync import known_schools

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


@pytest.mark.parametrize("known", [False, True], ids=["read-alone", "known"])
def test_a_school_leased_by_another_is_not_confirmed_but_waits_for_the_lease(
    worker,
    stub_broker: StubBroker,
    sessions: sessionmaker[Session],
    source: StampedSource,
    known: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "lease_seconds", 1)  # a deferral waits a second
    school_id = linked_school(sessions)
    _night(school_id, minutes_ago=1)
    if known:
        _known(sessions, school_id)
    with sessions() as s:
        lease.acquire(s, school_id, "another-worker", 3600)  # held until it is made to lapse

    send_nightly(school_id, utcnow())
    deferred = stub_broker.queues[dq_name(queues.SYNC_NIGHTLY)]
    while deferred.unfinished_tasks == 0:  # the worker found the lease taken and deferred
        time.sleep(0.02)
    assert [r.outcome for r in runs_of(sessions, school_id)] == ["succeeded"]
    assert source.called("latest_change") == 1  # asked once; the statement saw the lease

    lapse(sessions, school_id, "another-worker")  # the holder died: then it is confirmed
    drain()
    assert [r.outcome for r in runs_of(sessions, school_id)] == ["succeeded", "unchanged"]


def test_a_school_leased_by_another_or_running_is_not_confirmed(
    worker, sessions: sessionmaker[Session], source: StampedSource
) -> None:
    school_id = _synced_and_known(sessions)
    known = _known(sessions, school_id)
    with sessions() as s:
        held = lease.acquire(s, school_id, "another-worker", 60)
        verdict = _decide(s, known)
        assert verdict.run_id is None and verdict.stamp == STAMP
        # The holder itself may confirm it (the engine does, under the worker's lease).
        assert _decide(s, known, token=held.token).run_id is not None
        lease.release(s, held)
        s.add(SyncRun(school_id=school_id, worker="dead:1/x", outcome="running"))
        s.commit()
        assert _decide(s, known).run_id is None

    outcomes = [r.outcome for r in runs_of(sessions, school_id)]
    assert outcomes == ["succeeded", "unchanged", "running"]


def _decide(s: Session, known: KnownSchool, token: int | None = None):  # type: ignore[no-untyped-def]
    return confirm_unchanged(
        s, get_plugins(), known, since=utcnow(), trigger="nightly", worker="w", token=token
    )


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


# -- a school the worker process already knows (workers/known.py) -----------------------------


class _EndsOnly(FakeSourcePlugin):
    """The fake source with no plugin watching runs start (as in most deployments)."""

    koppel_before_school_sync = None  # type: ignore[assignment]


@pytest.mark.parametrize("watched", [False, True], ids=["unwatched", "start-hook"])
def test_a_known_unchanged_school_is_confirmed_by_one_statement_and_no_read(
    worker,
    sessions: sessionmaker[Session],
    db_engine: Engine,
    source: StampedSource,
    plugin: FakeSourcePlugin,
    watched: bool,
) -> None:
    if not watched:
        plugin = _EndsOnly(source)
        set_plugins(Plugins(make_plugin_manager(entry_points=False, extra=[plugin])))
    school_id = linked_school(sessions)
    _night(school_id, minutes_ago=1)
    token = _token(sessions, school_id)
    _known(sessions, school_id)

    with recording(db_engine) as statements:
        _night(school_id)

    runs = runs_of(sessions, school_id)
    assert [r.outcome for r in runs] == ["succeeded", "unchanged"]
    assert _token(sessions, school_id) == token  # the lease was never taken
    assert source.called("latest_change") == 1 and source.called("fetch_snapshot") == 1
    assert [e for e, _ in plugin.events[-2:]] == (["before", "after"] if watched else ["after"] * 2)
    assert plugin.events[-1][1]["outcome"] == "unchanged"
    work = [s for s in statements.sql if "school" in s or "sync_run" in s]
    assert not any(s.lstrip().upper().startswith("SELECT") for s in work), work
    # PostgreSQL: the decision and the run's insert in one statement; SQLite: two. A start
    # hook sees the run running: then its end is one statement more.
    assert len(work) == (1 if db_engine.dialect.name == "postgresql" else 2) + watched, work


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
    assert school_id in known_schools  # learnt again from the full way


def test_a_failing_start_hook_fails_the_unchanged_run(
    worker, sessions: sessionmaker[Session], source: StampedSource, plugin: FakeSourcePlugin
) -> None:
    from core.errors import InternalError

    school_id = _synced_and_known(sessions)
    known = _known(sessions, school_id)

    def refuse() -> None:
        raise RuntimeError("a plugin that refuses")

    plugin.on_before = refuse
    with sessions() as s, pytest.raises(InternalError, match="RuntimeError"):
        _decide(s, known)

    runs = runs_of(sessions, school_id)
    assert [r.outcome for r in runs] == ["succeeded", "failed"]
    assert "a plugin that refuses" in (runs[1].error or "")
    assert plugin.events[-1][1]["outcome"] == "failed"


def test_the_start_hook_sees_an_unchanged_run_running_and_the_end_hook_sees_it_ended(
    worker, sessions: sessionmaker[Session], source: StampedSource, plugin: FakeSourcePlugin
) -> None:
    """koppel_before_school_sync is called when the run has started, not after it ended."""
    school_id = _synced_and_known(sessions)
    seen: list[str] = []

    def look() -> None:
        seen.append(runs_of(sessions, school_id)[-1].outcome)

    plugin.on_before = look
    _night(school_id)

    runs = runs_of(sessions, school_id)
    assert [r.outcome for r in runs] == ["succeeded", "unchanged"]
    assert seen == ["running"]
    assert [e for e, _ in plugin.events[-2:]] == ["before", "after"]
    assert plugin.events[-1][1] == {"run_id": runs[1].id, "outcome": "unchanged", "counts": {}}
