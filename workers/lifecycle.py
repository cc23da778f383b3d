"""The daily lifecycle actors: consent sweep, retention purge, history pruning; core does the work.

All are idempotent (a repeat finds nothing left to do), so RabbitMQ's redeliveries and the
retries of a source that was down are harmless. The scheduler sends them once a day, at the
start of the nightly window (``send_daily``): revocations stop before that night's syncs, and
schools that granted consent are synced that night. A purge that cleared values sends the
storage scrub as a message of its own, so a scrub that could not get its lock is retried
without purging again.
"""

from __future__ import annotations

from datetime import date
from functools import partial

import dramatiq
import structlog

from core.consent import schools_today, sweep_consent
from core.errors import ConfigError, UnknownSource
from core.models import utcnow
from core.plugins import get_plugins
from core.prune import prune_history as prune
from core.retention import purge_revoked as purge
from core.scrub import ScrubIncomplete, checkpoint, engine_of, scrub_storage
from core.settings import get_settings
from workers.actors import worth_retrying
from workers.broker import broker  # decides the broker before the actors below are declared
from workers.database import session_factory
from workers.enqueue import send_now

log = structlog.get_logger()

LIFECYCLE = f"{get_settings().queue_prefix}lifecycle"


def _worth_retrying(retries: int, exception: BaseException, *, max_retries: int) -> bool:
    # A scrub that did not get its lock tries again later, like a source that was down.
    if isinstance(exception, ScrubIncomplete):
        return retries < max_retries
    return worth_retrying(retries, exception, max_retries=max_retries)


_OPTIONS = {
    "queue_name": LIFECYCLE,
    "broker": broker,
    "time_limit": 30 * 60_000,
    "retry_when": partial(_worth_retrying, max_retries=get_settings().sync_max_retries),
    "min_backoff": 60_000,
    "max_backoff": 15 * 60_000,
    "throws": (ConfigError, UnknownSource),
}


@dramatiq.actor(actor_name="consent_sweep", **_OPTIONS)
def consent_sweep(day: str | None = None, source: str = "basispoort") -> None:
    """Record the day's consent grants and revocations; new grants go on the 'sync now' queue.

    Without ``day``: today in the schools' time zone, the day the scheduler would send.
    """
    asked = date.fromisoformat(day) if day else schools_today(get_settings().zone)
    with session_factory()() as session:
        sweep_consent(session, get_plugins(), asked, source, enqueue_sync=send_now)


@dramatiq.actor(actor_name="purge_revoked", **_OPTIONS)
def purge_revoked() -> None:
    """Purge the personal data of schools revoked longer than KOPPEL_RETENTION_DAYS ago."""
    with session_factory()() as session:
        report = purge(session, utcnow(), get_settings().retention_days)
    if report.changed:
        scrub_purged.send()


@dramatiq.actor(actor_name="scrub_purged", **_OPTIONS)
def scrub_purged() -> None:
    """Remove purged values from the database's files (core.scrub)."""
    with session_factory()() as session:
        engine = engine_of(session)
    scrub_storage(engine, rewrite=get_settings().purge_rewrite_tables)


@dramatiq.actor(actor_name="prune_history", **_OPTIONS)
def prune_history() -> None:
    """Delete login audit rows, sync runs and scheduler ticks past their retention."""
    with session_factory()() as session:
        report = prune(session, get_settings())
        engine = engine_of(session)
    if report.changed and not checkpoint(engine):
        log.info("checkpoint_postponed", reason="a reader kept the WAL in use")


def send_daily(day: date) -> None:
    """Queue the day's lifecycle work: a consent sweep for ``day`` of every source with a
    consent feed, the purge, the pruning."""
    swept = consent_feeds()
    for source in swept:
        consent_sweep.send(day.isoformat(), source)
    purge_revoked.send()
    prune_history.send()
    log.info("lifecycle_sent", day=day.isoformat(), consent_sources=swept)


def consent_feeds() -> list[str]:
    """The installed identity sources that list consent changes per day, by name."""
    sources = get_plugins().sources
    return sorted(name for name, source in sources.items() if source.capabilities.consent_feed)
