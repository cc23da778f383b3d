"""Publishing many messages to RabbitMQ in AMQP transactions: one round trip per batch."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from itertools import islice

import pika
import pika.exceptions
import structlog
from dramatiq import Message
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.common import q_name
from dramatiq.errors import ConnectionClosed

log = structlog.get_logger()

BATCH_SIZE = 500
# Messages of a transaction reach workers only at its commit: a small first batch lets the
# workers start while the rest of a large slot is still being sent.
FIRST_BATCH_SIZE = 50
# A fresh connection per attempt, as dramatiq's own enqueue does: the scheduler's connection
# idles between polls (pika's BlockingConnection answers no heartbeats then), so RabbitMQ may
# have closed it by the time the next slot is due.
MAX_ATTEMPTS = 3

# Why transactions, not confirms: pika's BlockingChannel in confirm mode waits for each
# message's confirm inside basic_publish (it has no pipelined confirms), one round trip and one
# fsync per message. In tx mode the publishes stream out and tx.commit-ok arrives only once
# RabbitMQ has taken responsibility for the whole batch, persistent messages on disk
# (https://www.rabbitmq.com/docs/semantics#tx). A channel is in confirm mode or tx mode, never
# both, so this is a channel of its own beside the broker's (confirming) one.
_state = threading.local()


class ReturnedError(pika.exceptions.AMQPChannelError):
    """RabbitMQ returned messages it could not route: their queue is gone."""


def publish_batched(
    broker: RabbitmqBroker, messages: Iterable[Message], batch_size: int = BATCH_SIZE
) -> int:
    """Publish ``messages`` in transactions of ``batch_size``; returns how many RabbitMQ took.

    Returns only once RabbitMQ has committed every message; raises dramatiq's ConnectionClosed
    otherwise (the batches committed before stay queued: repeats are harmless to the caller).
    """
    sent = 0
    for batch in _batches(messages, batch_size):
        _publish_batch(broker, batch, sent)
        sent += len(batch)
    return sent


def _batches(messages: Iterable[Message], size: int) -> Iterator[list[Message]]:
    items = iter(messages)
    first = min(size, FIRST_BATCH_SIZE)
    if batch := list(islice(items, first)):
        yield batch
    while batch := list(islice(items, size)):
        yield batch


def _publish_batch(broker: RabbitmqBroker, batch: list[Message], committed: int) -> None:
    attempts = 0
    while True:
        try:
            _publish_once(broker, batch)
        except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as exc:
            _reset(broker, batch, exc)
            attempts += 1
            if attempts >= MAX_ATTEMPTS:
                # The type only: the URL (with its password) is never logged.
                log.warning(
                    "publish_failed",
                    committed=committed,
                    error=type(exc).__name__,
                    batch=len(batch),
                )
                raise ConnectionClosed(exc) from None
        except Exception:
            _drop_channel()  # its uncommitted publishes go with it, not into the next batch
            raise
        else:
            for message in batch:
                broker.emit_after("enqueue", message, None)  # only now has RabbitMQ taken it
            return


def _publish_once(broker: RabbitmqBroker, batch: list[Message]) -> None:
    for queue_name in {message.queue_name for message in batch}:
        broker.declare_queue(queue_name, ensure=True)
    channel = _tx_channel(broker)
    returned = _state.returned = []
    for message in batch:
        broker.emit_before("enqueue", message, None)
        channel.basic_publish(
            exchange="",
            routing_key=message.queue_name,
            body=message.encode(),
            properties=pika.BasicProperties(
                delivery_mode=2, priority=message.options.get("broker_priority")
            ),
            # RabbitMQ returns unroutable messages on commit, before tx.commit-ok.
            mandatory=True,
        )
    channel.tx_commit()
    broker.connection.process_data_events(time_limit=0)  # runs the return callback
    if returned:
        raise ReturnedError(sorted(set(returned)))


def _tx_channel(broker: RabbitmqBroker) -> pika.adapters.blocking_connection.BlockingChannel:
    """This thread's tx channel on the broker's connection (itself one per thread)."""
    connection = broker.connection
    channel = getattr(_state, "channel", None)
    if (
        channel is None
        or channel.is_closed
        or getattr(_state, "connection", None) is not connection
    ):
        channel = connection.channel()
        channel.tx_select()
        channel.add_on_return_callback(_on_return)
        _state.channel, _state.connection = channel, connection
    return channel


def _on_return(
    _channel: object, method: pika.spec.Basic.Return, _props: object, _body: object
) -> None:
    _state.returned.append(method.routing_key)


def _reset(broker: RabbitmqBroker, batch: list[Message], exc: Exception) -> None:
    """Start the next attempt afresh; an uncommitted batch is discarded with its channel."""
    if isinstance(exc, ReturnedError):
        # The queue was deleted after this broker declared it: declare it again.
        broker.queues_pending.update(q_name(message.queue_name) for message in batch)
    _state.channel = _state.connection = None
    del broker.connection  # closes the thread's connection and its channels


def _drop_channel() -> None:
    channel = getattr(_state, "channel", None)
    _state.channel = _state.connection = None
    if channel is not None and channel.is_open:
        # Closed under us already: the uncommitted publishes are gone either way.
        with contextlib.suppress(pika.exceptions.AMQPError):
            channel.close()
