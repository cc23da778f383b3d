"""One chaotic night on the private servers, and what must hold after it whatever happened.

Every consenting school settled by exactly one good run, the poison school failed with a reason
and dead-lettered once, nothing left running or leased, no two runs of a school at once, every
school's stored people and groups exactly what the simulator serves, nothing left in the queues.
"""

from __future__ import annotations

import random
import signal
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

from pika.exceptions import AMQPError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.export import export_school
from core.models import SchedulerTick, School, SyncRun
from plugins.basispoort.source import BasispoortSource
from tests.chaos.servers import PrivateServers
from tests.deploy.compose import compose_command
from tests.deploy.nights import Deployment, window_env, worker_command
from tests.deploy.processes import Service, wait_for
from tests.sync.expect import expected_people, people_of

# Scale: a few dozen schools of 20 to MAX_PUPILS pupils, a night of WINDOW_SECONDS slots (most
# of them due by the time the scheduler is up).
SCHOOLS = 30
MAX_PUPILS = 40
SEED = 12
WINDOW_SECONDS = 4
# Every overview answers this much later, so that syncs are in flight when the chaos strikes.
FETCH_SECONDS = 0.4
# The worker's retries of a school whose source (or database) was down: their backoff (dramatiq
# doubles it per retry, with jitter, up to the maximum: at least 1 + 1.5 + 1.5 s) outlasts an
# outage of OUTAGE_SECONDS.
MAX_RETRIES = 3
MIN_BACKOFF_SECONDS = 1
MAX_BACKOFF_SECONDS = 3
OUTAGE_SECONDS = 3
LEASE_SECONDS = 10
# How long a night may take to settle, chaos included (a healthy one takes about ten seconds).
SETTLE_SECONDS = 60

GOOD = ("succeeded", "unchanged")
T = TypeVar("T")
# The simulator's requests of one sync (workers fetch details, then the overview).
DATA_PATHS = (r"/instellingen/{id}/details$", r"/instellingen/{id}$")


