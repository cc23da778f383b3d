"""'koppel sync-now' puts one school on the 'sync now' queue of the real RabbitMQ."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pika
import pytest

from core.db import make_engine, make_sessionmaker
from tests.deploy.processes import KOPPEL, run
from tests.servers import rabbitmq_url
from tests.workers.factories import add_school


def koppel(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KOPPEL, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def linked(fresh_db_url: str) -> tuple[str, int, str]:
    with make_sessionmaker(make_engine(fresh_db_url))() as s:
        school = add_school(s)
        s.commit()
        return fresh_db_url, school.id, school.brin6


@pytest.mark.rabbitmq
def test_sync_now_prints_the_id_of_a_message_rabbitmq_holds(linked: tuple[str, int, str]) -> None:
    url, school_id, brin6 = linked
    prefix = f"t{uuid.uuid4().hex[:8]}."
    env = {"KOPPEL_DATABASE_URL": url, "KOPPEL_BROKER_URL": rabbitmq_url()}
    env["KOPPEL_QUEUE_PREFIX"] = prefix
    message_id = run(["sync-now", brin6.lower()], env).strip()
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url()))
    try:
        channel = connection.channel()
        method, _props, body = channel.basic_get(f"{prefix}sync-now", auto_ack=True)
        assert method is not None, "nothing on the sync-now queue"
        message = json.loads(body)
        assert (message["message_id"], message["actor_name"]) == (message_id, "sync_school_now")
        assert message["kwargs"] == {"school_id": school_id}
    finally:
        for suffix in ("", ".DQ", ".XQ"):
            for name in ("sync-now", "sync-nightly", "connection"):
                channel.queue_delete(f"{prefix}{name}{suffix}")
        connection.close()


def test_sync_now_without_a_broker_says_what_to_do(linked: tuple[str, int, str]) -> None:
    url, _school_id, brin6 = linked
    done = koppel(["sync-now", brin6], {"KOPPEL_DATABASE_URL": url, "KOPPEL_BROKER_URL": ""})
    assert done.returncode == 1
    assert "KOPPEL_BROKER_URL is not set" in done.stderr and "koppel sync BRIN6" in done.stderr


def test_sync_now_of_an_unknown_school_fails_before_sending(fresh_db_url: str) -> None:
    unreachable = "amqp://guest:guest@127.0.0.1:1/%2F"
    env = {"KOPPEL_DATABASE_URL": fresh_db_url, "KOPPEL_BROKER_URL": unreachable}
    done = koppel(["sync-now", "12AB00"], env)
    assert done.returncode == 1 and "no school 12AB00 is linked" in done.stderr
    assert "koppel check 12AB00" in done.stderr


def test_a_broken_broker_url_is_a_configuration_error_that_hides_the_password(
    fresh_db_url: str,
) -> None:
    env = {
        "KOPPEL_DATABASE_URL": fresh_db_url,
        "KOPPEL_BROKER_URL": "amqp://koppel:s3cret@host:port/%2F",
    }
    done = koppel(["sync-now", "12AB00"], env)
    assert done.returncode == 1 and "Traceback" not in done.stderr and "s3cret" not in done.stderr
    assert "KOPPEL_BROKER_URL is not a usable RabbitMQ URL" in done.stderr
