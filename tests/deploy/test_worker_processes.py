"""'koppel worker --processes N': N consuming processes that all stop cleanly on SIGTERM, a child
that dies is replaced, and the children end with their parent however it ends."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest

from tests.deploy.processes import Service, events, gone, services, wait_for
from tests.servers import rabbitmq_url
from workers.runner import RESTARTS_ALLOWED

pytestmark = pytest.mark.rabbitmq

QUEUES = ("connection", "lifecycle", "sync-nightly", "sync-now")
TWO_PROCESSES = ["worker", "--processes", "2", "--threads", "1"]


@pytest.fixture
def env(fresh_db_url: str) -> Iterator[dict[str, str]]:
    """The workers' environment, on queues of their own (deleted afterwards)."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    yield {
        "KOPPEL_DATABASE_URL": fresh_db_url,
        "KOPPEL_BROKER_URL": rabbitmq_url(),
        "KOPPEL_QUEUE_PREFIX": prefix,
        "KOPPEL_LOG_FORMAT": "json",
    }
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url()))
    channel = connection.channel()
    for name in QUEUES:
        for suffix in ("", ".DQ", ".XQ"):
            channel.queue_delete(f"{prefix}{name}{suffix}")
    connection.close()


def started(service: Service, count: int) -> list[int]:
    """The pids of the first ``count`` worker processes to start, once that many have."""

    def pids() -> list[int]:
        found = [e["pid"] for e in events(service, "worker_started")]
        return found[:count] if len(found) >= count else []

    return wait_for(f"{count} worker processes to start", pids, timeout=90)


def test_two_processes_consume_and_stop_on_sigterm(env: dict[str, str], tmp_path: Path) -> None:
    heartbeat = tmp_path / "alive"
    with services(tmp_path) as start:
        worker = start("worker", [*TWO_PROCESSES, "--heartbeat-file", str(heartbeat)], env)
        started(worker, 2)
        queues = [f"{env['KOPPEL_QUEUE_PREFIX']}{q}" for q in QUEUES]
        assert [e["queues"] for e in events(worker, "worker_started")] == [queues, queues]
        assert wait_for("the heartbeat", heartbeat.is_file, timeout=10)
        assert worker.stop(timeout=60) == 0
        assert len(events(worker, "worker_stopped")) == 2, worker.output()


def test_a_killed_child_is_replaced_and_its_sibling_keeps_working(
    env: dict[str, str], tmp_path: Path
) -> None:
    with services(tmp_path) as start:
        worker = start("worker", TWO_PROCESSES, env)
        killed, sibling = started(worker, 2)
        os.kill(killed, signal.SIGKILL)
        replacement = started(worker, 3)[2]
        [died] = events(worker, "worker_process_died")
        assert (died["pid"], died["exit"]) == (killed, "SIGKILL")
        assert worker.alive() and not gone(sibling) and not gone(replacement)
        assert events(worker, "worker_stopped") == []  # nobody else was stopped
        assert worker.stop(timeout=60) == 0
        assert len(events(worker, "worker_stopped")) == 2, worker.output()


def test_the_children_end_with_a_parent_killed_by_sigkill(
    env: dict[str, str], tmp_path: Path
) -> None:
    with services(tmp_path) as start:
        worker = start("worker", TWO_PROCESSES, env)
        children = started(worker, 2)
        worker.kill()
        wait_for("the orphaned children to end", lambda: all(map(gone, children)), timeout=60)
        assert len(events(worker, "worker_parent_gone")) == 2
        assert len(events(worker, "worker_stopped")) == 2  # gracefully: running syncs finish


def test_children_dying_again_and_again_stop_the_command(
    env: dict[str, str], tmp_path: Path
) -> None:
    # Refused in each child as it starts (RabbitMQ would hold a retry that long unacknowledged).
    broken = {**env, "KOPPEL_SYNC_MAX_BACKOFF_SECONDS": "3600"}
    with services(tmp_path) as start:
        worker = start("worker", TWO_PROCESSES, broken)
        assert worker.process.wait(timeout=120) == 1
        assert len(events(worker, "worker_process_died")) == RESTARTS_ALLOWED + 1
        [failing] = events(worker, "worker_processes_failing")
        assert failing["deaths"] == RESTARTS_ALLOWED + 1
        refused = events(worker, "worker_process_failed")
        assert refused and all("KOPPEL_SYNC_MAX_BACKOFF_SECONDS" in e["error"] for e in refused)
        assert "Traceback" not in worker.stderr.read_text()
