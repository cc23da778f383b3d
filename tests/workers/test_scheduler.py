"""The nightly scheduler: the window, its slots, claims, catching up, and failed sends."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from core import migrate
from core.db import make_engine, make_sessionmaker
from core.errors import ConfigError
from core.models import SchedulerTick, School
from core.settings import load_settings
from scheduler import JOB, NightlyScheduler, Window, eligible_school_ids
from tests.conftest import BACKENDS, fresh_database_url
from tests.workers.factories import add_school

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def window(start: str = "01:00", end: str = "05:00", slot: float = 60) -> Window:
    return Window(time.fromisoformat(start), time.fromisoformat(end), AMSTERDAM, slot)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=AMSTERDAM)


def test_the_night_is_the_latest_window_that_has_started() -> None:
    nightly = window()
    assert nightly.night_of(local("2026-11-29T00:30")).key == "2026-11-28"
    night = nightly.night_of(local("2026-11-29T01:00"))
    assert night.key == "2026-11-29"
    assert night.start == datetime(2026, 11, 29, 0, 0, tzinfo=UTC)  # 01:00 CET
    assert night.slots == 240


def test_a_window_across_midnight_ends_the_next_day() -> None:
    night = window("23:00", "02:00").night_of(local("2026-11-30T01:00"))
    assert night.key == "2026-11-29"
    assert night.end - night.start == timedelta(hours=3)


def test_daylight_saving_changes_shorten_and_lengthen_the_window() -> None:
    spring = window().night_of(local("2026-03-29T06:00"))
    autumn = window().night_of(local("2026-10-25T06:00"))
    assert spring.end - spring.start == timedelta(hours=3)
    assert autumn.end - autumn.start == timedelta(hours=5)


def test_slots_come_due_one_by_one_and_all_once_the_window_is_over() -> None:
    night = window(slot=60).night_of(local("2026-11-29T01:00"))
    assert list(night.due_slots(night.start - timedelta(seconds=1))) == []
    assert list(night.due_slots(night.start)) == [0]
    assert list(night.due_slots(night.start + timedelta(minutes=2, seconds=5))) == [0, 1, 2]
    assert len(night.due_slots(night.end + timedelta(hours=3))) == 240


def test_schools_are_spread_evenly_and_keep_their_slot() -> None:
    night = window(slot=60).night_of(local("2026-11-29T01:00"))
    per_slot = Counter(night.slot_of(school_id) for school_id in range(1, 24_001))
    assert len(per_slot) == 240
    assert max(per_slot.values()) < 2 * 100  # 100 per slot on average
    tomorrow = window(slot=60).night_of(local("2026-11-30T01:00"))
    assert tomorrow.slot_of(4242) == night.slot_of(4242)


def test_window_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="KOPPEL_SCHEDULER_WINDOW_START"):
        load_settings(scheduler_window_start="1am")
    with pytest.raises(ConfigError, match="KOPPEL_SCHEDULER_TIMEZONE"):
        Window.from_settings(load_settings(scheduler_timezone="Mars/Olympus"))
    assert Window.from_settings(load_settings()).zone.key == "Europe/Amsterdam"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module", params=BACKENDS)
def own_database(request, tmp_path_factory) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    """A database of this module's own: the scheduler sends every school it holds."""
    engine = make_engine(fresh_database_url(request.param, tmp_path_factory.mktemp("sched")))
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(own_database: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(own_database)


@pytest.fixture
def schools(session_factory: sessionmaker[Session]) -> list[int]:
    """Eight consented schools and one without consent, alone in the database."""
    with session_factory() as s:
        s.execute(delete(SchedulerTick))
        s.execute(delete(School))
        ids = [add_school(s).id for _ in range(8)]
        add_school(s, consent="revoked")
        s.commit()
    return ids


def test_two_schedulers_send_each_school_once_over_the_night(
    session_factory: sessionmaker[Session], schools: list[int]
) -> None:
    nightly = window(slot=600)  # 24 slots
    clock = Clock(local("2026-11-29T01:00"))
    sent: list[tuple[str, int]] = []
    replicas = [
        NightlyScheduler(
            session_factory, nightly, lambda sid, _s, n=n: sent.append((n, sid)), clock=clock
        )
        for n in ("a", "b")
    ]
    while clock.now < local("2026-11-29T05:30"):
        for replica in replicas:
            replica.run_once()
        clock.now += timedelta(minutes=7)
    assert sorted(sid for _, sid in sent) == sorted(schools)
    with session_factory() as s:
        ticks = list(s.scalars(select(SchedulerTick).where(SchedulerTick.job == JOB)))
    assert sum(t.enqueued for t in ticks) == len(schools)
    assert all(t.tick.startswith("2026-11-29#") for t in ticks)


def test_after_downtime_the_missed_night_is_sent_once_and_older_ones_never(
    session_factory: sessionmaker[Session], schools: list[int]
) -> None:
    sent: list[int] = []
    clock = Clock(local("2026-11-29T09:00"))  # down for days, back after the window
    scheduler = NightlyScheduler(session_factory, window(), lambda sid, _s: sent.append(sid))
    scheduler.clock = clock
    assert scheduler.run_once() == len(schools)
    assert scheduler.run_once() == 0
    restarted = NightlyScheduler(session_factory, window(), lambda sid, _s: sent.append(sid))
    restarted.clock = clock
    assert restarted.run_once() == 0  # the claims are in the database, not in memory
    assert sorted(sent) == sorted(schools)
    with session_factory() as s:
        nights = {t.split("#")[0] for t in s.scalars(select(SchedulerTick.tick))}
    assert nights == {"2026-11-29"}


def test_a_slot_whose_send_failed_is_sent_whole_on_the_next_poll(
    session_factory: sessionmaker[Session], schools: list[int]
) -> None:
    sent: list[int] = []
    broken = {"left": 1}

    def send(school_id: int, _since: datetime) -> None:
        if len(sent) == 3 and broken["left"]:
            broken["left"] -= 1
            raise ConnectionError("RabbitMQ did not confirm")
        sent.append(school_id)

    single_slot = window("01:00", "01:01", slot=60)  # every school in one slot
    scheduler = NightlyScheduler(session_factory, single_slot, send)
    scheduler.clock = Clock(local("2026-11-29T02:00"))
    with pytest.raises(ConnectionError):
        scheduler.run_once()
    with session_factory() as s:
        assert s.scalars(select(SchedulerTick)).all() == []  # the claim was rolled back
    assert scheduler.run_once() == len(schools)
    # The three sent before the failure go again: the worker finds them settled.
    assert Counter(sent) == Counter(schools[:3] * 2 + schools[3:])


def test_replicas_racing_for_the_same_slots_send_each_school_once(
    session_factory: sessionmaker[Session], schools: list[int]
) -> None:
    sent: list[int] = []
    lock = threading.Lock()

    def send(school_id: int, _since: datetime) -> None:
        with lock:
            sent.append(school_id)

    clock = Clock(local("2026-11-29T06:00"))
    replicas = [NightlyScheduler(session_factory, window(slot=300), send) for _ in range(3)]
    for replica in replicas:
        replica.clock = clock
    threads = [threading.Thread(target=r.run_once) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(sent) == sorted(schools)


def test_only_active_consented_unmerged_schools_are_sent(db: Session) -> None:
    wanted = add_school(db)
    add_school(db, consent="none")
    add_school(db, active=False)
    merged = add_school(db)
    merged.merged_into_source_id = "123"
    db.flush()
    found = eligible_school_ids(db)
    assert wanted.id in found and merged.id not in found
