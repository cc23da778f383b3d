"""The deployment test: simulator, schedulers and workers as OS processes on real RabbitMQ and
PostgreSQL, as docker-compose runs them, with the scheduler's window shrunk to seconds.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from core.db import make_engine
from core.models import SchedulerTick
from plugins.basispoort.simulator import client_ssl_context, make_test_pki
from tests.conftest import fresh_database_url
from tests.deploy.compose import compose_command
from tests.deploy.nights import (
    Deployment,
    link_schools,
    start_simulator,
    window_env,
    worker_command,
)
from tests.deploy.processes import delete_queues, run, services, wait_for
from tests.servers import rabbitmq_url

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]

MAX_RETRIES = 2
SIMULATOR = "basispoort-sim --port 0 --seed 3 --schools 10 --max-pupils 20"


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    url = fresh_database_url("postgres", tmp_path)
    prefix = f"t{uuid.uuid4().hex[:8]}."
    env = {
        "KOPPEL_DATABASE_URL": url,
        "KOPPEL_BROKER_URL": rabbitmq_url(),
        "KOPPEL_QUEUE_PREFIX": prefix,
        "KOPPEL_LOG_FORMAT": "json",
        "KOPPEL_LEASE_SECONDS": "10",
        "KOPPEL_SYNC_TIME_LIMIT_SECONDS": "8",
        "KOPPEL_SYNC_MAX_RETRIES": str(MAX_RETRIES),
        "KOPPEL_SYNC_MIN_BACKOFF_SECONDS": "0.2",
        "KOPPEL_SYNC_MAX_BACKOFF_SECONDS": "1",
        "KOPPEL_BASISPOORT_RETRIES": "0",  # let the worker's retries be the ones counted
    }
    run(compose_command("migrate"), env)
    tls = tmp_path / "tls"
    with services(tmp_path) as start:
        line = start_simulator(start, SIMULATOR, tls, env)
        engine = make_engine(url)
        http = httpx.Client(verify=client_ssl_context(make_test_pki(tls)), timeout=30)
        found = Deployment(env, engine, line.rstrip("/"), http, prefix)
        link_schools(found)
        try:
            yield found
        finally:
            http.close()
            engine.dispose()
            delete_queues(rabbitmq_url(), prefix)


def test_two_schedulers_and_two_workers_sync_every_school_once(
    deployment: Deployment, tmp_path: Path
) -> None:
    consented = deployment.consented
    broken_id, broken_sim = next(iter(consented.items()))
    deployment.fault(rf"/instellingen/{broken_sim}$", "5xx", times=1000)  # its overview
    env = {**deployment.env, **window_env(seconds=5)}
    with services(tmp_path) as start:
        alive = {n: tmp_path / f"alive-{n}" for n in ("w1", "w2", "s1", "s2")}
        workers = [
            start(n, worker_command(threads="2", heartbeat_file=str(alive[n])), env)
            for n in ("w1", "w2")
        ]
        schedulers = [
            start(n, compose_command("scheduler", heartbeat_file=str(alive[n])), env)
            for n in ("s1", "s2")
        ]
        healthy = [school_id for school_id in consented if school_id != broken_id]

        def night_done() -> bool:
            failed = [r for r in deployment.runs() if r.school_id == broken_id]
            return all(deployment.settled(s) for s in healthy) and len(failed) > MAX_RETRIES

        wait_for("every school's nightly run", night_done, timeout=90)
        dead = wait_for("the dead letter", deployment.dead_letters, timeout=20)
        assert all(path.is_file() for path in alive.values())  # what the health checks read
        for service in [*schedulers, *workers]:
            assert service.stop() == 0, service.output()

    runs = deployment.runs()
    for school_id in healthy:
        mine = [r for r in runs if r.school_id == school_id]
        assert [(r.outcome, r.trigger) for r in mine] == [("succeeded", "nightly")], school_id
        assert deployment.stored(school_id) == deployment.served(consented[school_id])
    failed = [r for r in runs if r.school_id == broken_id]
    assert [r.outcome for r in failed] == ["failed"] * (MAX_RETRIES + 1)
    assert all(re.search(r"instellingen/\d+ answered 5\d\d", r.error or "") for r in failed), failed
    assert [m["kwargs"]["school_id"] for m in dead] == [broken_id]
    assert not [r for r in runs if r.school_id == deployment.refused]
    # Each consented school was sent once, by whichever scheduler claimed its slot.
    with deployment.engine.connect() as conn:
        ticks = list(conn.execute(select(SchedulerTick.claimed_by, SchedulerTick.enqueued)))
    assert sum(enqueued for _, enqueued in ticks) == len(consented)
    claimants = tuple(f":{s.pid}" for s in schedulers)
    assert all(by.endswith(claimants) for by, _ in ticks)


def test_a_worker_killed_mid_night_leaves_no_school_unsynced_half_done_or_twice(
    deployment: Deployment, tmp_path: Path
) -> None:
    consented = deployment.consented
    # Every fetch of pupils (the overview) takes a while, so the kill lands mid-sync.
    deployment.fault(r"/instellingen/\d+$", "slow", times=1000, seconds=1.5)
    # A time limit far beyond the lease (10 s): a sync renews its lease while it runs, so the
    # victim's school is free again within a lease, not within a time limit.
    env = {**deployment.env, **window_env(seconds=3), "KOPPEL_SYNC_TIME_LIMIT_SECONDS": "300"}
    with services(tmp_path) as start:

        def one_thread() -> list[str]:
            return worker_command(threads="1", heartbeat_file=str(tmp_path / "a"))

        victim = start("worker-victim", one_thread(), env)
        survivor = start("worker-survivor", one_thread(), env)
        beat = str(tmp_path / "s")
        scheduler = start("scheduler", compose_command("scheduler", heartbeat_file=beat), env)

        def victim_mid_sync() -> bool:
            return any(
                r.outcome == "running" and f":{victim.pid}/" in (r.worker or "")
                for r in deployment.runs()
            )

        wait_for("the victim to be in the middle of a sync", victim_mid_sync, timeout=60)
        victim.kill()
        wait_for(
            "every school's nightly run",
            lambda: all(deployment.settled(s) for s in consented),
            timeout=120,
        )
        assert scheduler.stop() == 0, scheduler.output()
        assert survivor.stop() == 0, survivor.output()

    runs = deployment.runs()
    killed = [r for r in runs if f":{victim.pid}/" in (r.worker or "") and r.outcome == "failed"]
    assert len(killed) == 1 and "abandoned" in (killed[0].error or "")
    assert not [r for r in runs if r.outcome == "running"]
    for school_id, sim_id in consented.items():
        assert len(deployment.settled(school_id)) == 1, f"school {school_id} synced twice"
        assert deployment.stored(school_id) == deployment.served(sim_id), school_id
