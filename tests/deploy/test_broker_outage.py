"""A RabbitMQ restart under a running worker: one line per reconnection attempt, with backoff,
and the worker consumes again afterwards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import make_engine, make_sessionmaker
from core.models import SyncRun
from tests.deploy.private_rabbitmq import PrivateRabbitmq, private_rabbitmq
from tests.deploy.processes import Service, run, services, wait_for
from tests.workers.factories import add_school

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
def rabbit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRabbitmq]:
    with private_rabbitmq(tmp_path_factory.mktemp("rabbitmq")) as started:
        yield started


def log_lines(service: Service) -> list[dict]:  # type: ignore[type-arg]
    lines = service.stderr.read_text().splitlines()
    return [json.loads(x) if x.startswith("{") else {"event": x} for x in lines]


def test_a_rabbitmq_restart_is_one_line_per_attempt_and_consuming_resumes(
    rabbit: PrivateRabbitmq, fresh_db_url: str, tmp_path: Path
) -> None:
    sessions = make_sessionmaker(make_engine(fresh_db_url))
    with sessions() as s:
        school = add_school(s, consent="none")  # its sync is a quick, recorded "skipped"
        s.commit()
        school_id, brin6 = school.id, school.brin6
    env = {
        "KOPPEL_DATABASE_URL": fresh_db_url,
        "KOPPEL_BROKER_URL": rabbit.url,
        "KOPPEL_LOG_FORMAT": "json",
    }
    with services(tmp_path) as start:
        worker = start("worker", ["worker", "--processes", "1", "--threads", "2"], env)

        def events(name: str) -> list[dict]:  # type: ignore[type-arg]
            return [e for e in log_lines(worker) if e["event"] == name]

        wait_for("the worker", lambda: events("worker_started"), timeout=60)
        before = len(log_lines(worker))
        rabbit.stop_node()
        wait_for("two failed attempts", lambda: len(events("broker_unreachable")) >= 2, 60)
        rabbit.start_node()
        wait_for("the reconnection", lambda: events("broker_reconnected"), timeout=60)

        outage = log_lines(worker)[before:]
        attempts = events("broker_unreachable")
        assert [e["event"] for e in outage] == [
            "broker_connection_lost",
            *["broker_unreachable"] * len(attempts),
            "broker_reconnected",
        ], "\n".join(str(e) for e in outage)
        assert [e["attempt"] for e in attempts] == list(range(1, len(attempts) + 1))
        waits = [e["next_attempt_in_seconds"] for e in attempts]
        assert waits == sorted(waits) and waits[0] < waits[-1]  # backing off

        run(["sync-now", brin6], env)

        def synced() -> bool:
            with sessions() as s:
                return (
                    s.scalar(select(SyncRun.outcome).where(SyncRun.school_id == school_id))
                    == "skipped"
                )

        wait_for("the worker to consume again", synced, timeout=60)
        assert worker.stop(timeout=60) == 0
