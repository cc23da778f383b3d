"""PostgreSQL going down in the middle of a sync: retried like any outage, the run closed with
its reason once the database is back. The outage is a cut proxy in front of the real server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import lease
from core.db import make_engine, make_sessionmaker
from core.models import School, utcnow
from core.plugins import Plugins
from core.snapshot import SchoolSnapshot
from tests.deploy.processes import wait_for
from tests.tcp_proxy import TcpProxy, proxied_database
from tests.workers.factories import SchoolsSource, linked_school, runs_of
from workers import actors, queues
from workers.database import PING_AFTER_IDLE_SECONDS, set_session_factory
from workers.inprocess import drain, make_worker, stop_worker

pytestmark = pytest.mark.postgres


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[TcpProxy, sessionmaker[Session]]]:
    """A database of its own, reached by the workers through a proxy the test can cut."""
    with proxied_database(tmp_path) as (proxy, via):
        engine = make_engine(via, ping_after_idle=PING_AFTER_IDLE_SECONDS)  # as workers have it
        factory = make_sessionmaker(engine)
        set_session_factory(factory)
        try:
            yield proxy, factory
        finally:
            set_session_factory(None)
            engine.dispose()


def test_an_outage_mid_sync_is_retried_and_the_run_gets_its_reason(
    stub_broker: StubBroker,
    proxied: tuple[TcpProxy, sessionmaker[Session]],
    plugins: Plugins,
    source: SchoolsSource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy, sessions = proxied
    school_id = linked_school(sessions)
    fetch = source.fetch_snapshot

    def fetch_while_the_database_goes_down(source_school_id: str) -> SchoolSnapshot:
        snapshot = fetch(source_school_id)
        if source.called("fetch_snapshot") == 1:
            proxy.cut()  # down before the apply, and still down when the failure is recorded
        return snapshot

    monkeypatch.setattr(source, "fetch_snapshot", fetch_while_the_database_goes_down)
    worker = make_worker(threads=1)
    worker.start()
    try:
        actors.sync_school.send_with_options(
            kwargs={"school_id": school_id, "since": (utcnow() - timedelta(minutes=1)).isoformat()},
            min_backoff=300,
            max_backoff=1000,
        )
        retry = stub_broker.queues[dq_name(queues.SYNC_NIGHTLY)]
        wait_for(
            "the failed attempt to end",
            lambda: retry.unfinished_tasks > 0 or stub_broker.dead_letters,
            timeout=30,
        )
        proxy.restore()
        drain(timeout_seconds=60)
    finally:
        stop_worker(worker, timeout_seconds=10)

    assert stub_broker.dead_letters == []  # retried, not given up
    failed, done = runs_of(sessions, school_id)
    assert (failed.outcome, done.outcome) == ("failed", "succeeded")
    # The failure could not be written while the database was down: the retry wrote it.
    assert failed.error and "OperationalError" in failed.error, failed.error
    assert "recorded by the next attempt" in failed.error
    assert failed.finished_at is not None
    with sessions() as s:
        school = s.get(School, school_id)
        assert school is not None and school.lease_owner is None


@pytest.mark.usefixtures("stub_broker", "plugins", "source")
def test_a_lease_whose_release_met_the_outage_is_given_back_at_the_next_chance(
    proxied: tuple[TcpProxy, sessionmaker[Session]], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy, sessions = proxied
    first, second = linked_school(sessions), linked_school(sessions)
    release = lease.release
    cut: list[int] = []

    def release_as_the_database_goes_down(session: Session, held: lease.Lease) -> bool:
        if not cut:  # the first sync's release only; the sync itself was stored
            cut.append(held.school_id)
            proxy.cut()
        return release(session, held)

    monkeypatch.setattr(lease, "release", release_as_the_database_goes_down)

    def lease_owner(school_id: int) -> str | None:
        with sessions() as s:
            return s.scalar(select(School.lease_owner).where(School.id == school_id))

    worker = make_worker(threads=1)
    worker.start()
    try:
        actors.sync_school.send(first)
        drain(timeout_seconds=60)
        proxy.restore()
        assert cut == [first] and lease_owner(first) is not None  # kept by the outage
        actors.sync_school.send(second)  # the next chance
        drain(timeout_seconds=60)
    finally:
        stop_worker(worker, timeout_seconds=10)

    assert [r.outcome for r in runs_of(sessions, first)] == ["succeeded"]
    assert [r.outcome for r in runs_of(sessions, second)] == ["succeeded"]
    assert lease_owner(first) is None and lease_owner(second) is None
