"""'koppel worker --metrics-port': one Prometheus scrape adds up every worker process."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pika
import pytest

from core.db import make_engine, make_sessionmaker
from core.models import School
from tests.deploy.processes import free_port, run, services, wait_for
from tests.servers import rabbitmq_url

pytestmark = pytest.mark.rabbitmq


def test_metrics_of_two_processes_in_one_scrape(fresh_db_url: str, tmp_path: Path) -> None:
    engine = make_engine(fresh_db_url)
    with make_sessionmaker(engine)() as session:
        # Linked but without consent: the sync is a quick, recorded "skipped".
        session.add(
            School(
                brin="12AB",
                location_code="00",
                source="basispoort",
                source_school_id="1",
                consent="none",
            )
        )
        # With consent, on a Basispoort that refuses every connection: failed, dead-lettered.
        session.add(
            School(
                brin="34CD",
                location_code="00",
                source="basispoort",
                source_school_id="2",
                consent="granted",
            )
        )
        session.commit()
    engine.dispose()
    prefix = f"m{uuid.uuid4().hex[:8]}."
    port = free_port()
    env = {
        "KOPPEL_DATABASE_URL": fresh_db_url,
        "KOPPEL_BROKER_URL": rabbitmq_url(),
        "KOPPEL_QUEUE_PREFIX": prefix,
        "KOPPEL_LOG_FORMAT": "json",
        "KOPPEL_BASISPOORT_URL": f"http://127.0.0.1:{free_port()}/",
        "KOPPEL_SYNC_MAX_RETRIES": "0",
    }
    url = f"http://127.0.0.1:{port}/metrics"

    def scrape() -> str | None:
        try:
            return httpx.get(url, timeout=2).raise_for_status().text
        except httpx.HTTPError:
            return None

    try:
        with services(tmp_path) as start:
            args = ["worker", "--processes", "2", "--threads", "1", "--metrics-port", str(port)]
            worker = start("worker", args, env)
            wait_for("the metrics endpoint", lambda: scrape() is not None, timeout=60)
            for _ in range(2):
                run(["sync-now", "12AB00"], env)

            def counted() -> str | None:
                text = scrape() or ""
                ok = 'koppel_messages_total{actor="sync_school_now",result="ok"} 2.0'
                return text if ok in text else None

            text = wait_for("both messages in the metrics", counted, timeout=60)
            assert 'koppel_sync_runs_total{outcome="skipped",source="basispoort"} 2.0' in text
            assert 'koppel_message_seconds_count{actor="sync_school_now"} 2.0' in text

            run(["sync-now", "34CD00"], env)
            dead = 'koppel_dead_letters_total{actor="sync_school_now"} 1.0'
            wait_for("the dead letter", lambda: dead in (scrape() or ""), timeout=60)
            # Read from the database at most every FailingSchools.READ_EVERY_SECONDS.
            failing = 'koppel_school_consecutive_failures{brin6="34CD00"} 1.0'
            text = wait_for("the failing school", lambda: failing in (scrape() or ""), timeout=60)
            assert "koppel_schools_failing 1.0" in (scrape() or "")
            assert worker.stop(timeout=60) == 0
    finally:
        connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url()))
        channel = connection.channel()
        for name in ("sync-nightly", "sync-now", "connection", "lifecycle"):
            for suffix in ("", ".DQ", ".XQ"):
                channel.queue_delete(f"{prefix}{name}{suffix}")
        connection.close()
