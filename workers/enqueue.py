"""Sending sync messages; a returned message is one RabbitMQ confirmed it has taken."""

from __future__ import annotations

from datetime import datetime

from dramatiq import Message

from workers.actors import sync_school, sync_school_now


def send_nightly(school_id: int, night_start: datetime) -> Message[None]:
    """Queue a school's nightly sync; any run after ``night_start`` settles it."""
    return sync_school.send_with_options(
        kwargs={"school_id": school_id, "trigger": "nightly", "since": night_start.isoformat()}
    )


def send_now(school_id: int) -> Message[None]:
    """Queue a school's sync on the 'sync now' queue, which goes ahead of the nightly backlog."""
    return sync_school_now.send_with_options(kwargs={"school_id": school_id})
