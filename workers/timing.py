"""Time limits that keep every message well inside RabbitMQ's consumer timeout."""

from __future__ import annotations

from core.errors import ConfigError
from core.settings import Settings


def check_timing(settings: Settings) -> None:
    """Refuse settings under which a message could stay unacknowledged too long.

    RabbitMQ closes the channel of a consumer that holds a message past ``consumer_timeout``
    (30 min by default) and redelivers everything on it. A worker holds at most
    ``worker_prefetch`` nightly messages per thread, the running one included, so a fetched
    message waits behind at most ``worker_prefetch - 1`` syncs per thread, plus one 'sync now'
    per thread that jumps ahead (they are rare; a burst of them can delay it further): with its
    own, ``worker_prefetch + 1`` time limits. Retry and deferral delays are held unacknowledged
    in the worker until due, so they must stay below the timeout too.
    """
    limit = settings.sync_time_limit_seconds
    timeout = settings.broker_consumer_timeout_seconds
    prefetch = settings.worker_prefetch
    problems = []
    if (prefetch + 1) * limit >= timeout:
        problems.append(
            f"(KOPPEL_WORKER_PREFETCH + 1) * KOPPEL_SYNC_TIME_LIMIT_SECONDS "
            f"(({prefetch} + 1) * {limit:g} s), the longest a fetched message can wait and run, "
            f"must be below KOPPEL_BROKER_CONSUMER_TIMEOUT_SECONDS ({timeout} s): lower the "
            "prefetch or the time limit, or raise RabbitMQ's consumer_timeout and that setting"
        )
    for name, value in (
        ("KOPPEL_SYNC_MAX_BACKOFF_SECONDS", settings.sync_max_backoff_seconds),
        ("KOPPEL_LEASE_SECONDS", settings.lease_seconds),
    ):
        if value >= timeout:
            problems.append(
                f"{name} ({value:g}) must be below KOPPEL_BROKER_CONSUMER_TIMEOUT_SECONDS "
                f"({timeout}): a delayed message is held unacknowledged until it is due"
            )
    if settings.sync_min_backoff_seconds > settings.sync_max_backoff_seconds:
        problems.append("KOPPEL_SYNC_MIN_BACKOFF_SECONDS must not exceed ..._MAX_BACKOFF_SECONDS")
    if problems:
        raise ConfigError("; ".join(problems))
