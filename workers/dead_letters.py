"""The dead-letter queues (``<queue>.XQ``): what lies there, and putting one message back.

Dramatiq's RabbitMQ broker declares an ``.XQ`` queue beside each queue; a message a worker
gives up on (refused, or retried to the limit) is dead-lettered there by RabbitMQ and expires
after 7 days. Nobody consumes these queues, so looking means taking messages without
acknowledging them: when the connection closes, RabbitMQ puts them back where they were.
Requeueing sends the message again through the broker (the same message id, its retries
reset: a person asked for a fresh try), and only once RabbitMQ confirmed that, removes it from
the dead letters: a failure in between leaves a copy in both, and a sync is safe to repeat.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pika
from dramatiq import Message
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.common import q_name, xq_name
from pika.adapters.blocking_connection import BlockingChannel

from core.errors import ConfigError, KoppelError
from workers import queues
from workers.broker import broker as default_broker
from workers.lifecycle import LIFECYCLE

# The queues whose dead letters an operator sees: every queue koppel's actors use.
QUEUES = (queues.SYNC_NOW, queues.SYNC_NIGHTLY, queues.CONNECTION, LIFECYCLE)
# Looked at per queue at most; more are counted, not listed.
SHOWN = 200
# Options a failed attempt left on the message; a requeued message starts afresh without them.
ATTEMPT_OPTIONS = ("retries", "traceback", "requeue_timestamp", "eta")


class DeadLetterNotFound(KoppelError):
    """No dead letter has that message id (any more)."""

    hint = "it was requeued already or expired after 7 days; 'koppel dead-letters list' shows them"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message given up on: ids and counts only (a sync message carries no names)."""

    message_id: str
    queue: str  # the queue it came from and goes back to
    actor: str
    school_id: int | None
    retries: int
    dead_at: datetime | None  # when RabbitMQ dead-lettered it
    why: str  # RabbitMQ's reason ('rejected', ...) and the last error's type, if it had one


@dataclass(frozen=True, slots=True)
class DeadLetters:
    letters: list[DeadLetter]
    total: int  # how many lie in the queues (more than listed when over SHOWN per queue)


def rabbitmq(broker: Any = None) -> RabbitmqBroker:
    """The process's RabbitMQ broker; ConfigError when messages stay in this process."""
    broker = broker if broker is not None else default_broker
    if not isinstance(broker, RabbitmqBroker):
        raise ConfigError(
            "the dead letters live in RabbitMQ, and KOPPEL_BROKER_URL is not set "
            "(an in-process broker keeps none between runs)",
            hint="set KOPPEL_BROKER_URL to the workers' RabbitMQ",
        )
    return broker


def list_dead_letters(broker: Any = None) -> DeadLetters:
    """Every queue's dead letters (up to SHOWN each), oldest first per queue."""
    chosen = rabbitmq(broker)
    letters: list[DeadLetter] = []
    total = 0
    with _channel(chosen) as channel:
        for queue in QUEUES:
            taken = 0
            while taken < SHOWN:
                method, properties, body = channel.basic_get(xq_name(queue))
                if method is None:
                    break
                if taken == 0:
                    total += method.message_count + 1
                taken += 1
                letters.append(_describe(queue, properties, body))
    return DeadLetters(letters, total)


def requeue(message_id: str, broker: Any = None) -> DeadLetter:
    """Put one dead letter back on its queue (retries reset); DeadLetterNotFound if absent."""
    chosen = rabbitmq(broker)
    with _channel(chosen) as channel:
        for queue in QUEUES:
            while True:
                method, properties, body = channel.basic_get(xq_name(queue))
                if method is None:
                    break
                message = Message.decode(body)
                if message.message_id != message_id:
                    continue  # left unacknowledged: back in place when the channel closes
                letter = _describe(queue, properties, body)
                options = {k: v for k, v in message.options.items() if k not in ATTEMPT_OPTIONS}
                fresh = message.asdict() | {"queue_name": q_name(queue), "options": options}
                chosen.enqueue(Message(**fresh))  # confirmed by RabbitMQ before it returns
                channel.basic_ack(method.delivery_tag)
                return letter
    raise DeadLetterNotFound(f"there is no dead letter {message_id[:64]!r}")


@contextmanager
def _channel(chosen: RabbitmqBroker) -> Iterator[BlockingChannel]:
    """A connection of its own: closing it returns every message taken and not acknowledged."""
    for queue in QUEUES:
        chosen.declare_queue(queue, ensure=True)  # as a worker would: the queue, .DQ and .XQ
    connection = pika.BlockingConnection(chosen.parameters)
    try:
        yield connection.channel()
    finally:
        if connection.is_open:
            connection.close()


def _describe(queue: str, properties: Any, body: bytes) -> DeadLetter:
    message = Message.decode(body)
    deaths = (properties.headers or {}).get("x-death") or [{}]
    death = deaths[0]
    why = str(death.get("reason") or "dead-lettered")
    error = _error_type(message.options.get("traceback"))
    if error:
        why = f"{why}: {error}"
    kwargs = message.kwargs or {}
    school_id = kwargs.get("school_id")
    if school_id is None and message.args and message.actor_name.startswith("sync_school"):
        school_id = message.args[0]
    return DeadLetter(
        message_id=message.message_id,
        queue=queue,
        actor=message.actor_name,
        school_id=int(school_id) if isinstance(school_id, int) else None,
        retries=int(message.options.get("retries", 0)),
        dead_at=death.get("time") if isinstance(death.get("time"), datetime) else None,
        why=why,
    )


def _error_type(traceback: Any) -> str | None:
    """The failed attempt's exception type only: its message could quote data."""
    if not isinstance(traceback, str) or not traceback.strip():
        return None
    last = traceback.strip().splitlines()[-1]
    name = last.split(":", 1)[0].strip()
    return name.rsplit(".", 1)[-1][:100] or None
