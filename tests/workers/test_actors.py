"""The sync actors on the stub broker: idempotent, leased, fenced, retried only when it helps."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from functools import partial

import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core import lease
from core.errors import SourceRefused, SourceUnavailable
from core.models import School, SyncRun, utcnow
from core.settings import get_settings
from core.snapshot import SchoolSnapshot
from tests.deploy.processes import wait_for
from tests.workers.factories import SchoolsSource, linked_school, pupils_of, runs_of
from workers import actors, queues
from workers.enqueue import send_nightly, send_now
from workers.inprocess import drain


def test_a_nightly_message_syncs_the_school_once_however_often_it_comes(
    worker: Worker, sessions: sessionmaker[Session]
) -> None:
    school_id = linked_school(sessions)
    night = utcnow() - timedelta(minutes=1)
    send_nightly(school_id, night)
    drain()
    send_nightly(school_id, night)  # a redelivery, or the scheduler sending it again
    drain()
    runs = runs_of(sessions, school_id)
    assert [(r.outcome, r.trigger) for r in runs] == [("succeeded", "nightly")]
    assert runs[0].worker and runs[0].worker.count(":") == 1  # host:pid/message
    assert pupils_of(sessions, school_id) == 5
    with sessions() as s:
        school = s.get(School, school_id)
        assert school is not None and school.lease_owner is None  # released


def test_a_failing_upstream_is_retried_then_dead_lettered_and_others_go_on(
    worker: Worker,
    stub_broker: StubBroker,
    sessions: sessionmaker[Session],
    source: SchoolsSource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        actors.sync_school.options,
        "retry_when",
        partial(actors.worth_retrying, max_retries=2),
    )
    broken, healthy = linked_school(sessions), linked_school(sessions)
    with sessions() as s:
        broken_source_id = s.get(School, broken).source_school_id  # type: ignore[union-attr]
    source.failing[broken_source_id] = SourceUnavailable("Basispoort answered 503")
    night = utcnow()
    for school_id in (broken, healthy):
        actors.sync_school.send_with_options(
            kwargs={"school_id": school_id, "since": night.isoformat()},
            min_backoff=20,
            max_backoff=50,
        )
    drain()
    failed = runs_of(sessions, broken)
    assert [r.outcome for r in failed] == ["failed"] * 3  # the first try and two retries
    assert all(r.error and "503" in r.error for r in failed)
    assert [m.kwargs["school_id"] for m in stub_broker.dead_letters] == [broken]
    assert [r.outcome for r in runs_of(sessions, healthy)] == ["succeeded"]


def test_a_refusal_is_not_retried(
    worker: Worker,
    stub_broker: StubBroker,
    sessions: sessionmaker[Session],
    source: SchoolsSource,
) -> None:
    school_id = linked_school(sessions)
    with sessions() as s:
        source_id = s.get(School, school_id).source_school_id  # type: ignore[union-attr]
    source.failing[source_id] = SourceRefused("Basispoort answered 403")
    send_nightly(school_id, utcnow())
    drain()
    assert [r.outcome for r in runs_of(sessions, school_id)] == ["failed"]
    assert len(stub_broker.dead_letters) == 1


def test_a_message_for_a_leased_school_waits_and_starts_no_second_run(
    worker: Worker,
    stub_broker: StubBroker,
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "lease_seconds", 1)  # a deferral waits a second
    school_id = linked_school(sessions)
    with sessions() as s:
        other = lease.acquire(s, school_id, "another-worker", 3600)  # held until released
    send_now(school_id)
    deferred = stub_broker.queues[dq_name(queues.SYNC_NOW)]
    while deferred.unfinished_tasks == 0:  # the worker found the lease taken and deferred
        time.sleep(0.02)
    # The other worker finishes its run and lets go while our message waits.
    with sessions() as s:
        s.add(SyncRun(school_id=school_id, outcome="succeeded", worker="another-worker"))
        s.commit()
        lease.release(s, other)
    drain()
    assert [r.worker for r in runs_of(sessions, school_id)] == ["another-worker"]


def test_a_crashed_holder_is_waited_out_and_its_run_marked_abandoned(
    worker: Worker, sessions: sessionmaker[Session]
) -> None:
    school_id = linked_school(sessions)
    with sessions() as s:
        # A worker took the lease, started a run and was killed: both stay behind.
        lease.acquire(s, school_id, "killed-worker", 1)
        s.add(SyncRun(school_id=school_id, outcome="running", worker="killed-worker"))
        s.commit()
    send_nightly(school_id, utcnow() - timedelta(minutes=5))
    drain()
    crashed, redone = runs_of(sessions, school_id)
    assert crashed.outcome == "failed" and "abandoned" in (crashed.error or "")
    assert redone.outcome == "succeeded"
    assert pupils_of(sessions, school_id) == 5


def test_a_worker_whose_lease_was_taken_commits_nothing(
    worker: Worker, stub_broker: StubBroker, sessions: sessionmaker[Session], plugins
) -> None:  # type: ignore[no-untyped-def]
    school_id = linked_school(sessions)

    def successor_takes_over() -> None:
        # As if this worker stalled past its lease: a successor's lease replaces it.
        with sessions() as s:
            s.execute(
                update(School)
                .where(School.id == school_id)
                .values(lease_owner="successor", lease_token=School.lease_token + 1)
            )
            s.commit()

    plugin = plugins.pm.get_plugins().pop()
    plugin.on_before = successor_takes_over
    send_nightly(school_id, utcnow())
    drain()
    runs = runs_of(sessions, school_id)
    assert [r.outcome for r in runs] == ["failed"]
    assert "lease" in (runs[0].error or "")
    assert pupils_of(sessions, school_id) == 0  # the apply was rolled back
    assert stub_broker.dead_letters == []  # the successor does the work: nothing to retry


def test_sync_now_goes_ahead_of_the_nightly_backlog(
    stub_broker: StubBroker, sessions: sessionmaker[Session], plugins
) -> None:  # type: ignore[no-untyped-def]
    from workers.inprocess import in_process_worker

    backlog = [linked_school(sessions) for _ in range(6)]
    urgent = linked_school(sessions)
    night = utcnow()
    for school_id in backlog:
        send_nightly(school_id, night)
    send_now(urgent)
    with in_process_worker(threads=1):
        drain()
    with sessions() as s:
        order = list(
            s.scalars(
                select(SyncRun.school_id)
                .where(SyncRun.school_id.in_([*backlog, urgent]))
                .order_by(SyncRun.id)
            )
        )
    assert sorted(order) == sorted([*backlog, urgent])
    # At most the one nightly message already in hand runs before it; in queue order it
    # would have been last.
    assert order.index(urgent) <= 1


def test_a_run_that_outlived_its_lease_with_no_successor_is_tried_again(
    worker: Worker, stub_broker: StubBroker, sessions: sessionmaker[Session], plugins
) -> None:  # type: ignore[no-untyped-def]
    school_id = linked_school(sessions)
    stalls = [True]

    def lease_runs_out() -> None:
        if stalls and stalls.pop():  # the first run stalls past its lease; nobody takes over
            with sessions() as s:
                s.execute(
                    update(School)
                    .where(School.id == school_id)
                    .values(lease_expires_at=utcnow() - timedelta(seconds=1))
                )
                s.commit()

    plugins.pm.get_plugins().pop().on_before = lease_runs_out
    send_nightly(school_id, utcnow())
    drain()
    assert [r.outcome for r in runs_of(sessions, school_id)] == ["failed", "succeeded"]
    assert pupils_of(sessions, school_id) == 5
    assert stub_broker.dead_letters == []


def test_a_sync_longer_than_its_lease_renews_it_and_commits(
    worker: Worker,
    stub_broker: StubBroker,
    sessions: sessionmaker[Session],
    source: SchoolsSource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "lease_seconds", 3)  # renewed every second
    school_id = linked_school(sessions)
    fetch = source.fetch_snapshot
    expiries = []

    def lease_expiry() -> datetime:
        with sessions() as s:
            found = s.scalar(select(School.lease_expires_at).where(School.id == school_id))
            assert found is not None, "the sync holds the lease"
            return found

    def fetch_past_the_lease(source_school_id: str) -> SchoolSnapshot:
        # A slow source: the fetch outlasts the lease the sync took for it.
        expiries.append(lease_expiry())
        wait_for("the first expiry", lambda: utcnow() > expiries[0], timeout=10, every=0.1)
        wait_for("a renewal", lambda: lease_expiry() > expiries[0], timeout=5)
        return fetch(source_school_id)

    monkeypatch.setattr(source, "fetch_snapshot", fetch_past_the_lease)
    send_nightly(school_id, utcnow())
    drain()
    assert [r.outcome for r in runs_of(sessions, school_id)] == ["succeeded"]
    assert pupils_of(sessions, school_id) == 5
