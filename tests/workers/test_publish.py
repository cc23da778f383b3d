"""Publishing in AMQP transactions on a real RabbitMQ: every message once, and slots sent whole."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pika
import pytest
from dramatiq import Broker, Message, Middleware
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.errors import ConnectionClosed
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import migrate
from core.db import make_engine, make_sessionmaker
from core.models import SchedulerTick
from scheduler import JOB, NightlyScheduler, Window
from tests.servers import rabbitmq_url
from tests.workers.factories import add_school
from workers import queues
from workers.broker import make_broker
from workers.enqueue import nightly_message, send_nightly_many
from workers.publish import BATCH_SIZE, FIRST_BATCH_SIZE, _batches, publish_batched

NIGHT = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)
UNREACHABLE = "amqp://guest:guest@127.0.0.1:1/%2F"


class Enqueues(Middleware):
    """Records the enqueue hooks, and can cut the connection off at the n-th publish."""

    def __init__(self) -> None:
        self.before: list[str] = []
        self.after: list[str] = []
        self.cut_at: int | None = None

    def before_enqueue(self, broker: Broker, message: Message, delay: int) -> None:
        self.before.append(message.message_id)
        if len(self.before) == self.cut_at:
            assert isinstance(broker, RabbitmqBroker)
            broker.parameters = pika.URLParameters(UNREACHABLE)  # no reconnecting either
            broker.connection.close()

    def after_enqueue(self, broker: Broker, message: Message, delay: int) -> None:
        self.after.append(message.message_id)


@pytest.fixture
def rabbit() -> Iterator[tuple[RabbitmqBroker, str, Enqueues]]:
    """A RabbitMQ broker as production makes it, a queue of this test's own, the hooks seen."""
    broker = make_broker(rabbitmq_url())
    assert isinstance(broker, RabbitmqBroker)
    hooks = Enqueues()
    broker.add_middleware(hooks)
    queue = f"t{uuid.uuid4().hex[:8]}.sync-nightly"
    try:
        yield broker, queue, hooks
    finally:
        broker.parameters = pika.URLParameters(rabbitmq_url())
        for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
            broker.channel.queue_delete(name)
        broker.close()


def messages(queue: str, school_ids: list[int]) -> list[Message]:
    return [nightly_message(sid, NIGHT).copy(queue_name=queue) for sid in school_ids]


def take_all(queue: str) -> list[Message]:
    """Every message on the queue, taken off it."""
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url()))
    channel = connection.channel()
    taken = []
    while True:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            break
        assert properties.delivery_mode == 2  # persistent
        taken.append(Message.decode(body))
    connection.close()
    return taken


@pytest.mark.rabbitmq
def test_every_message_of_several_batches_arrives_once_with_its_kwargs(rabbit) -> None:  # type: ignore[no-untyped-def]
    broker, queue, hooks = rabbit
    school_ids = list(range(1, 2 * BATCH_SIZE + 2))  # transactions of 50, 500 and 451
    sent = messages(queue, school_ids)
    assert publish_batched(broker, sent) == len(school_ids)
    taken = take_all(queue)
    assert Counter(m.kwargs["school_id"] for m in taken) == Counter(school_ids)
    assert {m.message_id: m.kwargs for m in taken} == {m.message_id: m.kwargs for m in sent}
    assert taken[0].kwargs == {"school_id": 1, "trigger": "nightly", "since": NIGHT.isoformat()}
    assert taken[0].actor_name == "sync_school"
    # The middleware saw each message enqueued once, after it was committed.
    assert Counter(hooks.after) == Counter(m.message_id for m in sent)
    assert hooks.before == hooks.after


def test_the_first_batch_is_small_so_workers_start_while_the_rest_is_sent() -> None:
    sizes = [len(batch) for batch in _batches(iter(range(2 * BATCH_SIZE + 1)), BATCH_SIZE)]
    assert sizes == [FIRST_BATCH_SIZE, BATCH_SIZE, BATCH_SIZE + 1 - FIRST_BATCH_SIZE]
    assert [len(batch) for batch in _batches(iter(range(7)), 3)] == [3, 3, 1]


