"""The daily jobs: the scheduler sends them once a night; the actors sweep consent and purge."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_sessionmaker
from core.hookspecs import hookimpl
from core.models import Pupil, School, SyncRun
from core.plugins import Plugins, make_plugin_manager, set_plugins
from core.snapshot import ConsentChanges
from scheduler import NightlyScheduler, Window
from tests.kit.memory_source import DAY, SCHOOL, MemorySource, MemoryUpstream
from tests.safety.conftest import BasispoortPlugin, unlink
from workers.broker import broker
from workers.database import set_session_factory
from workers.inprocess import drain, make_worker, stop_worker
from workers.lifecycle import consent_sweep, purge_revoked, send_daily

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def test_the_daily_jobs_are_sent_once_a_night_by_any_number_of_schedulers(db_engine: Engine):
    sessions = make_sessionmaker(db_engine)
    # A night of its own: ticks stay in the shared test database.
    day = date(2400, 1, 1) + timedelta(days=random.randrange(300_000))
    now = datetime.combine(day, time(1, 30), tzinfo=AMSTERDAM).astimezone(UTC)
    window = Window(time(1, 0), time(5, 0), AMSTERDAM, 60)
    sent: list[tuple[str, date]] = []

    def scheduler(name: str, clock: list[datetime]) -> NightlyScheduler:
        return NightlyScheduler(
            sessions,
            window,
            lambda school_id, start: None,
            name=name,
            clock=lambda: clock[0],
            daily=lambda night: sent.append((name, night)),
        )

    clock = [now]
    first, second = scheduler("s1", clock), scheduler("s2", clock)
    first.run_once()
    second.run_once()
    first.run_once()
    assert sent == [("s1", day)]

    clock[0] = now + timedelta(days=1)
    second.run_once()
    first.run_once()
    assert sent == [("s1", day), ("s2", day + timedelta(days=1))]


def test_a_failed_daily_send_is_sent_again_next_poll(db_engine: Engine):
    sessions = make_sessionmaker(db_engine)
    day = date(2400, 1, 1) + timedelta(days=random.randrange(300_000))
    now = datetime.combine(day, time(1, 30), tzinfo=AMSTERDAM).astimezone(UTC)
    calls: list[date] = []

    def flaky(night: date) -> None:
        calls.append(night)
        if len(calls) == 1:
            raise ConnectionError("broker away")

    nightly = NightlyScheduler(
        sessions,
        Window(time(1, 0), time(5, 0), AMSTERDAM, 60),
        lambda school_id, start: None,
        clock=lambda: now,
        daily=flaky,
    )
    with pytest.raises(ConnectionError):
        nightly.run_once()
    nightly.run_once()
    nightly.run_once()
    assert calls == [day, day]


@pytest.fixture
def worker_on(db_engine: Engine, sim_plugins: Plugins) -> Iterator[sessionmaker[Session]]:
    """An in-process worker on the stub broker, this backend's database and the simulator."""
    assert isinstance(broker, StubBroker)
    broker.flush_all()
    sessions = make_sessionmaker(db_engine)
    set_session_factory(sessions)
    set_plugins(sim_plugins)
    running = make_worker(threads=1)
    running.start()
    try:
        yield sessions
    finally:
        stop_worker(running, timeout_seconds=10)
        set_plugins(None)
        set_session_factory(None)
        broker.flush_all()


def test_the_actors_link_and_sync_a_grant_then_purge_a_revocation(worker_on, sim_world):
    sessions = worker_on
    granting = sim_world.find("no_consent")
    with sessions() as s:
        unlink(s, sim_world, granting)
    sim_world.set_consent(granting, True)

    consent_sweep.send(sim_world.today.isoformat())
    drain()

    with sessions() as s:
        school = s.scalars(select(School).where(School.source_school_id == str(granting))).one()
        runs = s.scalars(select(SyncRun).where(SyncRun.school_id == school.id)).all()
        assert school.consent == "granted"
        assert [(r.trigger, r.outcome) for r in runs] == [("now", "succeeded")]
        school_id = school.id

    sim_world.set_consent(granting, False)
    consent_sweep.send(sim_world.today.isoformat())
    purge_revoked.send()
    drain()

    with sessions() as s:
        assert s.get(School, school_id).consent == "revoked"
        names = s.scalars(
            select(Pupil.last_name).where(
                Pupil.school_id == school_id, Pupil.last_name.is_not(None)
            )
        ).all()
        assert names == []
        assert s.scalar(select(Pupil.id).where(Pupil.school_id == school_id).limit(1)) is not None
    assert not broker.dead_letters


class MemorySources:
    """A second installed source with a consent feed, beside Basispoort, whose feed lists
    its grants on ``day``."""

    def __init__(self, upstream: MemoryUpstream, day: date) -> None:
        self.source = MemorySource(upstream)
        self.day = day

    @hookimpl
    def koppel_register_identity_sources(self, register):
        class ListedOn(MemorySource):
            def consent_changes(inner, day: date) -> ConsentChanges:
                return super().consent_changes(DAY if day == self.day else day)

        register(ListedOn(self.source.upstream))


def test_the_nightly_sweep_asks_every_source_with_a_consent_feed(worker_on, sim_world, sim_plugins):
    sessions = worker_on
    granting = sim_world.find("no_consent")
    upstream = MemoryUpstream()
    upstream.consent = False
    with sessions() as s:
        unlink(s, sim_world, granting)
        for old in s.scalars(select(School).where(School.brin == upstream.brin6[:4])):
            old.brin, old.source_school_id = "ZZ" + old.brin[2:], f"old-{old.id}"
        s.commit()
    sim_world.set_consent(granting, True)
    upstream.set_consent(True)
    basispoort = sim_plugins.source("basispoort")
    set_plugins(
        Plugins(
            make_plugin_manager(
                entry_points=False,
                extra=[BasispoortPlugin(basispoort), MemorySources(upstream, sim_world.today)],
            )
        )
    )

    send_daily(sim_world.today)  # what the scheduler sends at the start of a night
    drain()

    with sessions() as s:
        linked = {
            (school.source, school.source_school_id): school.consent
            for school in s.scalars(
                select(School).where(
                    ((School.source == "memory") & (School.source_school_id == SCHOOL))
                    | ((School.source == "basispoort") & (School.source_school_id == str(granting)))
                )
            )
        }
    # Before, only Basispoort was swept: the memory source's grant waited for a 'koppel check'.
    assert linked == {("memory", SCHOOL): "granted", ("basispoort", str(granting)): "granted"}
    assert not broker.dead_letters
