"""The actors: ids in, core does the work; idempotent, time-limited, retried only when it helps."""

from __future__ import annotations

from functools import partial

import dramatiq
import structlog
from dramatiq.errors import BrokerConnectionError
from dramatiq.middleware import TimeLimitExceeded
from sqlalchemy.exc import InterfaceError, OperationalError

from core.errors import (
    ConfigError,
    DatabaseUnavailable,
    PlanError,
    SchoolNotFound,
    SourceDataError,
    SourceRefused,
    SourceUnavailable,
    SyncBusy,
    UnknownSource,
)
from core.linking import link_school
from core.plugins import get_plugins
from core.settings import get_settings
from workers import queues
from workers.broker import broker
from workers.database import session_factory
from workers.sync import handle_sync
from workers.timing import check_timing

log = structlog.get_logger()

# Retrying cannot fix these: the message goes to the dead-letter queue at once (the sync run
# already records the reason).
PERMANENT: tuple[type[BaseException], ...] = (
    SourceRefused,
    SourceDataError,
    SchoolNotFound,
    UnknownSource,
    ConfigError,
    PlanError,
    SyncBusy,
)

# Worth another try after a pause: the source or the database was down or slow.
TRANSIENT: tuple[type[BaseException], ...] = (
    SourceUnavailable,
    DatabaseUnavailable,
    OperationalError,
    InterfaceError,
    BrokerConnectionError,
    TimeLimitExceeded,
)


def worth_retrying(retries: int, exception: BaseException, *, max_retries: int) -> bool:
    """Retry transient failures up to ``max_retries`` times; anything else is dead-lettered."""
    return retries < max_retries and isinstance(exception, TRANSIENT)


_settings = get_settings()
check_timing(_settings)

SYNC_OPTIONS = {
    "time_limit": int(_settings.sync_time_limit_seconds * 1000),
    "retry_when": partial(worth_retrying, max_retries=_settings.sync_max_retries),
    "min_backoff": int(_settings.sync_min_backoff_seconds * 1000),
    "max_backoff": int(_settings.sync_max_backoff_seconds * 1000),
    "throws": PERMANENT,
}


@dramatiq.actor(
    actor_name="sync_school",
    queue_name=queues.SYNC_NIGHTLY,
    priority=queues.PRIORITY_NIGHTLY,
    broker=broker,
    **SYNC_OPTIONS,
)
def sync_school(school_id: int, trigger: str = "nightly", since: str | None = None) -> None:
    """Sync one school; ``since`` (ISO 8601) is when the night began: a run since then counts."""
    handle_sync(school_id, trigger, since)


@dramatiq.actor(
    actor_name="sync_school_now",
    queue_name=queues.SYNC_NOW,
    priority=queues.PRIORITY_NOW,
    broker=broker,
    **SYNC_OPTIONS,
)
def sync_school_now(school_id: int, trigger: str = "now") -> None:
    """Sync one school because a person asked, ahead of the nightly backlog."""
    handle_sync(school_id, trigger, None)


@dramatiq.actor(
    actor_name="check_connection",
    queue_name=queues.CONNECTION,
    broker=broker,
    max_retries=0,
    time_limit=60_000,
)
def check_connection(brin6: str) -> None:
    """Run the connection check for a BRIN6 and store the link (e.g. for a nightly re-check)."""
    with session_factory()() as session:
        check = link_school(session, get_plugins(), brin6)
    log.info("connection_checked_async", brin6=brin6, status=check.status.value)
