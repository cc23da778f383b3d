"""Back to RabbitMQ after an outage: one thread per process tries, with backoff, one line a try.

Dramatiq restarts each consumer every 3 s when RabbitMQ is away, and every one of them (two per
queue) logs its failure, as pika logs each failed connection in six more lines: an outage of
18 s gave about 130 error lines per worker. Here, the first consumer to lose its connection
says so once (``broker_connection_lost``); from then on one consumer tries to connect, waiting
1, 2, 4, 8, then 10 s between tries and logging one line per try (``broker_unreachable``),
while the others wait for it; when it gets through (``broker_reconnected``) they all consume
again. What Dramatiq and pika would log meanwhile about the same outage is left out.

A connection lost while a channel is being opened is one more lost connection: Dramatiq's own
bookkeeping turned it into a KeyError, logged as a consumer's "unexpected error" (``_channel``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pika.exceptions
import structlog
from dramatiq import Broker, Middleware
from dramatiq.brokers.rabbitmq import RabbitmqBroker, _RabbitmqConsumer
from dramatiq.errors import BrokerConnectionError

log = structlog.get_logger()

T = TypeVar("T")

# Dramatiq's consumer threads' own lines about a connection they lost and will try again.
_CONSUMER_OUTAGE_LINES = ("Consumer encountered a connection error", "Restarting consumer in")


class Reconnect(Middleware):
    """The process's state of its connection to RabbitMQ, and the one way back after a loss."""

    def __init__(self, first_delay: float = 1.0, max_delay: float = 10.0) -> None:
        self.first_delay = first_delay
        self.max_delay = max_delay
        self._lock = threading.Lock()
        self._up = threading.Event()
        self._up.set()
        self._stopping = threading.Event()
        self._trying = False
        self._down_since = 0.0
        self._tries = 0

    @property
    def down(self) -> bool:
        return not self._up.is_set()

    def lost(self, error: BaseException) -> None:
        """A connection to RabbitMQ failed: the first to notice says so, once per outage."""
        with self._lock:
            if self._up.is_set():
                self._up.clear()
                self._down_since = time.monotonic()
                self._tries = 0
                log.warning("broker_connection_lost", error=_describe(error))

    def through(self, connect: Callable[[], T]) -> T:
        """``connect()`` (it opens a connection to RabbitMQ), once RabbitMQ is reachable."""
        while True:
            if not self.down:
                try:
                    return connect()
                except BrokerConnectionError as exc:
                    self.lost(exc)
            with self._lock:
                mine = not self._trying
                self._trying = True
            if mine:
                return self._try(connect)
            while self.down and not self._stopping.wait(0.5):
                pass  # another thread tries; wait for it
            if self._stopping.is_set():
                raise BrokerConnectionError("the worker is stopping")

    def _try(self, connect: Callable[[], T]) -> T:
        try:
            while True:
                delay = min(self.max_delay, self.first_delay * 2**self._tries)
                if self._stopping.wait(delay):
                    raise BrokerConnectionError("the worker is stopping")
                self._tries += 1
                try:
                    connected = connect()
                except BrokerConnectionError as exc:
                    log.warning(
                        "broker_unreachable",
                        attempt=self._tries,
                        next_attempt_in_seconds=min(self.max_delay, delay * 2),
                        error=_describe(exc),
                    )
                    continue
                log.info(
                    "broker_reconnected",
                    attempts=self._tries,
                    down_seconds=round(time.monotonic() - self._down_since, 1),
                )
                self._up.set()
                return connected
        finally:
            with self._lock:
                self._trying = False

    def before_worker_shutdown(self, broker: Broker, worker: Any) -> None:
        self._stopping.set()

    def quiet(self, record: logging.LogRecord) -> bool:
        """A logging filter: False for Dramatiq's lines about an outage already reported."""
        return not (self.down and record.getMessage().startswith(_CONSUMER_OUTAGE_LINES))


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]


class _Consumer(_RabbitmqConsumer):
    """Dramatiq's consumer, reporting a lost connection, and quiet about its stale tags."""

    reconnect: Reconnect

    def __next__(self):  # type: ignore[no-untyped-def]
        try:
            return super().__next__()
        except BrokerConnectionError as exc:
            # A channel error (a queue deleted: Dramatiq declares it again) is no outage.
            if not isinstance(getattr(exc, "message", None), pika.exceptions.AMQPChannelError):
                self.reconnect.lost(exc)
            raise

    def ack(self, message):  # type: ignore[no-untyped-def]
        if message._tag in self.known_tags:
            super().ack(message)
        else:
            self._stale(message)

    def nack(self, message):  # type: ignore[no-untyped-def]
        if message._tag in self.known_tags:
            super().nack(message)
        else:
            self._stale(message)

    @staticmethod
    def _stale(message: Any) -> None:
        # It came on a connection that has since closed: RabbitMQ took it back then and
        # delivers it again (a sync is safe to repeat); nothing to acknowledge here.
        log.debug("message_settled_by_redelivery", message_id=message.message_id)


def _channel(broker: RabbitmqBroker) -> Any:
    """Dramatiq's ``channel`` getter (this thread's channel, opened on first use), but the
    channel is in ``broker.channels`` before it is asked for publisher confirms.

    Dramatiq (2.2.1) keeps a channel in the thread's state and adds it to ``channels`` only
    once confirms are on: a connection lost in between (RabbitMQ stopping, or starting while
    a slow worker declares its queues) left it out, and the deleter that cleans up after the
    failure raised KeyError from ``channels.remove``, where a lost connection (retried, or
    reported as the outage) belonged.
    """
    channel = getattr(broker.state, "channel", None)
    if channel is None:
        channel = broker.state.channel = broker.connection.channel()
        broker.channels.add(channel)
        if broker.confirm_delivery:
            channel.confirm_delivery()
    return channel


class ReconnectingRabbitmqBroker(RabbitmqBroker):
    """Dramatiq's RabbitMQ broker whose consumers go back through one ``Reconnect``."""

    channel = RabbitmqBroker.channel.getter(_channel)  # its deleter stays Dramatiq's

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reconnect = Reconnect()
        self.add_middleware(self.reconnect)
        consumer = type("Consumer", (_Consumer,), {"reconnect": self.reconnect})
        self._consumer_class = consumer
        # pika logs each failed connection attempt in six lines at ERROR; ours say it in one.
        logging.getLogger("pika").setLevel(logging.CRITICAL)

    @property
    def consumer_class(self):  # type: ignore[no-untyped-def]
        return self._consumer_class

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Any:
        thread_logger = logging.getLogger(f"dramatiq.worker.ConsumerThread({queue_name})")
        if self.reconnect.quiet not in thread_logger.filters:
            thread_logger.addFilter(self.reconnect.quiet)
        consume = super().consume
        return self.reconnect.through(lambda: consume(queue_name, prefetch, timeout))
