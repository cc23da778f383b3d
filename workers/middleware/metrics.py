"""Counts and times every message per actor, for Prometheus (see workers/metrics.py)."""

from __future__ import annotations

import threading
import time
from functools import cache
from typing import Any

from dramatiq import Broker, Middleware
from dramatiq.broker import MessageProxy


@cache
def _instruments() -> tuple[Any, Any]:
    # Once per process: a second broker (tests) must not register the same names again.
    from prometheus_client import Counter, Histogram

    messages = Counter(
        "koppel_messages", "Messages processed, by actor and result.", ["actor", "result"]
    )
    seconds = Histogram(
        "koppel_message_seconds",
        "Time to process one message, by actor.",
        ["actor"],
        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
    )
    return messages, seconds


class Metrics(Middleware):
    """Messages processed per actor and result, and how long each took."""

    def __init__(self) -> None:
        self.messages, self.seconds = _instruments()
        self._started = threading.local()  # a worker thread processes one message at a time

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        self._started.at = time.monotonic()

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        started = getattr(self._started, "at", None)
        if started is not None:
            self.seconds.labels(actor=message.actor_name).observe(time.monotonic() - started)
        outcome = "ok" if exception is None else "error"
        self.messages.labels(actor=message.actor_name, result=outcome).inc()

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        self.messages.labels(actor=message.actor_name, result="skipped").inc()
