"""The one module that decides the broker, before any actor is declared.

RabbitMQ when KOPPEL_BROKER_URL is set (publisher confirms on: a message RabbitMQ did not take
raises instead of being counted as sent; after an outage its consumers reconnect with backoff,
see workers/reconnect.py); otherwise the in-process stub broker, for the embedded
demo and the unit tests. Dead letters: RabbitMQ's broker declares ``<queue>.XQ`` beside every
queue and routes rejected messages there (kept 7 days); the stub broker keeps them in
``broker.dead_letters``.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage

from core.errors import ConfigError
from core.settings import get_settings
from workers.middleware import DeadLetters, LogContext, Metrics
from workers.reconnect import ReconnectingRabbitmqBroker


def make_broker(url: str | None) -> dramatiq.Broker:
    """A RabbitMQ broker for ``url``, or the stub broker when there is none."""
    chosen: dramatiq.Broker
    if url:
        try:
            chosen = ReconnectingRabbitmqBroker(url=url, confirm_delivery=True)
        except Exception as exc:  # pika's own parse errors; the URL holds a password: not shown
            raise ConfigError(
                f"KOPPEL_BROKER_URL is not a usable RabbitMQ URL ({type(exc).__name__})",
                hint="use amqp://user:password@host:5672/%2F",
            ) from None
    else:
        chosen = StubBroker()
    # First in line, so its context is bound before, and cleared after, every other
    # middleware's log lines about the message (retries, time limits).
    chosen.add_middleware(LogContext(), before=type(chosen.middleware[0]))
    chosen.add_middleware(CurrentMessage())
    chosen.add_middleware(Metrics())
    chosen.add_middleware(DeadLetters())
    return chosen


broker = make_broker(get_settings().broker_url)
dramatiq.set_broker(broker)


def is_in_process() -> bool:
    """True when messages never leave this process (no KOPPEL_BROKER_URL)."""
    return isinstance(broker, StubBroker)
