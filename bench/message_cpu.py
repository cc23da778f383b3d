"""CPU a worker spends per unchanged-school message, over RabbitMQ: prints figures, asserts nothing.

One `koppel worker` process with one thread, a simulator of its own, schools synced once; then
rounds of nightly messages for all of them (each is confirmed unchanged). The figure is the
worker process's CPU time (from /proc) divided by the messages; py-spy samples on request.
With ``--first`` nothing is synced before: one round of messages, each the first sync of its
school (the national benchmark's first night in small), also per person written. With
``--history N`` every school gets N earlier nightly runs first, as after N nights in service
(the national benchmark's unchanged night follows a single one). PostgreSQL's CPU per message
(all its backends) is printed too.

    KOPPEL_BENCH_POSTGRES_URL=... KOPPEL_BENCH_RABBITMQ_URL=... \\
        python -m bench.message_cpu [--schools 200] [--rounds 5] [--first] [--history 365] \\
        [--profile FILE]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from bench.national import Bench, parse_args
from bench.processes import cpu_seconds

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=200, help="simulated schools")
    parser.add_argument("--rounds", type=int, default=5, help="nightly messages per school")
    parser.add_argument("--first", action="store_true", help="first syncs (one round) instead")
    parser.add_argument("--history", type=int, default=0, help="earlier nightly runs per school")
    parser.add_argument("--profile", type=Path, help="py-spy raw samples of the worker here")
    args = parser.parse_args()
    if args.first:
        args.rounds = 1

    bench = Bench(parse_args(["--schools", str(args.schools)]), Path(tempfile.mkdtemp()))
    try:
        bench.start_simulator(args.schools)
        bench.link_schools()
        os.environ.update(bench.env)
        os.environ["KOPPEL_LOG_LEVEL"] = "WARNING"
        if not args.first:
            _sync_once(bench)
        if args.history:
            _add_history(bench, args.history)
        worker = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker", "--processes", "1", "--threads", "1"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        try:
            time.sleep(8)  # imported and consuming; its start-up is not counted
            _measure(bench, worker.pid, args)
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    finally:
        bench.close()


def _sync_once(bench: Bench) -> None:
    """Every school synced in this process, so the messages find them in step."""
    from core.db import make_engine, make_sessionmaker
    from core.plugins import get_plugins
    from core.sync.engine import sync_school

    sessions = make_sessionmaker(make_engine(bench.database_url))
    for school_id in bench.school_ids:
        with sessions() as session:
            sync_school(session, school_id, plugins=get_plugins(), trigger="nightly")


def _add_history(bench: Bench, nights: int) -> None:
    """``nights`` earlier unchanged nightly runs for every school, one a day back from now."""
    from core.models import SyncRun

    now = datetime.now(UTC)
    rows = [
        {
            "school_id": school_id,
            "trigger": "nightly",
            "worker": "history",
            "started_at": now - timedelta(days=night),
            "finished_at": now - timedelta(days=night),
            "outcome": "unchanged",
            "counts": {},
        }
        for school_id in bench.school_ids
        for night in range(1, nights + 1)
    ]
    with bench.engine.begin() as conn:
        conn.execute(insert(SyncRun), rows)
    bench.settle()  # as the days between would have (VACUUM ANALYZE)


def _measure(bench: Bench, pid: int, args: argparse.Namespace) -> None:
    from core.models import SyncRun
    from workers.enqueue import send_nightly_many

    profiler = None
    if args.profile:
        sampling = ["--nonblocking", "-d", "5", "-r", "200", "-f", "raw"]
        profiler = subprocess.Popen(
            ["py-spy", "record", *sampling, "-o", str(args.profile), "-p", str(pid)]
        )
    server = bench.server_cpu()
    cpu, wall = cpu_seconds(pid), time.perf_counter()
    messages = 0
    for _ in range(args.rounds):
        with bench.engine.connect() as conn:
            before = conn.scalar(select(func.max(SyncRun.id))) or 0
        messages += send_nightly_many(bench.school_ids, datetime.now(UTC))
        while True:
            # By id, a primary-key range: a scan of every run (by started_at) would put this
            # poll, not the worker, in PostgreSQL's CPU once there is a history.
            with bench.engine.connect() as conn:
                done = conn.scalar(
                    select(func.count()).where(SyncRun.id > before, SyncRun.outcome != "running")
                )
            if (done or 0) >= len(bench.school_ids):
                break
            time.sleep(0.05)
    cpu, wall = cpu_seconds(pid) - cpu, time.perf_counter() - wall
    postgres = bench.server_cpu()["postgres"] - server["postgres"]
    print(
        f"{messages} messages: worker CPU {1000 * cpu / messages:.2f} ms per message, "
        f"PostgreSQL {1000 * postgres / messages:.2f} ms, wall {1000 * wall / messages:.2f} ms"
    )
    if args.first:
        people = _people(bench)
        print(f"{people} people written: worker CPU {1e6 * cpu / max(people, 1):.1f} µs per person")
    if profiler is not None:
        profiler.wait()
        print(f"samples in {args.profile}: python -m bench.flame {args.profile}")


def _people(bench: Bench) -> int:
    from core.models import Pupil, Staff

    with bench.engine.connect() as conn:
        return sum(conn.scalar(select(func.count()).select_from(m)) or 0 for m in (Pupil, Staff))


if __name__ == "__main__":
    main()