@pytest.mark.rabbitmq
def test_a_queue_deleted_after_it_was_declared_is_declared_again_not_lost(rabbit) -> None:  # type: ignore[no-untyped-def]
    broker, queue, _hooks = rabbit
    assert publish_batched(broker, messages(queue, [1])) == 1
    broker.channel.queue_delete(queue)  # the broker still counts it as declared
    assert publish_batched(broker, messages(queue, [2, 3])) == 2
    assert sorted(m.kwargs["school_id"] for m in take_all(queue)) == [2, 3]


def test_in_process_the_slot_goes_one_by_one_to_the_stub_broker(stub_broker: StubBroker) -> None:
    assert send_nightly_many([7, 8, 9], NIGHT) == 3
    queued = [Message.decode(body) for body in list(stub_broker.queues[queues.SYNC_NIGHTLY].queue)]
    assert [m.kwargs["school_id"] for m in queued] == [7, 8, 9]
    assert queued[0].kwargs["since"] == NIGHT.isoformat()


@pytest.fixture
def own_sessions(tmp_path) -> Iterator[sessionmaker[Session]]:  # type: ignore[no-untyped-def]
    """A database of this test's own: the scheduler sends every school it holds."""
    engine = make_engine(f"sqlite:///{tmp_path}/koppel.db")
    migrate.upgrade(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


def one_slot_scheduler(
    sessions: sessionmaker[Session], broker: RabbitmqBroker, queue: str
) -> NightlyScheduler:
    """Every school in one slot, sent in transactions of three."""
    window = Window(time(1, 0), time(1, 1), ZoneInfo("Europe/Amsterdam"), 60)

    def send_many(school_ids: list[int], night_start: datetime) -> int:
        batch = (nightly_message(sid, night_start).copy(queue_name=queue) for sid in school_ids)
        return publish_batched(broker, batch, batch_size=3)

    def send_one(_school_id: int, _night_start: datetime) -> None:
        raise AssertionError("with send_many the scheduler sends no school alone")

    return NightlyScheduler(
        sessions, window, send_one, send_many=send_many, clock=lambda: NIGHT.replace(hour=3)
    )


def add_schools(sessions: sessionmaker[Session], count: int) -> list[int]:
    with sessions() as s:
        ids = [add_school(s).id for _ in range(count)]
        s.commit()
    return ids


def ticks(sessions: sessionmaker[Session]) -> list[SchedulerTick]:
    with sessions() as s:
        return list(s.scalars(select(SchedulerTick).where(SchedulerTick.job == JOB)))


@pytest.mark.rabbitmq
def test_the_scheduler_sends_a_slot_whole_in_batches_and_records_it(  # type: ignore[no-untyped-def]
    own_sessions: sessionmaker[Session], rabbit
) -> None:
    broker, queue, _hooks = rabbit
    school_ids = add_schools(own_sessions, 8)
    scheduler = one_slot_scheduler(own_sessions, broker, queue)
    assert scheduler.run_once() == 8
    assert scheduler.run_once() == 0  # claimed
    assert sorted(m.kwargs["school_id"] for m in take_all(queue)) == sorted(school_ids)
    assert [t.enqueued for t in ticks(own_sessions)] == [8]


@pytest.mark.rabbitmq
def test_a_slot_whose_connection_closes_midway_is_unclaimed_and_sent_whole_next_poll(  # type: ignore[no-untyped-def]
    own_sessions: sessionmaker[Session], rabbit
) -> None:
    broker, queue, hooks = rabbit
    school_ids = add_schools(own_sessions, 8)
    scheduler = one_slot_scheduler(own_sessions, broker, queue)
    hooks.cut_at = 5  # the second transaction: one publish in, its connection closes
    with pytest.raises(ConnectionClosed):
        scheduler.run_once()
    assert ticks(own_sessions) == []  # the claim was rolled back
    first = take_all(queue)
    # The first transaction was committed; the second's publish before the cut was not.
    assert sorted(m.kwargs["school_id"] for m in first) == sorted(school_ids)[:3]
    broker.parameters = pika.URLParameters(rabbitmq_url())  # RabbitMQ is back
    assert scheduler.run_once() == 8
    assert sorted(m.kwargs["school_id"] for m in take_all(queue)) == sorted(school_ids)
    assert [t.enqueued for t in ticks(own_sessions)] == [8]
