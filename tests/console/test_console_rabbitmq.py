"""The console of a real 'koppel api' process on the real RabbitMQ: sync now, and dead letters.

The account is made with 'koppel operators add --password-stdin', as an administrator would.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pika
import pytest
from playwright.sync_api import Page, expect

from core.db import make_engine, make_sessionmaker
from tests.cli_process import http_ok
from tests.console.conftest import NAME, PASSWORD, SECRET, TOKEN, sign_in
from tests.console.seed import add_run, add_school, night_start
from tests.deploy.processes import KOPPEL, delete_queues, free_port, run, services, wait_for
from tests.servers import rabbitmq_url
from workers import actors
from workers.broker import make_broker

pytestmark = [pytest.mark.browser, pytest.mark.rabbitmq]


@dataclass
class Deployment:
    url: str  # the console's base URL
    env: dict[str, str]
    prefix: str  # the test's own queues
    brin6: str  # a school whose latest run failed
    school_id: int


@pytest.fixture
def deployment(tmp_path: Path, fresh_db_url: str) -> Iterator[Deployment]:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    env = {
        "KOPPEL_DATABASE_URL": fresh_db_url,
        "KOPPEL_BROKER_URL": rabbitmq_url(),
        "KOPPEL_QUEUE_PREFIX": prefix,
        "KOPPEL_API_TOKENS": f'["{TOKEN}"]',
        "KOPPEL_WEB_SECRET": SECRET,
        "KOPPEL_OPERATOR_FAILURE_DELAY_SECONDS": "0",
    }
    added = subprocess.run(
        [*KOPPEL, "operators", "add", NAME, "--password-stdin"],
        input=f"{PASSWORD}\n",
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    with make_sessionmaker(make_engine(fresh_db_url))() as s:
        school = add_school(s)
        add_run(s, school, "failed", night_start(0), error="the source timed out")
        s.commit()
        brin6, school_id = school.brin6, school.id
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        with services(tmp_path) as start:
            start("api", ["api", "--port", str(port)], env)
            wait_for("the API", lambda: http_ok(f"{base}/health"), timeout=60)
            yield Deployment(base, env, prefix, brin6, school_id)
    finally:
        delete_queues(rabbitmq_url(), prefix)


def take(queue: str) -> dict | None:  # type: ignore[type-arg]
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url()))
    try:
        method, _props, body = connection.channel().basic_get(queue, auto_ack=True)
        return json.loads(body) if method is not None else None
    finally:
        connection.close()


def dead_letter(prefix: str, school_id: int) -> str:
    """A nightly sync message dead-lettered as Dramatiq's broker does it: sent, then rejected."""
    broker = make_broker(rabbitmq_url())
    queue = f"{prefix}sync-nightly"
    try:
        message = actors.sync_school.message_with_options(
            kwargs={"school_id": school_id, "trigger": "nightly"}
        ).copy(queue_name=queue, options={"retries": 3, "traceback": "...\nSourceUnavailable: x"})
        broker.enqueue(message)  # declares the queue with its .XQ, as the workers do
        channel = broker.channel
        method, _props, _body = channel.basic_get(queue)
        channel.basic_nack(method.delivery_tag, requeue=False)  # what a worker does at the end
        assert broker.get_queue_message_counts(queue) == (0, 0, 1)
        return message.message_id
    finally:
        broker.close()


def test_sync_now_from_the_console_puts_the_school_on_the_queue(
    page: Page, deployment: Deployment
) -> None:
    sign_in(page, deployment.url)
    page.get_by_role("link", name="Mislukt", exact=True).click()
    page.get_by_role("button", name=f"{deployment.brin6} nu synchroniseren").click()
    notice = page.get_by_role("status")
    expect(notice).to_contain_text("staat in de wachtrij")
    message = take(f"{deployment.prefix}sync-now")
    assert message is not None, "nothing on the sync-now queue"
    assert (message["actor_name"], message["kwargs"]) == (
        "sync_school_now",
        {"school_id": deployment.school_id},
    )
    expect(notice).to_contain_text(message["message_id"])
    page.get_by_role("link", name="Logboek").click()
    expect(page.locator("table.audit tbody tr").first).to_contain_text("sync_now")


def test_a_dead_letter_is_requeued_from_the_console(page: Page, deployment: Deployment) -> None:
    message_id = dead_letter(deployment.prefix, deployment.school_id)
    listed = run(["dead-letters", "list"], deployment.env)  # the CLI sees it too
    assert message_id in listed and "SourceUnavailable" in listed
    sign_in(page, deployment.url)
    page.get_by_role("link", name="Dead letters").click()
    row = page.locator(f"#message-{message_id}")
    expect(row).to_contain_text(deployment.brin6)  # the school, by its BRIN6
    expect(row).to_contain_text("rejected: SourceUnavailable")
    row.get_by_role("button", name=f"Bericht {message_id} terugzetten").click()
    expect(page.get_by_role("status")).to_contain_text(f"Bericht {message_id} staat weer")
    expect(page.get_by_text("De dead-letter-wachtrijen zijn leeg.")).to_be_visible()
    back = take(f"{deployment.prefix}sync-nightly")
    assert back is not None and back["message_id"] == message_id
    assert back["kwargs"]["school_id"] == deployment.school_id
    assert "retries" not in back["options"]  # a fresh try
    assert take(f"{deployment.prefix}sync-nightly.XQ") is None


def test_the_cli_requeues_a_dead_letter_and_says_when_there_is_none(
    deployment: Deployment,
) -> None:
    message_id = dead_letter(deployment.prefix, deployment.school_id)
    out = run(["dead-letters", "requeue", message_id], deployment.env)
    assert f"message {message_id} is back on {deployment.prefix}sync-nightly" in out
    back = take(f"{deployment.prefix}sync-nightly")
    assert back is not None and back["message_id"] == message_id
    again = subprocess.run(
        [*KOPPEL, "dead-letters", "requeue", message_id],
        env={**os.environ, **deployment.env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 1 and "there is no dead letter" in again.stderr
