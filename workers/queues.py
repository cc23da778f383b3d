"""Queue names: nightly syncs and 'sync now' requests go on separate queues of one deployment."""

from __future__ import annotations

from core.settings import get_settings

_PREFIX = get_settings().queue_prefix

# Workers consume both queues side by side, so a request made by a person never waits behind
# the nightly backlog queued in RabbitMQ; the higher Dramatiq priority of the 'sync now' actor
# also puts it first among the messages a worker has already fetched.
SYNC_NIGHTLY = f"{_PREFIX}sync-nightly"
SYNC_NOW = f"{_PREFIX}sync-now"
CONNECTION = f"{_PREFIX}connection"

# Dramatiq priorities: lower runs first among messages a worker has fetched.
PRIORITY_NOW = 0
PRIORITY_NIGHTLY = 10
