"""Binds the message id, actor and school id to every log line of a message, then clears them."""

from __future__ import annotations

from typing import Any

import structlog
from dramatiq import Broker, Middleware
from dramatiq.broker import MessageProxy


class LogContext(Middleware):
    """Log context per message: bound before the actor runs, cleared whatever its outcome.

    Binds ``message_id``, ``actor`` and ``retries``, and ``school_id`` when the actor takes one;
    the sync engine adds ``run_id`` while its run is recorded.
    """

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        structlog.contextvars.clear_contextvars()
        context: dict[str, Any] = {
            "message_id": message.message_id,
            "actor": message.actor_name,
            "retries": message.options.get("retries", 0),
        }
        school_id = school_of(message)
        if school_id is not None:
            context["school_id"] = school_id
        structlog.contextvars.bind_contextvars(**context)

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        structlog.contextvars.clear_contextvars()

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        structlog.contextvars.clear_contextvars()


def school_of(message: MessageProxy) -> int | None:
    """The school id a message is about, if its actor takes one."""
    school_id = message.kwargs.get("school_id")
    if school_id is None and message.args and isinstance(message.args[0], int):
        school_id = message.args[0]
    return school_id
