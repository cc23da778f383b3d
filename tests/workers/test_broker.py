"""The broker module's choice: RabbitMQ with publisher confirms, or the stub; middleware order."""

from __future__ import annotations

import uuid

import pika
import pytest
from dramatiq import Worker
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.models import School
from core.plugins import set_plugins
from tests.fakes import FakeSource, fake_plugins, make_snapshot
from tests.servers import rabbitmq_url
from workers import actors
from workers.broker import make_broker
from workers.inprocess import drain
from workers.middleware import LogContext


def test_without_a_url_the_broker_is_the_in_process_stub() -> None:
    broker = make_broker(None)
    assert isinstance(broker, StubBroker)
    assert isinstance(broker.middleware[0], LogContext)  # bound before, cleared after, all others


@pytest.mark.rabbitmq
def test_with_a_url_rabbitmq_confirms_every_publish_and_dead_letters_to_xq() -> None:
    broker = make_broker(rabbitmq_url())
    assert isinstance(broker, RabbitmqBroker) and broker.confirm_delivery
    queue = f"t{uuid.uuid4().hex[:8]}.probe"
    try:
        broker.declare_queue(queue, ensure=True)
        broker.enqueue(actors.sync_school.message(1).copy(queue_name=queue))
        assert broker.get_queue_message_counts(queue) == (1, 0, 0)
        # A message a consumer rejects goes to <queue>.XQ: the queue is declared that way.
        connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url()))
        channel = connection.channel()
        method, _props, _body = channel.basic_get(queue)
        channel.basic_nack(method.delivery_tag, requeue=False)
        connection.close()
        assert broker.get_queue_message_counts(queue) == (0, 0, 1)
    finally:
        for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
            broker.channel.queue_delete(name)
        broker.close()


def test_check_connection_links_a_school_through_the_worker(
    worker: Worker, sessions: sessionmaker[Session]
) -> None:
    code = uuid.uuid4().hex
    brin6 = f"{int(code[:2], 16) % 90 + 10}{code[2:4].upper()}{int(code[4:6], 16) % 100:02d}"
    snapshot = make_snapshot(source_school_id=str(int(code[6:16], 16)))
    plugins, _ = fake_plugins(FakeSource(snapshot, name="basispoort"))
    set_plugins(plugins)
    actors.check_connection.send(brin6)
    drain()
    with sessions() as s:
        found = s.scalars(
            select(School).where(School.source_school_id == snapshot.school.source_school_id)
        ).one()
    assert (found.brin6, found.consent) == (brin6, "granted")
