"""National-scale nightly benchmark: every Basispoort school through scheduler → RabbitMQ → workers.

Run it with ``bench/run`` (starts or reuses the private PostgreSQL and RabbitMQ of
scripts/services.sh), or directly from the repository root with the servers in the environment:

    KOPPEL_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5442/app \\
    KOPPEL_TEST_RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5682/%2F \\
    python -m bench.national [--scale 1.0] [--workers 2] [--threads 2] [--churn 0.02]

The simulator runs as its own process (6,500 schools x scale, 20-1,200 pupils each, about 1.5
million pupils at scale 1.0). The consented schools are linked by a bulk insert of School rows
(what 'koppel check' would store, quicker), then three nights run through the real path, each
with freshly started workers and a scheduler whose window opens a few seconds later:

1. the first night (empty database);
2. an unchanged night (nothing moved at the source), run ``--unchanged-nights`` times in a row
   (3): the median one is the night compared with the first, and every one is reported;
3. a night of churn (the simulator's advance-night: ``--churn`` of the pupils move, leave or
   arrive in four of five schools).

Rows written are PostgreSQL's own counts (pg_stat_user_tables), read after the workers exited.
Before every night after the first and before the references the database settles, untimed:
VACUUM (ANALYZE) and a CHECKPOINT, what the day between two real nights does (autovacuum would
otherwise still be busy with the previous night's rows while the next one is timed). The first
night starts on the new, never analysed database, as in a new deployment. ``--no-settle``
skips it.
Then the reference points on the same rows (bench/reference.py). Figures are printed and
written as JSON to bench/results/<timestamp>.json, with PASS/FAIL per target (bench/targets.py).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import create_engine, func, select, text

from bench.database import drop_database, table_writes, writes_since
from bench.nightly_throughput import delete_queues, fresh_database
from bench.processes import (
    ROOT,
    Service,
    children_cpu_seconds,
    cpu_seconds,
    machine_cpu_seconds,
    parent_pid,
    peak_rss_mb,
    start_profilers,
    steal_seconds,
    stop_profilers,
    worker_pids,
)
from bench.reference import copy_reference, orm_reference
from bench.targets import check_targets, print_report, ratios

NATIONAL_SCHOOLS = 6500
SIZES = (20, 1200)
PEOPLE_TABLES = ("pupil", "staff", "pupil_subgroup", "staff_group", "school_group")
SETTLED = ("succeeded", "unchanged", "held", "skipped")
ZONE = ZoneInfo("Europe/Amsterdam")


class Bench:
    """One benchmark run: its databases, queues, simulator and the settings every process gets."""

    def __init__(self, args: argparse.Namespace, logs: Path) -> None:
        self.args = args
        self.logs = logs
        self.base_db = _env("KOPPEL_BENCH_POSTGRES_URL", "KOPPEL_TEST_POSTGRES_URL", "DATABASE_URL")
        self.broker = _env("KOPPEL_BENCH_RABBITMQ_URL", "KOPPEL_TEST_RABBITMQ_URL", "RABBITMQ_URL")
        self.prefix = f"bench{uuid.uuid4().hex[:8]}."
        self.database_url = fresh_database(self.base_db)
        self.engine = create_engine(self.database_url, pool_size=2)
        self.env = {
            "KOPPEL_DATABASE_URL": self.database_url,
            "KOPPEL_BROKER_URL": self.broker,
            "KOPPEL_QUEUE_PREFIX": self.prefix,
            "KOPPEL_LOG_FORMAT": "json",
            "KOPPEL_LOG_LEVEL": "INFO",
            "KOPPEL_BASISPOORT_READ_TIMEOUT": "120",
        }
        self.school_ids: list[int] = []
        # The simulator and its client, closed by close() on every way out of the run.
        self.started = ExitStack()
        self.sim: Service | None = None
        self.sim_url = ""
        self.http: httpx.Client | None = None
        self.postmaster: int | None = None

    # -- set-up -----------------------------------------------------------------------------------

    def start_simulator(self, schools: int) -> None:
        from plugins.basispoort.simulator import client_ssl_context, make_test_pki

        tls = self.logs / "tls"
        args = [
            "basispoort-sim", "--port", "0", "--seed", str(self.args.seed),
            "--schools", str(schools), "--max-pupils", str(SIZES[1]), "--tls-dir", str(tls),
        ]  # fmt: skip
        self.sim = Service("simulator", args, {"KOPPEL_LOG_LEVEL": "WARNING"}, self.logs)
        self.started.callback(self.sim.stop)
        out = self.sim.wait_for_output("listening on ", timeout=120)
        self.sim_url = out.partition("listening on ")[2].split()[0].rstrip("/")
        self.env.update(
            KOPPEL_BASISPOORT_URL=self.sim_url,
            KOPPEL_BASISPOORT_CERT=str(tls / "client.pem"),
            KOPPEL_BASISPOORT_CA=str(tls / "ca.pem"),
        )
        context = client_ssl_context(make_test_pki(tls))
        self.http = self.started.enter_context(httpx.Client(verify=context, timeout=120))

    def sim_call(self, method: str, path: str) -> Any:
        assert self.http is not None
        response = self.http.request(method, f"{self.sim_url}{path}")
        response.raise_for_status()
        return response.json()

    def link_schools(self) -> None:
        """Link every consented school as 'koppel check' would, in one bulk insert."""
        from core import migrate
        from core.models import School

        migrate.upgrade(self.engine)
        consented = [s for s in self.sim_call("GET", "/_sim/schools") if "consented" in s["kinds"]]
        rows = [
            {
                "brin": s["brin6"][:4],
                "location_code": s["brin6"][4:],
                "source": "basispoort",
                "source_school_id": str(s["id"]),
                "consent": "granted",
                "active": True,
                "lease_token": 0,
            }
            for s in consented
        ]
        with self.engine.begin() as conn:
            conn.execute(School.__table__.insert(), rows)
            self.school_ids = list(conn.scalars(select(School.id).order_by(School.id)))

    # -- one night --------------------------------------------------------------------------------

    def night(self, label: str) -> dict[str, Any]:
        """Run one night through scheduler → RabbitMQ → workers; its figures."""
        before = table_writes(self.engine)
        cpu_before = self.server_cpu()
        # Every process started is stopped on the way out, however the night ends (the last
        # started first), each even when stopping one before it failed.
        args = self.args
        command = ["worker", "--processes", str(args.workers), "--threads", str(args.threads)]
        with ExitStack() as running:
            workers = Service(f"workers-{label}", command, self.env, self.logs)
            running.callback(workers.stop, timeout=120)
            workers.wait_for_output('"worker_started"', count=self.args.workers, timeout=120)
            # The window opens once the scheduler is likely up; if it is late, it sends at once
            # and the night's wall time (counted from the opening) includes the delay.
            opens = _next_second(self.args.lead_seconds)
            self._claim_earlier_nights(opens)
            window = {
                "KOPPEL_SCHEDULER_WINDOW_START": opens.astimezone(ZONE).strftime("%H:%M:%S"),
                "KOPPEL_SCHEDULER_WINDOW_END": (opens + timedelta(minutes=30))
                .astimezone(ZONE)
                .strftime("%H:%M:%S"),
                # One slot: the whole night is sent at once, the worst case for the queue.
                "KOPPEL_SCHEDULER_SLOT_SECONDS": "86400",
                "KOPPEL_SCHEDULER_POLL_SECONDS": "0.1",
            }
            scheduler = Service(
                f"scheduler-{label}", ["scheduler"], {**self.env, **window}, self.logs
            )
            running.callback(scheduler.stop)
            sampled = {f"worker{n}": pid for n, pid in enumerate(worker_pids(workers))}
            sampled.update(scheduler=scheduler.pid, simulator=self.sim.pid if self.sim else 0)
            running.callback(stop_profilers, start_profilers(self.args.profile, label, sampled))
            done = self._wait_for_night(opens, workers, scheduler)
            worker_peaks = [peak_rss_mb(pid) for pid in worker_pids(workers)]
            worker_cpu = sum(cpu_seconds(pid) for pid in worker_pids(workers))
            scheduler_cpu = cpu_seconds(scheduler.pid)
            cpu_after = self.server_cpu()
            scheduler_peak = peak_rss_mb(scheduler.pid)
            up_at = _last_event(scheduler, "scheduler_started")
        # Backends report their counts when they exit; give the last ones a moment.
        time.sleep(1.0)
        writes = writes_since(before, table_writes(self.engine))
        wall = (done["last_finished"] - opens).total_seconds()
        people = sum(writes.get(t, {}).get("ins", 0) for t in ("pupil", "staff"))
        people_changed = sum(sum(writes.get(t, {}).values()) for t in ("pupil", "staff"))
        messages = done["enqueued"]
        return {
            "wall_seconds": round(wall, 2),
            "schools": len(self.school_ids),
            "outcomes": done["outcomes"],
            "messages": messages,
            "messages_per_second": done["messages_per_second"],
            "people_inserted": people,
            "people_rows_written": people_changed,
            "people_written_per_second": round(people_changed / wall) if wall > 0 else None,
            "people_table_rows_written": sum(
                sum(writes.get(t, {}).values()) for t in PEOPLE_TABLES
            ),
            "rows_written": writes,
            "worker_peak_rss_mb": [round(p, 1) for p in worker_peaks if p is not None],
            "scheduler_peak_rss_mb": round(scheduler_peak or 0.0, 1),
            # > 0: the scheduler came up after the window opened (counted in the wall time).
            "scheduler_late_seconds": round((up_at - opens).total_seconds(), 2) if up_at else None,
            # Where the two cores went: the machine total includes anyone else's work on it;
            # postgres is the whole cluster (other databases on it count too).
            "cpu_seconds": {
                "workers": round(worker_cpu, 1),
                "scheduler": round(scheduler_cpu, 1),
                **{k: round(cpu_after[k] - cpu_before[k], 1) for k in cpu_before},
            },
        }

    def server_cpu(self) -> dict[str, float]:
        """CPU seconds so far of the simulator, the PostgreSQL cluster and the whole machine."""
        if self.postmaster is None:
            with self.engine.connect() as conn:
                self.postmaster = parent_pid(conn.scalar(text("SELECT pg_backend_pid()")))
        return {
            "simulator": cpu_seconds(self.sim.pid) if self.sim else 0.0,
            # Only when PostgreSQL runs on this machine under our eyes (else 0).
            "postgres": children_cpu_seconds(self.postmaster) if self.postmaster else 0.0,
            "machine": machine_cpu_seconds(),
            # Part of "machine": time the hypervisor gave to other guests (the noise between runs).
            "steal": steal_seconds(),
        }

    def _claim_earlier_nights(self, opens: datetime) -> None:
        """The ticks a scheduler running every night would have claimed before this night.

        Three nights run on one calendar day, so tonight's slot is freed again; yesterday's
        night (whose window is over, so a scheduler would send it whole at once) is claimed.
        """
        from core.models import SchedulerTick
        from scheduler import DAILY_JOB, JOB

        today = opens.astimezone(ZONE).date()
        yesterday = (today - timedelta(days=1)).isoformat()
        table = SchedulerTick.__table__
        with self.engine.begin() as conn:
            conn.execute(table.delete().where(table.c.job == JOB))
            ticks = [(JOB, f"{yesterday}#0000")]
            if not conn.scalar(select(func.count()).where(table.c.job == DAILY_JOB)):
                ticks.append((DAILY_JOB, yesterday))  # today's is sent with the first night
            conn.execute(
                table.insert(),
                [{"job": j, "tick": t, "claimed_by": "bench", "enqueued": 0} for j, t in ticks],
            )

    def _wait_for_night(
        self, opens: datetime, workers: Service, scheduler: Service
    ) -> dict[str, Any]:
        from core.models import SchedulerTick, SyncRun

        expected = len(self.school_ids)
        progress = (0, time.monotonic())
        deadline = time.monotonic() + self.args.night_timeout
        while True:
            with self.engine.connect() as conn:
                outcomes = dict(
                    conn.execute(
                        select(SyncRun.outcome, func.count())
                        .where(SyncRun.started_at >= opens)
                        .group_by(SyncRun.outcome)
                    ).all()
                )
            settled = sum(n for outcome, n in outcomes.items() if outcome in SETTLED)
            if settled >= expected:
                break
            for service in (workers, scheduler):
                if not service.alive():
                    raise SystemExit(f"{service.name} stopped during the night\n{service.tail()}")
            if settled > progress[0]:
                progress = (settled, time.monotonic())
            elif time.monotonic() - progress[1] > self.args.stall_timeout:
                raise SystemExit(f"no progress for {self.args.stall_timeout}s: {outcomes}")
            if time.monotonic() > deadline:
                raise SystemExit(f"the night took over {self.args.night_timeout}s: {outcomes}")
            time.sleep(0.25)
        with self.engine.connect() as conn:
            last = conn.scalar(
                select(func.max(SyncRun.finished_at)).where(SyncRun.started_at >= opens)
            )
            claimed, enqueued = conn.execute(
                select(func.min(SchedulerTick.claimed_at), func.sum(SchedulerTick.enqueued)).where(
                    SchedulerTick.job == "nightly", SchedulerTick.claimed_by != "bench"
                )
            ).one()
        sent_at = _last_event(scheduler, "slot_sent")
        rate = None
        if sent_at is not None and claimed is not None and enqueued:
            rate = round(enqueued / max((sent_at - claimed).total_seconds(), 1e-3))
        return {
            "outcomes": outcomes,
            "last_finished": last,
            "enqueued": int(enqueued or 0),
            "messages_per_second": rate,
        }

    def settle(self) -> float:
        """VACUUM (ANALYZE) and CHECKPOINT, as the day between two nights would; seconds taken.

        Three nights run minutes apart here; in real life a day passes and autovacuum has done
        the previous night's rows long before. Left to autovacuum, that work lands inside the
        next timed night (or the COPY reference), by chance more or less of it.
        """
        started = time.perf_counter()
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
            conn.execute(text("CHECKPOINT"))
        return round(time.perf_counter() - started, 2)

    # -- reference points -------------------------------------------------------------------------

    def references(self) -> dict[str, Any]:
        from core import migrate

        target_url = fresh_database(self.base_db)
        target = create_engine(target_url)
        try:
            migrate.upgrade(target)
            copy = copy_reference(self.database_url, target_url)
            sample = _spread(self.school_ids, self.args.orm_schools)
            orm = orm_reference(self.engine, target, sample, self.args.orm_max_people)
        finally:
            target.dispose()
            drop_database(self.base_db, target_url)
        return {"copy": copy, "orm": orm}

    def close(self) -> None:
        """Stop the simulator, then clear queues and the database: each step even when one
        before it failed (an ExitStack runs its callbacks last in, first out)."""
        with ExitStack() as steps:
            if not self.args.keep_database:
                steps.callback(drop_database, self.base_db, self.database_url)
            steps.callback(delete_queues, self.broker, self.prefix)
            steps.callback(self.engine.dispose)
            steps.enter_context(self.started)


def _last_event(service: Service, event: str) -> datetime | None:
    found = None
    for stream in (service.stderr, service.stdout):
        for line in stream.read_text(errors="replace").splitlines():
            if f'"{event}"' not in line:
                continue
            try:
                found = datetime.fromisoformat(json.loads(line)["timestamp"])
            except (ValueError, KeyError):
                continue
    if found is not None and found.tzinfo is None:
        found = found.replace(tzinfo=UTC)
    return found


def _next_second(after: float) -> datetime:
    moment = datetime.now(UTC) + timedelta(seconds=after)
    return moment.replace(microsecond=0) + timedelta(seconds=1)


def _spread(ids: list[int], count: int) -> list[int]:
    """``count`` ids spread evenly over ``ids`` (sizes vary along the list)."""
    if count >= len(ids):
        return list(ids)
    step = len(ids) / count
    return [ids[math.floor(i * step)] for i in range(count)]


def _env(*names: str) -> str:
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    raise SystemExit(f"set {names[0]} (or {', '.join(names[1:])}); bench/run does it for you")


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run (options left unset are left out)."""
    words = ["python -m bench.national"]
    for name, value in vars(args).items():
        flag = "--" + name.replace("_", "-")
        if name == "settle":  # on unless --no-settle
            value, flag = not value, "--no-settle"
        if value is None or value is False or name == "results_dir":
            continue
        words.append(flag if value is True else f"{flag} {value}")
    return " ".join(words)


