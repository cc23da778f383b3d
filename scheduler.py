"""The nightly scheduler: every school with consent gets one sync message per night, spread out.

The night's window (01:00-05:00 Europe/Amsterdam by default) is cut into slots; each school has
a fixed slot (a hash of its id), so the load is even and a school syncs at about the same time
every night. A slot is claimed with a row in ``scheduler_tick`` (unique per job and tick) in the
same transaction that publishes its messages: a second scheduler replica cannot claim it, and if
the claimant dies before committing, the claim rolls back and the slot is sent again (the
repeats are settled by the first run; see workers/sync.py). Only the latest night is looked at,
so after downtime the slots that were missed are sent once, right away, and older nights never.
"""

from __future__ import annotations

import hashlib
import math
import os
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog
from dramatiq.errors import BrokerConnectionError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.models import SchedulerTick, School, utcnow
from core.settings import Settings

log = structlog.get_logger()

JOB = "nightly"

Send = Callable[[int, datetime], object]
# Sends a whole slot at once and returns how many RabbitMQ has taken (workers/enqueue.py's
# send_nightly_many): one round trip per batch instead of one per school.
SendMany = Callable[[Sequence[int], datetime], int]

# Once-a-day work (the consent sweep and the purge, workers/lifecycle.py), sent at the start of
# each night under its own claimed tick, so two replicas send it once.
DAILY_JOB = "lifecycle"
SendDaily = Callable[[date], object]


