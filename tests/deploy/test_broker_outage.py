"""A RabbitMQ restart under a running worker: one line per reconnection attempt, with backoff,
and the worker consumes again afterwards; a connection lost at any step of opening a channel is
one more lost connection, nothing unexpected."""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from core.db import make_engine, make_sessionmaker
from core.models import SyncRun
from tests.deploy.private_rabbitmq import PrivateRabbitmq, private_rabbitmq
from tests.deploy.processes import Service, delete_queues, run, services, wait_for
from tests.servers import rabbitmq_url
from tests.tcp_proxy import tcp_proxy
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


# The payload of AMQP's Confirm.Select method frame (after type 1, channel, size): class 85,
# method 10. pika sends it alone and waits for Select-Ok, so one read holds the whole frame.
CONFIRM_SELECT = struct.pack(">HH", 85, 10)


def first_confirm_select(seen: list[bytes]) -> Callable[[bytes], bool]:
    """For TcpProxy's cut_when: True for the first Confirm.Select a client sends."""

    def check(data: bytes) -> bool:
        if seen or data[:1] != b"\x01" or data[7:11] != CONFIRM_SELECT:
            return False
        seen.append(data)
        return True

    return check


def test_a_connection_lost_as_a_channel_asks_for_confirms_is_retried_without_an_error(
    fresh_db_url: str, tmp_path: Path
) -> None:
    # RabbitMQ goes away just after a worker opened a channel, as it asks for publisher
    # confirms (what a restart or a load that slows the worker down to it can do). Dramatiq's
    # broker then forgot the channel and its clean-up raised KeyError: a consumer's
    # "unexpected error" with a traceback. Now it is a lost connection, tried again at once.
    sessions = make_sessionmaker(make_engine(fresh_db_url))
    with sessions() as s:
        school = add_school(s, consent="none")
        s.commit()
        school_id, brin6 = school.id, school.brin6
    direct = rabbitmq_url()
    server = urlsplit(direct)
    assert server.hostname is not None and server.port is not None
    env = {
        "KOPPEL_DATABASE_URL": fresh_db_url,
        "KOPPEL_QUEUE_PREFIX": f"t{uuid.uuid4().hex[:8]}.",
        "KOPPEL_LOG_FORMAT": "json",
    }
    cut: list[bytes] = []
    try:
        with (
            tcp_proxy(server.hostname, server.port, first_confirm_select(cut)) as proxy,
            services(tmp_path) as start,
        ):
            via = direct.replace(server.netloc.rpartition("@")[2], f"127.0.0.1:{proxy.port}")
            worker = start(
                "worker", ["worker", "--threads", "2"], {**env, "KOPPEL_BROKER_URL": via}
            )
            wait_for("the worker", lambda: "worker_started" in worker.stderr.read_text(), 60)
            wait_for("the cut", lambda: cut, 60)
            run(["sync-now", brin6], {**env, "KOPPEL_BROKER_URL": direct})

            def synced() -> bool:
                with sessions() as s:
                    outcome = select(SyncRun.outcome).where(SyncRun.school_id == school_id)
                    return s.scalar(outcome) == "skipped"

            wait_for("the worker to consume", synced, timeout=60)
            assert worker.stop(timeout=60) == 0
        lines = log_lines(worker)
        assert not [e for e in lines if e.get("level") in ("error", "critical")], worker.output()
    finally:
        delete_queues(direct, env["KOPPEL_QUEUE_PREFIX"])
