"""'koppel scheduler' and 'koppel api' with --metrics-port: what a Prometheus scrape finds."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.orm import Session

from core.db import make_engine
from tests.cli_process import http_ok
from tests.deploy.metrics import sample, scrape
from tests.deploy.processes import delete_queues, free_port, services, wait_for
from tests.login.conftest import HOME, INSIDE, TOKEN, add_school, login_body
from tests.login.helpers import school_with_pupil
from tests.servers import rabbitmq_url

pytestmark = pytest.mark.rabbitmq


def test_the_scheduler_counts_slots_and_summarises_its_catch_up(fresh_db_url: str, tmp_path: Path):
    engine = make_engine(fresh_db_url)
    with Session(engine) as db:
        add_school(db)  # linked, active, consenting: one nightly message
        db.commit()
    engine.dispose()
    # A window that ended an hour ago: on start, its six slots are all due and all late.
    now = datetime.now(ZoneInfo("Europe/Amsterdam"))
    prefix = f"s{uuid.uuid4().hex[:8]}."
    port = free_port()
    env = {
        "KOPPEL_DATABASE_URL": fresh_db_url,
        "KOPPEL_BROKER_URL": rabbitmq_url(),
        "KOPPEL_QUEUE_PREFIX": prefix,
        "KOPPEL_SCHEDULER_WINDOW_START": f"{now - timedelta(hours=2):%H:%M}",
        "KOPPEL_SCHEDULER_WINDOW_END": f"{now - timedelta(hours=1):%H:%M}",
        "KOPPEL_SCHEDULER_SLOT_SECONDS": "600",
        "KOPPEL_SCHEDULER_POLL_SECONDS": "0.2",
    }
    try:
        with services(tmp_path) as start:
            scheduler = start("scheduler", ["scheduler", "--metrics-port", str(port)], env)

            def sent_all() -> str | None:
                # Slots count inside a poll, the poll itself once it is over: wait for both.
                text = scrape(port) or ""
                done = sample(text, 'koppel_scheduler_slots_total{result="sent"}') == 6
                polled = (sample(text, 'koppel_scheduler_polls_total{result="ok"}') or 0) >= 1
                return text if done and polled else None

            text = wait_for("six slots in the metrics", sent_all, timeout=60)
            assert sample(text, "koppel_scheduler_messages_total") == 1
            assert sample(text, "koppel_scheduler_slots_late_total") == 6
            assert sample(text, "koppel_scheduler_nights_total") == 1
            assert sample(text, 'koppel_scheduler_slot_lateness_seconds_bucket{le="900.0"}') == 0
            assert scheduler.stop() == 0
            log = scheduler.stderr.read_text()  # the catch-up is one line, not one per slot
            assert log.count('"slots_caught_up"') == 1 and '"slot_sent"' not in log
    finally:
        delete_queues(rabbitmq_url(), prefix)


def test_the_api_counts_login_decisions_by_policy_and_times_requests(
    fresh_db_url: str, tmp_path: Path
):
    school, pupil = school_with_pupil(fresh_db_url)
    port, metrics_port = free_port(), free_port()
    env = {"KOPPEL_DATABASE_URL": fresh_db_url, "KOPPEL_API_TOKENS": f'["{TOKEN}"]'}
    base = f"http://127.0.0.1:{port}"
    with services(tmp_path) as start:
        start("api", ["api", "--port", str(port), "--metrics-port", str(metrics_port)], env)
        wait_for("the API", lambda: http_ok(f"{base}/health"), timeout=60)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        for peer in (INSIDE, HOME, HOME):
            answer = httpx.post(
                f"{base}/v1/logins/evaluate",
                json=login_body(school, pupil, peer),
                headers=headers,
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
        text = scrape(metrics_port) or ""
    assert sample(text, 'koppel_login_decisions_total{outcome="allowed"}') == 1
    assert sample(text, 'koppel_login_decisions_total{outcome="denied"}') == 2
    assert sample(text, 'koppel_login_denials_total{policy="ip_restriction",shadow="false"}') == 2
    timed = (
        'koppel_api_request_seconds_count{method="POST",route="/v1/logins/evaluate",status="200"}'
    )
    assert sample(text, timed) == 3
