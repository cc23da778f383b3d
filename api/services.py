"""What every request needs (settings, sessions, plugins), kept on the app and handed to routes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session

from core.plugins import Plugins
from core.settings import Settings


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    session_factory: Callable[[], Session]
    plugins: Plugins
    tokens: tuple[bytes, ...]


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def db_session(request: Request) -> Iterator[Session]:
    """One session per request; routes commit what they change, anything else is rolled back."""
    session = services(request).session_factory()
    try:
        yield session
    finally:
        session.close()
