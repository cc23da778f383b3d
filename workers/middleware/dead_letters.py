"""Counts and logs every message given up on, as it goes to the dead-letter queue."""

from __future__ import annotations

from functools import cache
from typing import Any

import structlog
from dramatiq import Broker, Middleware
from dramatiq.broker import MessageProxy

from workers.middleware.log_context import school_of

log = structlog.get_logger()


@cache
def _counter() -> Any:
    # Once per process: a second broker (tests) must not register the same name again.
    from prometheus_client import Counter

    return Counter(
        "koppel_dead_letters",
        "Messages given up on (refused, or retried to the limit) and put in the dead-letter "
        "queue, by actor.",
        ["actor"],
    )


class DeadLetters(Middleware):
    """One line and one count per dead letter: the run outcomes alone do not say it."""

    def __init__(self) -> None:
        self.dead_letters = _counter()

    def after_nack(self, broker: Broker, message: MessageProxy) -> None:
        self.dead_letters.labels(actor=message.actor_name).inc()
        log.warning(
            "message_dead_lettered",
            message_id=message.message_id,
            actor=message.actor_name,
            school_id=school_of(message),
            retries=message.options.get("retries", 0),
        )
