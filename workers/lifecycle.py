"""The daily lifecycle actors: the consent sweep and the retention purge; core does the work.

Both are idempotent (a repeat finds nothing left to do), so RabbitMQ's redeliveries and the
retries of a source that was down are harmless. The scheduler sends both once a day, at the
start of the nightly window (``send_daily``): revocations stop before that night's syncs, and
schools that granted consent are synced that night.
"""

from __future__ import annotations

from datetime import date
from functools import partial

import dramatiq
import structlog

from core.consent import sweep_consent
from core.errors import ConfigError, UnknownSource
from core.models import utcnow
from core.plugins import get_plugins
from core.retention import purge_revoked as purge
from core.settings import get_settings
from workers.actors import worth_retrying
from workers.broker import broker  # decides the broker before the actors below are declared
from workers.database import session_factory
from workers.enqueue import send_now

log = structlog.get_logger()

LIFECYCLE = f"{get_settings().queue_prefix}lifecycle"

_OPTIONS = {
    "queue_name": LIFECYCLE,
    "broker": broker,
    "time_limit": 30 * 60_000,
    "retry_when": partial(worth_retrying, max_retries=get_settings().sync_max_retries),
    "min_backoff": 60_000,
    "max_backoff": 15 * 60_000,
    "throws": (ConfigError, UnknownSource),
}


@dramatiq.actor(actor_name="consent_sweep", **_OPTIONS)
def consent_sweep(day: str | None = None, source: str = "basispoort") -> None:
    """Record the day's consent grants and revocations; new grants go on the 'sync now' queue."""
    asked = date.fromisoformat(day) if day else utcnow().date()
    with session_factory()() as session:
        sweep_consent(session, get_plugins(), asked, source, enqueue_sync=send_now)


@dramatiq.actor(actor_name="purge_revoked", **_OPTIONS)
def purge_revoked() -> None:
    """Purge the personal data of schools revoked longer than KOPPEL_RETENTION_DAYS ago."""
    with session_factory()() as session:
        purge(session, utcnow(), get_settings().retention_days)


def send_daily(day: date) -> None:
    """Queue the day's lifecycle work: the consent sweep for ``day``, then the purge."""
    consent_sweep.send(day.isoformat())
    purge_revoked.send()
    log.info("lifecycle_sent", day=day.isoformat())
