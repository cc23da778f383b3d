"""What every request needs (settings, sessions, plugins), kept on the app and handed to routes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from core.api_token import ApiToken
from core.db import reads_in_autocommit
from core.plugins import Plugins
from core.settings import Settings


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    session_factory: Callable[[], Session]
    plugins: Plugins
    tokens: tuple[ApiToken, ...]
    # Sessions on connections that stay in autocommit (PostgreSQL; see autocommit_session).
    autocommit_factory: Callable[[], Session] | None = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One session per request, closed before the answer leaves (uncommitted work is
        rolled back). Not a yield-dependency: FastAPI may run their exit after the response."""
        session = self.session_factory()
        try:
            yield session
        finally:
            session.close()

    @contextmanager
    def autocommit_session(self) -> Iterator[Session]:
        """A session whose statements each commit on their own on PostgreSQL, without BEGIN and
        COMMIT round trips (core.db.reads_in_autocommit): for a request that reads and writes
        only rows that stand alone, a login's. Its connections come from a pool of their own,
        so none is switched to autocommit and back at every request."""
        own_pool = self.autocommit_factory is not None
        session = self.autocommit_factory() if own_pool else self.session_factory()
        try:
            if not own_pool:  # a test's sessions, or SQLite's (which stay as they are)
                reads_in_autocommit(session)
            yield session
        finally:
            session.close()


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


async def request_services(request: Request) -> Services:
    """``services`` as a route's dependency: async, so FastAPI calls it on the event loop
    instead of handing it to a thread (which cost more than the call)."""
    return services(request)


Svc = Annotated[Services, Depends(request_services)]
