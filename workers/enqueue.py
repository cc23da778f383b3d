"""Sending sync messages; a returned message (or count) is one RabbitMQ confirmed it has taken."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from dramatiq import Message
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from workers.actors import sync_school, sync_school_now
from workers.broker import broker
from workers.publish import publish_batched


def nightly_kwargs(school_id: int, night_start: datetime) -> dict[str, Any]:
    return {"school_id": school_id, "trigger": "nightly", "since": night_start.isoformat()}


def nightly_message(school_id: int, night_start: datetime) -> Message[None]:
    """A school's nightly sync message, built as ``send_with_options`` builds it."""
    return sync_school.message_with_options(kwargs=nightly_kwargs(school_id, night_start))


def send_nightly(school_id: int, night_start: datetime) -> Message[None]:
    """Queue a school's nightly sync; any run after ``night_start`` settles it."""
    return sync_school.send_with_options(kwargs=nightly_kwargs(school_id, night_start))


def send_nightly_many(school_ids: Sequence[int], night_start: datetime) -> int:
    """Queue many schools' nightly syncs; returns how many, once RabbitMQ has taken them all.

    On RabbitMQ they go in transactions of a few hundred (workers/publish.py) instead of one
    confirm round trip each; in process they go one by one to the stub broker.
    """
    if not isinstance(broker, RabbitmqBroker):
        for school_id in school_ids:
            send_nightly(school_id, night_start)
        return len(school_ids)
    return publish_batched(broker, (nightly_message(sid, night_start) for sid in school_ids))


def send_now(school_id: int) -> Message[None]:
    """Queue a school's sync on the 'sync now' queue, which goes ahead of the nightly backlog."""
    return sync_school_now.send_with_options(kwargs={"school_id": school_id})