@dataclass
class ChaosNight(Deployment):
    """A deployment (tests/deploy) on the private servers, with a poison school and helpers."""

    servers: PrivateServers = field(kw_only=True)
    source: BasispoortSource = field(kw_only=True)
    start: Callable[[str, list[str], Mapping[str, str]], Service] = field(kw_only=True)
    logs: Path = field(kw_only=True)
    poison: int = 0  # koppel school id of the school whose data never arrives
    started: list[Service] = field(default_factory=list)
    killed: list[Service] = field(default_factory=list)

    @property
    def healthy(self) -> dict[int, int]:
        return {k: s for k, s in self.consented.items() if k != self.poison}

    # -- the night's processes ------------------------------------------------------------------

    def worker(self, name: str, processes: int = 1, threads: int = 2) -> Service:
        args = worker_command(
            processes=str(processes), threads=str(threads), heartbeat_file=str(self.logs / name)
        )
        return self._start(name, args)

    def scheduler(self) -> Service:
        beat = str(self.logs / "scheduler-alive")
        env = window_env(WINDOW_SECONDS)
        return self._start("scheduler", compose_command("scheduler", heartbeat_file=beat), env)

    def _start(self, name: str, args: list[str], extra: Mapping[str, str] = {}) -> Service:
        service = self.start(name, args, {**self.env, **extra})
        self.started.append(service)
        return service

    def kill(self, service: Service) -> None:
        service.kill()
        self.killed.append(service)

    # -- upstream faults --------------------------------------------------------------------------

    def poison_school(self) -> None:
        """One school's overview always answers 503: every attempt fails, then a dead letter."""
        self.poison = next(iter(self.consented))
        sim_id = self.consented[self.poison]
        self.fault(DATA_PATHS[1].format(id=sim_id), "5xx", times=1_000_000)

    def faulty_upstream(self, share: float, kinds: tuple[str, ...], seed: int = 1) -> int:
        """Make ``share`` of the (school, request) pairs answer with one of ``kinds``, each
        kind once, then twice in a row (outlasting the client's one retry, so that the
        worker's own retry is needed), and so on. Returns how many faulty answers wait.
        """
        pairs = [(sim_id, path) for sim_id in self.healthy.values() for path in DATA_PATHS]
        chosen = random.Random(seed).sample(pairs, round(share * len(pairs)))
        faulty = 0
        for n, (sim_id, path) in enumerate(chosen):
            times = 1 + n // len(kinds) % 2
            self.fault(path.format(id=sim_id), kinds[n % len(kinds)], times=times)
            faulty += times
        return faulty

    def stall(self, seconds: float) -> int:
        """The next fetch of one school's overview answers after ``seconds``; returns its id."""
        school_id = next(iter(self.healthy))
        path = DATA_PATHS[1].format(id=self.healthy[school_id])
        self.fault(path, "slow", times=1, seconds=seconds)
        return school_id

    def slow_fetches(self) -> None:
        self.fault(DATA_PATHS[1].format(id=r"\d+"), "slow", times=1_000_000, seconds=FETCH_SECONDS)

    # -- waiting ----------------------------------------------------------------------------------

    def probe(self, check: Callable[[], T]) -> Callable[[], T | None]:
        """``check``, made safe to poll while the database is down; fails when a process died."""

        def probing() -> T | None:
            for service in self.started:
                if service not in self.killed and not service.alive():
                    raise AssertionError(
                        f"{service.name} died during the night\n{service.output()}"
                    )
            try:
                return check()
            except (SQLAlchemyError, AMQPError):
                return None  # the server being restarted: ask again

        return probing

    def wait_mid_night(self) -> None:
        """Until a quarter of the schools are done and a sync is running."""

        def mid_night() -> bool:
            runs = self.runs()
            good = sum(1 for r in runs if r.outcome in GOOD)
            return good >= len(self.healthy) // 4 and any(r.outcome == "running" for r in runs)

        wait_for("the middle of the night", self.probe(mid_night), timeout=SETTLE_SECONDS)

    def wait_running(self, school_id: int) -> SyncRun:
        """Until the school's sync is running; returns its run."""

        def running() -> SyncRun | None:
            mine = [r for r in self.runs() if r.school_id == school_id]
            return mine[-1] if mine and mine[-1].outcome == "running" else None

        return wait_for(f"school {school_id}'s sync", self.probe(running), timeout=SETTLE_SECONDS)

    def settle(self) -> None:
        """Wait for every school to settle and the queues to drain; stop the processes."""

        def settled() -> bool:
            good = {r.school_id for r in self.runs() if r.outcome in GOOD}
            dead = {m["kwargs"]["school_id"] for m in self.dead_letters()}
            lost = dead - {self.poison}
            assert not lost, f"dead-lettered {sorted(lost)}: {self.unsettled()}"  # never to settle
            return set(self.healthy) <= good and self.poison in dead

        try:
            wait_for("every school to settle", self.probe(settled), timeout=SETTLE_SECONDS)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; unsettled: {self.unsettled()}") from None

        def drained() -> bool:
            depths = self.servers.queue_depths(self.queue_prefix)
            xq = f"{self.queue_prefix}sync-nightly.XQ"
            return all(n == 0 for q, n in depths.items() if q != xq) and depths.get(xq) == 1

        wait_for("the queues to drain", self.probe(drained), timeout=LEASE_SECONDS + 20, every=1)
        running = [s for s in self.started if s not in self.killed]
        for service in running:  # all at once: each waits for its running syncs
            service.process.send_signal(signal.SIGTERM)
        for service in running:  # (a second SIGTERM, as stop() would send, means "stop now")
            assert service.process.wait(timeout=60) == 0, service.output()

    def lease_of(self, school_id: int) -> tuple[str | None, datetime | None]:
        """Who holds the school's lease now, and until when."""
        with Session(self.engine) as session:
            held = session.execute(
                select(School.lease_owner, School.lease_expires_at).where(School.id == school_id)
            ).one()
        return held.lease_owner, held.lease_expires_at

    def unsettled(self) -> dict[int, list[str]]:
        """The runs of each school without a good run (the poison school's too): outcome and
        error (ids, no names)."""
        runs = self.runs()
        good = {r.school_id for r in runs if r.outcome in GOOD}
        return {
            school_id: [f"{r.outcome}: {r.error}" for r in runs if r.school_id == school_id]
            for school_id in self.consented
            if school_id not in good
        }

    # -- what must hold -------------------------------------------------------------------------

    def check(self) -> None:
        """Everything a night must leave behind, however it went."""
        self.faults_cleared()
        runs = self.runs()
        assert not [r.id for r in runs if r.outcome == "running" or r.finished_at is None], (
            "runs left running"
        )
        assert all(r.error for r in runs if r.outcome == "failed"), "a failed run without reason"
        for school_id in self.consented:
            mine = sorted((r for r in runs if r.school_id == school_id), key=_started)
            for before, after in pairwise(mine):
                assert before.finished_at <= after.started_at, f"overlapping runs {before.id}"
            good = [r for r in mine if r.outcome in GOOD]
            if school_id == self.poison:
                # Its attempts while a server was down may have left no run, or another reason.
                assert mine and not good, [r.outcome for r in mine]
                assert " answered 503" in (mine[-1].error or ""), mine[-1].error
            else:
                assert len(good) == 1, f"school {school_id}: {[r.outcome for r in mine]}"
        assert not [r for r in runs if r.school_id not in self.consented]
        with Session(self.engine) as session:
            schools = {s.id: s for s in session.scalars(select(School))}
            assert not [s.id for s in schools.values() if s.lease_owner], "leases left held"
            for school_id, sim_id in self.healthy.items():
                stored = people_of(export_school(session, schools[school_id]))
                served = expected_people(self.source.fetch_snapshot(str(sim_id)))
                assert stored == served, f"school {school_id} is not what the simulator serves"
            poisoned = people_of(export_school(session, schools[self.poison]))
            assert not any(poisoned.values()), "the poison school was half applied"
            ticks = session.scalars(
                select(SchedulerTick.enqueued).where(SchedulerTick.job == "nightly")
            )
            assert sum(ticks) == len(self.consented), "not every school was sent once"
        assert [m["kwargs"]["school_id"] for m in self.dead_letters()] == [self.poison]

    def faults_cleared(self) -> None:
        self.sim("DELETE", "/_sim/faults")


def _started(run: Any) -> Any:
    return (run.started_at, run.id)


def pid_of(run: SyncRun) -> int:
    """The process that ran ``run`` (its worker is "host:pid/message")."""
    return int((run.worker or ":0").partition("/")[0].rpartition(":")[2])


def children(pid: int) -> list[int]:
    """The process ids whose parent is ``pid`` now."""
    listing = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    )
    return [int(line) for line in listing.stdout.split()]


def alive(pid: int) -> bool:
    """Running and not a zombie (a zombie still answers kill -0)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"
