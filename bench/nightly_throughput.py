"""Nightly throughput on this machine: messages/s enqueued, schools/s synced by 1 and 2 workers.

Needs the real PostgreSQL and RabbitMQ (``. scripts/services.sh; start_postgres; start_rabbitmq``):

    KOPPEL_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5442/app \\
    KOPPEL_TEST_RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5682/%2F \\
    python bench/nightly_throughput.py [--messages 2000] [--schools 40] [--threads 2] \\
        [--enqueue-only]

Every run uses fresh databases and queues of its own and removes the queues afterwards. The
simulator runs on the same two cores as the workers, so the sync figures are a floor.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
import pika
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
KOPPEL = [sys.executable, "-c", "from cli.main import main; main()"]
PREFIX = f"bench{uuid.uuid4().hex[:8]}."


def fresh_database(base_url: str) -> str:
    base = make_url(base_url)
    name = f"koppel_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def bench_enqueue(messages: int, database_url: str) -> tuple[float, float, float]:
    """Messages/s: the scheduler catching up a whole night one confirmed send per school, then
    in batches (as ``koppel scheduler`` does), and plain confirmed sends."""
    from core import migrate
    from core.db import make_engine, make_sessionmaker
    from core.models import SchedulerTick, School
    from core.settings import get_settings
    from scheduler import NightlyScheduler, Window
    from workers import queues
    from workers.broker import broker
    from workers.enqueue import send_nightly, send_nightly_many

    engine = make_engine(database_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            School.__table__.insert(),
            [
                {
                    "brin": f"{n // 100:04d}"[-4:],
                    "location_code": f"{n % 100:02d}",
                    "source": "basispoort",
                    "source_school_id": str(n),
                    "consent": "granted",
                    "active": True,
                    "lease_token": 0,
                }
                for n in range(messages)
            ],
        )
    window = Window.from_settings(get_settings())
    after_window = window.night_of(datetime.now(window.zone)).end
    broker.declare_queue(queues.SYNC_NIGHTLY, ensure=True)  # so that it can be purged
    rates = []
    for send_many in (None, send_nightly_many):
        with engine.begin() as conn:
            conn.execute(SchedulerTick.__table__.delete())  # the night is unclaimed again
        broker.flush(queues.SYNC_NIGHTLY)  # each run starts on an empty queue
        scheduler = NightlyScheduler(
            make_sessionmaker(engine),
            window,
            send_nightly,
            send_many=send_many,
            clock=lambda: after_window,
        )
        started = time.perf_counter()
        sent = scheduler.run_once()
        rates.append(sent / (time.perf_counter() - started))
        assert sent == messages, (sent, messages)
    broker.flush(queues.SYNC_NIGHTLY)
    started = time.perf_counter()
    for school_id in range(messages):
        send_nightly(school_id, after_window)
    plain_rate = messages / (time.perf_counter() - started)
    engine.dispose()
    return rates[0], rates[1], plain_rate


def start_simulator(schools: int, tls: Path, logs: Path) -> tuple[subprocess.Popen[bytes], str]:
    out = logs / "sim.out"
    args = f"basispoort-sim --port 0 --max-pupils 200 --schools {schools} --tls-dir".split()
    with out.open("wb") as stdout, (logs / "sim.err").open("wb") as stderr:
        sim = subprocess.Popen(
            [*KOPPEL, *args, str(tls)],
            stdout=stdout,
            stderr=stderr,
            cwd=ROOT,
        )
    deadline = time.monotonic() + 60
    while "listening on " not in out.read_text():
        if time.monotonic() > deadline:
            raise SystemExit("the simulator did not start")
        time.sleep(0.1)
    return sim, out.read_text().partition("listening on ")[2].strip()


def bench_sync(
    processes: int, threads: int, base_db: str, env: dict[str, str], sim_url: str, tls: Path
) -> tuple[int, float]:
    """Schools synced and schools/s, from the first run's start to the last run's end."""
    from core import migrate
    from core.db import make_engine
    from core.models import School, SyncRun
    from plugins.basispoort.simulator import client_ssl_context, make_test_pki
    from workers.enqueue import send_nightly

    database_url = fresh_database(base_db)
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    with httpx.Client(verify=client_ssl_context(make_test_pki(tls))) as http:
        listed = http.get(f"{sim_url.rstrip('/')}/_sim/schools").json()
    consented = [s for s in listed if "consented" in s["kinds"]]
    with engine.begin() as conn:
        ids = [
            conn.execute(
                School.__table__.insert()
                .values(
                    brin=s["brin6"][:4],
                    location_code=s["brin6"][4:],
                    source="basispoort",
                    source_school_id=str(s["id"]),
                    consent="granted",
                    active=True,
                    lease_token=0,
                )
                .returning(School.id)
            ).scalar_one()
            for s in consented
        ]
    since = datetime.now().astimezone()
    for school_id in ids:
        send_nightly(school_id, since)
    worker = subprocess.Popen(
        [*KOPPEL, "worker", "--processes", str(processes), "--threads", str(threads)],
        env={**os.environ, **env, "KOPPEL_DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 600
        while True:
            with engine.connect() as conn:
                done = conn.scalar(
                    select(func.count()).where(SyncRun.outcome.in_(("succeeded", "unchanged")))
                )
            if done >= len(ids):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"only {done} of {len(ids)} schools synced in 10 minutes")
            time.sleep(0.2)
        with engine.connect() as conn:
            first, last = conn.execute(
                select(func.min(SyncRun.started_at), func.max(SyncRun.finished_at))
            ).one()
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
        engine.dispose()
    return len(ids), len(ids) / (last - first).total_seconds()


def delete_queues(broker_url: str, prefix: str = PREFIX) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    channel = connection.channel()
    for name in ("sync-nightly", "sync-now", "connection", "lifecycle"):
        for suffix in ("", ".DQ", ".XQ"):
            channel.queue_delete(f"{prefix}{name}{suffix}")
    connection.close()


def report_enqueue(messages: int, database_url: str) -> None:
    one_by_one, batched, plain_rate = bench_enqueue(messages, database_url)
    print(f"enqueue: scheduler catch-up {one_by_one:,.0f} msg/s one by one, ", end="")
    print(f"{batched:,.0f} msg/s in batches; ", end="")
    print(f"plain confirmed sends {plain_rate:,.0f} msg/s ({messages} messages)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--schools", type=int, default=40, help="Simulated schools (~75%% synced).")
    parser.add_argument("--threads", type=int, default=2, help="Threads per worker process.")
    parser.add_argument("--enqueue-only", action="store_true", help="Skip the sync figures.")
    args = parser.parse_args()
    base_db = os.environ["KOPPEL_TEST_POSTGRES_URL"]
    broker_url = os.environ["KOPPEL_TEST_RABBITMQ_URL"]
    logs = Path(tempfile.mkdtemp(prefix="koppel-bench-"))
    tls = logs / "tls"
    env = {
        "KOPPEL_BROKER_URL": broker_url,
        "KOPPEL_QUEUE_PREFIX": PREFIX,
        "KOPPEL_LOG_LEVEL": "WARNING",
        "KOPPEL_DATABASE_URL": fresh_database(base_db),
    }
    os.environ.update(env)  # before koppel is imported: the broker is decided at import
    from core.logging import configure

    configure("console", "WARNING")
    if args.enqueue_only:
        try:
            report_enqueue(args.messages, env["KOPPEL_DATABASE_URL"])
        finally:
            delete_queues(broker_url)
        return
    sim, sim_url = start_simulator(args.schools, tls, logs)
    env.update(
        KOPPEL_BASISPOORT_URL=sim_url,
        KOPPEL_BASISPOORT_CERT=str(tls / "client.pem"),
        KOPPEL_BASISPOORT_CA=str(tls / "ca.pem"),
    )
    try:
        report_enqueue(args.messages, env["KOPPEL_DATABASE_URL"])
        delete_queues(broker_url)
        for processes in (1, 2):
            count, rate = bench_sync(processes, args.threads, base_db, env, sim_url, tls)
            print(
                f"sync: {processes} worker process(es) x {args.threads} threads: "
                f"{rate:.2f} schools/s ({count} schools)"
            )
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(30)
        delete_queues(broker_url)


if __name__ == "__main__":
    main()
