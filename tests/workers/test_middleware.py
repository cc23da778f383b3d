"""The log context per message, and the timing rules that keep messages within the broker."""

from __future__ import annotations

import pytest
import structlog
from dramatiq import Message
from dramatiq.broker import MessageProxy

from core.errors import ConfigError
from core.settings import get_settings, load_settings
from workers.broker import broker
from workers.inprocess import make_worker
from workers.middleware import LogContext
from workers.timing import check_timing


def test_a_message_binds_its_ids_to_the_log_context_and_clears_them_after() -> None:
    structlog.contextvars.bind_contextvars(left_over="from an earlier message")
    message = MessageProxy(
        Message(
            queue_name="q",
            actor_name="sync_school",
            args=(),
            kwargs={"school_id": 42, "trigger": "nightly"},
            options={"retries": 2},
        )
    )
    context = LogContext()
    context.before_process_message(broker, message)
    bound = structlog.contextvars.get_contextvars()
    assert bound == {
        "message_id": message.message_id,
        "actor": "sync_school",
        "retries": 2,
        "school_id": 42,
    }
    context.after_process_message(broker, message, exception=RuntimeError("boom"))
    assert structlog.contextvars.get_contextvars() == {}


def test_the_default_timing_fits_rabbitmqs_consumer_timeout() -> None:
    settings = load_settings()
    assert settings.worker_prefetch == 2  # (2 + 1) * 300 s < 1800 s
    check_timing(settings)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"lease_seconds": 1800}, "KOPPEL_LEASE_SECONDS"),
        ({"sync_time_limit_seconds": 900, "lease_seconds": 1000}, "KOPPEL_WORKER_PREFETCH"),
        ({"sync_max_backoff_seconds": 3600}, "KOPPEL_SYNC_MAX_BACKOFF_SECONDS"),
        ({"sync_min_backoff_seconds": 900}, "MIN_BACKOFF"),
    ],
)
def test_timing_that_could_outlive_the_consumer_timeout_is_refused(
    overrides: dict[str, float], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        check_timing(load_settings(**overrides))


def test_a_deep_prefetch_is_refused_naming_the_variables_to_change() -> None:
    # (5 + 1) * 300 s could reach RabbitMQ's 1800 s before the last fetched message is acknowledged
    settings = load_settings(
        worker_prefetch=5, sync_time_limit_seconds=300, broker_consumer_timeout_seconds=1800
    )
    with pytest.raises(ConfigError) as refused:
        check_timing(settings)
    for variable in (
        "KOPPEL_WORKER_PREFETCH",
        "KOPPEL_SYNC_TIME_LIMIT_SECONDS",
        "KOPPEL_BROKER_CONSUMER_TIMEOUT_SECONDS",
    ):
        assert variable in str(refused.value)


def test_the_worker_fetches_prefetch_messages_per_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOPPEL_WORKER_PREFETCH", "3")
    get_settings.cache_clear()
    try:
        assert make_worker(threads=4).queue_prefetch == 12
    finally:
        get_settings.cache_clear()
