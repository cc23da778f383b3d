"""Leases this process could not give back (the database was away): given back at the next chance.

A lease lapses by itself (core/lease.py), but until then its school reads as held: a 'sync now'
waits for it, and a night that ended with the release lost leaves it to look leased. The worker
tries again before its next message, while it idles (workers/runner.py) and as it stops. A
release is fenced by the lease's token: one given back late leaves a successor's lease alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core import lease
from core.lease import Lease

log = structlog.get_logger()


class Unreleased:
    """The leases of this process whose release failed, until one succeeds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._giving = threading.Lock()  # one thread gives back at a time
        self._leases: dict[tuple[int, int], Lease] = {}

    def add(self, held: Lease) -> None:
        with self._lock:
            self._leases[(held.school_id, held.token)] = held

    def give_back(self, sessions: Callable[[], Session]) -> None:
        """Release every lease still owed, through one session from ``sessions``; those the
        database does not take now stay owed."""
        if not self._leases:  # the usual case: no lock, no connection
            return
        if not self._giving.acquire(blocking=False):
            return  # another thread is at it
        with self._lock:
            owed = list(self._leases.values())
        try:
            with sessions() as session:
                for held in owed:
                    released = lease.release(session, held)
                    with self._lock:
                        self._leases.pop((held.school_id, held.token), None)
                    log.info(
                        "lease_released_late",
                        school_id=held.school_id,
                        lease_token=held.token,
                        released=released,  # False: it had lapsed and was taken since
                    )
        except SQLAlchemyError as exc:
            # Still away: its failure was logged once (lease_release_failed); try again later.
            log.debug("lease_release_deferred", leases=len(owed), error=type(exc).__name__)
        finally:
            self._giving.release()


# This process's leases owed (the worker's threads share them).
unreleased = Unreleased()