def unchanged_labels(count: int) -> list[str]:
    """The unchanged nights' labels: "unchanged", then "unchanged-2", "unchanged-3", ..."""
    return ["unchanged", *(f"unchanged-{n}" for n in range(2, count + 1))]


def median_night(nights: list[dict[str, Any]]) -> dict[str, Any]:
    """The night of median wall time (of an even number, the later of the middle two), with
    every repeat's wall time beside its own figures."""
    ranked = sorted(nights, key=lambda night: night["wall_seconds"])
    median = ranked[len(ranked) // 2]
    return {**median, "repeats_wall_seconds": [night["wall_seconds"] for night in nights]}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 6,500 schools")
    parser.add_argument("--schools", type=int, help="simulated schools (overrides --scale)")
    # Two processes on two cores, four threads each as the compose file runs a worker: in
    # unchanged nights run in turn with 2 x 2 on the same database, 2 x 4 was the quicker in all
    # six pairs (by 10-25 %); 3 x 2 and 2 x 3 fell between (README, Benchmarks).
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker process")
    parser.add_argument("--churn", type=float, default=0.02, help="share of pupils that change")
    # A 10-15 s night is a short sample of a machine whose speed drifts by a quarter from one
    # minute to the next (the same code's unchanged nights: 9.1-17.9 s); the first night, two
    # minutes long, averages that out. The target reads the median of a few, each is reported.
    parser.add_argument(
        "--unchanged-nights",
        type=int,
        default=3,
        help="unchanged nights in a row; the median one is compared with the first",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--orm-schools", type=int, default=8, help="schools for the ORM reference")
    parser.add_argument("--orm-max-people", type=int, default=4000)
    parser.add_argument(
        "--lead-seconds", type=float, default=2.5, help="scheduler start-up before the window"
    )
    parser.add_argument("--night-timeout", type=float, default=3600)
    parser.add_argument("--stall-timeout", type=float, default=180)
    parser.add_argument("--results-dir", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument(
        "--no-settle",
        dest="settle",
        action="store_false",
        help="no VACUUM (ANALYZE) and CHECKPOINT between nights (as runs before 2026-11-29)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="record py-spy samples of every process per night here (bench/flame.py reads them)",
    )
    return parser.parse_args(argv)


def _stop(signum: int, _frame: Any) -> None:
    # Python would end at once, skipping every finally: the processes started would live on.
    raise SystemExit(f"stopped by {signal.Signals(signum).name}")


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop)
    schools = args.schools or max(10, round(NATIONAL_SCHOOLS * args.scale))
    logs = Path(tempfile.mkdtemp(prefix="koppel-national-"))
    started = datetime.now(UTC)
    bench = Bench(args, logs)
    result: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "command": _command(args),
        "settings": {
            "simulated_schools": schools,
            "sizes": list(SIZES),
            "workers": args.workers,
            "threads": args.threads,
            "churn": args.churn,
            "cores": os.cpu_count(),
        },
        "logs": str(logs),
    }
    try:
        bench.start_simulator(schools)
        bench.link_schools()
        result["settings"]["linked_schools"] = len(bench.school_ids)
        print(f"linked {len(bench.school_ids)} of {schools} simulated schools; logs in {logs}")
        nights: dict[str, Any] = {}
        settled: dict[str, float] = {}
        repeats = unchanged_labels(args.unchanged_nights)
        for label in ("first", *repeats, "churn"):
            if label == "churn":
                bench.sim_call("POST", f"/_sim/advance-night?churn={args.churn}")
            # Not before the first night: analysed empty, the tables would plan every lookup
            # (foreign key checks too) as if they stayed empty; a new database is not analysed.
            if args.settle and label != "first":
                settled[label] = bench.settle()
            nights[label] = bench.night(label)
            print(f"{label} night: {nights[label]['wall_seconds']} s", flush=True)
        result["unchanged_nights"] = [nights.pop(label) for label in repeats]
        result["nights"] = {
            "first": nights["first"],
            "unchanged": median_night(result["unchanged_nights"]),
            "churn": nights["churn"],
        }
        if args.settle:
            settled["reference"] = bench.settle()
        result["settle_seconds"] = settled  # untimed: before each night and the references
        result["reference"] = bench.references()
    finally:
        bench.close()
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["ratios"] = ratios(result)
    result["targets"] = check_targets(result)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print_report(result)
    print(f"written to {out}")
    return out


if __name__ == "__main__":
    main()
