"""'koppel worker --processes N': N consuming processes that all stop cleanly on SIGTERM."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pika
import pytest

from tests.deploy.processes import services, wait_for
from tests.servers import rabbitmq_url

pytestmark = pytest.mark.rabbitmq


def test_two_processes_consume_and_stop_on_sigterm(fresh_db_url: str, tmp_path: Path) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    env = {
        "KOPPEL_DATABASE_URL": fresh_db_url,
        "KOPPEL_BROKER_URL": rabbitmq_url(),
        "KOPPEL_QUEUE_PREFIX": prefix,
        "KOPPEL_LOG_FORMAT": "json",
    }
    heartbeat = tmp_path / "alive"
    try:
        with services(tmp_path) as start:
            args = ["worker", "--processes", "2", "--threads", "1"]
            worker = start("worker", [*args, "--heartbeat-file", str(heartbeat)], env)

            def started() -> list[dict]:  # type: ignore[type-arg]
                lines = [json.loads(x) for x in worker.stderr.read_text().splitlines() if x]
                found = [x for x in lines if x.get("event") == "worker_started"]
                return found if len(found) == 2 else []

            ready = wait_for("both worker processes", started, timeout=60)
            names = ("connection", "lifecycle", "sync-nightly", "sync-now")
            queues = [f"{prefix}{q}" for q in names]
            assert [x["queues"] for x in ready] == [queues, queues]
            assert wait_for("the heartbeat", heartbeat.is_file, timeout=10)
            assert worker.stop(timeout=60) == 0
            stopped = worker.stderr.read_text().count('"worker_stopped"')
            assert stopped == 2, worker.output()
    finally:
        connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url()))
        channel = connection.channel()
        for name in ("sync-nightly", "sync-now", "connection", "lifecycle"):
            for suffix in ("", ".DQ", ".XQ"):
                channel.queue_delete(f"{prefix}{name}{suffix}")
        connection.close()
