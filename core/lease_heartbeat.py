"""Keeping a lease while its holder works: renewed from a thread of its own, never revived.

A lease is short (KOPPEL_LEASE_SECONDS, a minute), so the schools of a worker that died are
free again within that; a live worker's sync may run much longer, and renews its lease every
third of it. A renewal only extends a lease that still holds (core.lease.renew): once a lease
lapsed, say because the worker stalled or the database was down longer than the lease, it
stays lapsed, another worker may take the school, and the fence still stops the old holder's
commit. Renewals stop at ``until`` (the sync's time limit and a little), so a thread that
cannot be interrupted does not hold its school for ever.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.errors import LeaseLost
from core.lease import Lease, renew

log = structlog.get_logger()

# Renewals per lease length: two may fail (the database busy or briefly away) before it lapses.
BEATS_PER_LEASE = 3


class Heartbeat:
    """Renews ``held`` for ``seconds`` at a time through sessions from ``sessions``."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        held: Lease,
        seconds: float,
        *,
        until: datetime | None = None,
    ) -> None:
        self.sessions = sessions
        self.held = held
        self.seconds = seconds
        self.until = until
        self.every = seconds / BEATS_PER_LEASE
        self._stop = threading.Event()

    def beat(self) -> bool:
        """Renew the lease once; False when it is lost or past ``until`` (no more beats)."""
        held = self.held
        if self.until is not None and held.clock() >= self.until:
            log.warning("lease_not_renewed", school_id=held.school_id, reason="past the time limit")
            return False
        try:
            with self.sessions() as session:
                self.held = renew(session, held, self.seconds)
        except LeaseLost:
            # The holder learns it at its fence; nothing here may revive the lease.
            log.warning("lease_lost", school_id=held.school_id, lease_token=held.token)
            return False
        except SQLAlchemyError as exc:
            # Try again at the next beat; if the database stays away, the lease lapses.
            log.warning("lease_renewal_failed", school_id=held.school_id, error=type(exc).__name__)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.every) and self.beat():
            pass

    @contextmanager
    def running(self) -> Iterator[Heartbeat]:
        """Beat in a background thread until the block ends."""
        thread = threading.Thread(
            target=self._run, name=f"lease-heartbeat-{self.held.school_id}", daemon=True
        )
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            # Not waited for long: a late renewal finds the lease released or taken (another
            # owner or token) and changes nothing.
            thread.join(timeout=self.every)
