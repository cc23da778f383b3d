"""The registered clients as sign-ins use them, kept per process so a login need not read them.

A client never changes after ``koppel oidc clients add``; it can only be removed. So the
process keeps what it read for ``CLIENT_SECONDS`` and asks the database again only for a
client_id it has not seen (a client added a moment ago works at once). A removed client stops
at once all the same: its codes and tokens go with it, and the statements that store a new
code or pending sign-in insert nothing for a client that is gone (core.oidc.codes). The
cache only decides how soon the refusal says ``invalid_client`` instead.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import OidcClient

CLIENT_SECONDS = 30.0
# What add_client makes (token_urlsafe): anything else is unknown without asking the database.
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class Client:
    """A registered client, as stored when it was read."""

    id: int
    name: str
    client_id: str
    secret_salt: str
    secret_hash: str
    redirect_uris: tuple[str, ...]
    initiate_login_uri: str | None

    @classmethod
    def of(cls, row: OidcClient) -> Client:
        return cls(
            row.id,
            row.name,
            row.client_id,
            row.secret_salt,
            row.secret_hash,
            tuple(row.redirect_uris),
            row.initiate_login_uri,
        )


class ClientCache:
    """Every registered client, read again after ``seconds``; one for the process."""

    def __init__(
        self, seconds: float = CLIENT_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._read_at = 0.0
        self._clients: dict[str, Client] | None = None

    def find(self, session: Session, client_id: str) -> Client | None:
        """The client, or None when there is none with that id (the database says so)."""
        if not _CLIENT_ID.fullmatch(client_id):
            return None
        found = self._all(session).get(client_id)
        if found is not None:
            return found
        # Registered since the last read? One query, as every lookup was without the cache.
        row = session.scalar(select(OidcClient).where(OidcClient.client_id == client_id))
        if row is None:
            return None
        with self._lock:
            if self._clients is not None:
                self._clients = {**self._clients, client_id: Client.of(row)}
        return Client.of(row)

    def for_initiated_login(self, session: Session, hint: str) -> Client | None:
        """Where a sign-in nobody asked for goes: the client ``hint`` names, or the only one
        that can start a login (has an initiate_login_uri); None when that is not one client."""
        return _initiating(self._all(session).values(), hint)

    def forget(self, client_id: str) -> None:
        """The database says the client is gone: do not offer it until the next read."""
        with self._lock:
            if self._clients is not None and client_id in self._clients:
                self._clients = {k: v for k, v in self._clients.items() if k != client_id}

    def _all(self, session: Session) -> dict[str, Client]:
        now = self._clock()
        with self._lock:
            clients, read_at = self._clients, self._read_at
        if clients is not None and now - read_at < self.seconds:
            return clients
        clients = {row.client_id: Client.of(row) for row in session.scalars(select(OidcClient))}
        with self._lock:
            self._clients, self._read_at = clients, now
        return clients


def _initiating(clients: Iterable[Client], hint: str) -> Client | None:
    starting = sorted((c for c in clients if c.initiate_login_uri), key=lambda c: c.name)
    named = [c for c in starting if hint in (c.name, c.client_id)]
    if named:
        return named[0]
    return starting[0] if len(starting) == 1 else None