class SchedulerMetrics:
    """Prometheus instruments of the scheduler ('koppel scheduler --metrics-port' serves them)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.nights = Counter("koppel_scheduler_nights", "Nights whose daily work was sent here.")
        self.slots = Counter(
            "koppel_scheduler_slots",
            "Slots claimed by this scheduler, by result: sent, claimed_elsewhere, failed.",
            ["result"],
        )
        self.messages = Counter("koppel_scheduler_messages", "Nightly sync messages sent.")
        self.lateness = Histogram(
            "koppel_scheduler_slot_lateness_seconds",
            "How long after its start a slot was sent; a catch-up after downtime shows here.",
            buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600),
        )
        self.late = Counter(
            "koppel_scheduler_slots_late", "Slots sent more than one slot length after their start."
        )
        self.polls = Counter("koppel_scheduler_polls", "Polls, by result: ok, failed.", ["result"])


@cache
def scheduler_metrics() -> SchedulerMetrics:
    # Once per process: a second scheduler (tests) must not register the same names again.
    return SchedulerMetrics()


@dataclass(frozen=True, slots=True)
class Night:
    """One night's window in UTC, cut into slots of ``slot_seconds``."""

    key: str  # the local date the window starts on, e.g. "2026-11-29"
    start: datetime
    end: datetime
    slot_seconds: float

    @property
    def slots(self) -> int:
        return max(1, math.ceil((self.end - self.start).total_seconds() / self.slot_seconds))

    def slot_of(self, school_id: int) -> int:
        """The school's slot: fixed per school, evenly spread over the window."""
        digest = hashlib.blake2b(str(school_id).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.slots

    def slot_start(self, slot: int) -> datetime:
        return self.start + timedelta(seconds=slot * self.slot_seconds)

    def due_slots(self, now: datetime) -> range:
        """Slots whose time has come by ``now`` (all of them once the window is over)."""
        if now < self.start:
            return range(0)
        passed = int((now - self.start).total_seconds() // self.slot_seconds) + 1
        return range(min(passed, self.slots))

    def tick(self, slot: int) -> str:
        return f"{self.key}#{slot:04d}"


@dataclass(frozen=True, slots=True)
class Window:
    """The nightly window in local time; an end at or before the start means the next day."""

    start: time
    end: time
    zone: ZoneInfo
    slot_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Window:
        zone = settings.zone
        return cls(
            start=time.fromisoformat(settings.scheduler_window_start),
            end=time.fromisoformat(settings.scheduler_window_end),
            zone=zone,
            slot_seconds=settings.scheduler_slot_seconds,
        )

    def night_of(self, now: datetime) -> Night:
        """The latest night whose window started at or before ``now``."""
        local_day = now.astimezone(self.zone).date()
        for day in (local_day, local_day - timedelta(days=1)):
            night = self._night(day)
            if night.start <= now:
                return night
        raise AssertionError("a window starts every day")  # pragma: no cover

    def _night(self, day: date) -> Night:
        start = datetime.combine(day, self.start, tzinfo=self.zone)
        end_day = day if self.end > self.start else day + timedelta(days=1)
        end = datetime.combine(end_day, self.end, tzinfo=self.zone)
        # Across a DST change the window is an hour shorter or longer; UTC keeps it honest.
        return Night(day.isoformat(), start.astimezone(UTC), end.astimezone(UTC), self.slot_seconds)


def scheduler_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class NightlyScheduler:
    """Claims due slots of the current night and sends their schools; one ``run_once`` per poll."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        window: Window,
        send: Send,
        *,
        name: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        daily: SendDaily | None = None,
        send_many: SendMany | None = None,
    ) -> None:
        self.sessions = sessions
        self.window = window
        self.send = send
        self.send_many = send_many
        self.name = name or scheduler_id()
        self.clock = clock
        self.daily = daily
        self._daily_done = ""  # the night whose daily work is known sent
        self._claimed: tuple[str, set[int]] = ("", set())  # slots known taken, for one night
        self.metrics = scheduler_metrics()

    def run_once(self) -> int:
        """Send every due, unclaimed slot of the current night; returns messages sent."""
        now = self.clock()
        night = self.window.night_of(now)
        due = night.due_slots(now)
        if not due:
            return 0
        if self.daily is not None and self._daily_done != night.key:
            self._claim_daily(night)
        taken = self._taken_slots(night)
        open_slots = [slot for slot in due if slot not in taken]
        if not open_slots:
            return 0
        with self.sessions() as session:
            by_slot: dict[int, list[int]] = {}
            for school_id in eligible_school_ids(session):
                by_slot.setdefault(night.slot_of(school_id), []).append(school_id)
        sent = 0
        # A catch-up (after downtime, or the first start in a night) sends many slots at
        # once: one line for all of them, not one per slot.
        catching_up = len(open_slots) > 1
        for slot in open_slots:
            sent += self._claim_and_send(night, slot, by_slot.get(slot, []), quiet=catching_up)
            taken.add(slot)
        if catching_up:
            log.info("slots_caught_up", night=night.key, slots=len(open_slots), schools=sent)
        return sent

    def run(
        self, stop: threading.Event, poll_seconds: float, heartbeat: Path | None = None
    ) -> None:
        """Poll until ``stop`` is set; a failed poll is logged and tried again next time."""
        log.info("scheduler_started", scheduler=self.name, slot_seconds=self.window.slot_seconds)
        while not stop.is_set():
            try:
                self.run_once()
                if heartbeat is not None:
                    heartbeat.touch()  # the container's health check reads its age
                self.metrics.polls.labels(result="ok").inc()
            except (BrokerConnectionError, OperationalError) as exc:
                # RabbitMQ or the database is away: one line per poll, not a traceback.
                log.error("scheduler_poll_failed", error=f"{type(exc).__name__}: {exc}")
                self.metrics.polls.labels(result="failed").inc()
            except Exception:
                log.exception("scheduler_poll_failed")
                self.metrics.polls.labels(result="failed").inc()
            stop.wait(poll_seconds)
        log.info("scheduler_stopped", scheduler=self.name)

    def _claim_daily(self, night: Night) -> None:
        assert self.daily is not None
        with self.sessions() as session:
            session.add(SchedulerTick(job=DAILY_JOB, tick=night.key, claimed_by=self.name))
            try:
                session.flush()
            except IntegrityError:
                session.rollback()  # another replica sent it
            else:
                self.daily(date.fromisoformat(night.key))  # a failure unclaims: sent next poll
                session.commit()
                log.info("daily_sent", night=night.key)
                self.metrics.nights.inc()
        self._daily_done = night.key

    def _taken_slots(self, night: Night) -> set[int]:
        key, known = self._claimed
        if key != night.key:
            with self.sessions() as session:
                ticks = session.scalars(
                    select(SchedulerTick.tick).where(
                        SchedulerTick.job == JOB, SchedulerTick.tick.like(f"{night.key}#%")
                    )
                )
                known = {int(tick.rsplit("#", 1)[1]) for tick in ticks}
            self._claimed = (night.key, known)
        return known

    def _claim_and_send(
        self, night: Night, slot: int, school_ids: list[int], *, quiet: bool = False
    ) -> int:
        with self.sessions() as session:
            claim = SchedulerTick(job=JOB, tick=night.tick(slot), claimed_by=self.name)
            session.add(claim)
            try:
                # On PostgreSQL a rival's insert of the same tick waits here for our commit.
                session.flush()
            except IntegrityError:
                session.rollback()
                log.info("slot_claimed_elsewhere", night=night.key, slot=slot)
                self.metrics.slots.labels(result="claimed_elsewhere").inc()
                return 0
            try:
                sent = self._send_slot(school_ids, night.start)
            except Exception:
                # Unclaim the slot: the next poll sends it whole; repeats are settled no-ops.
                session.rollback()
                log.warning("slot_send_failed", night=night.key, slot=slot, schools=len(school_ids))
                self.metrics.slots.labels(result="failed").inc()
                raise
            claim.enqueued = sent
            session.commit()
        self._count_sent(night, slot, sent)
        (log.debug if quiet else log.info)(
            "slot_sent", night=night.key, slot=slot, slots=night.slots, schools=sent
        )
        return sent

    def _count_sent(self, night: Night, slot: int, sent: int) -> None:
        late = (self.clock() - night.slot_start(slot)).total_seconds()
        self.metrics.slots.labels(result="sent").inc()
        self.metrics.messages.inc(sent)
        self.metrics.lateness.observe(max(late, 0.0))
        if late > night.slot_seconds:
            self.metrics.late.inc()

    def _send_slot(self, school_ids: list[int], night_start: datetime) -> int:
        """Send every school of a slot; returns how many were sent, or raises."""
        if self.send_many is not None:
            return self.send_many(school_ids, night_start)
        for school_id in school_ids:
            self.send(school_id, night_start)
        return len(school_ids)


def eligible_school_ids(session: Session) -> list[int]:
    """Ids of schools to sync tonight: consent granted, active, not merged into another."""
    return list(session.scalars(select(School.id).where(School.syncable).order_by(School.id)))
