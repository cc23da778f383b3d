"""The worker process's sessions: built once from the settings, replaceable for tests and demos."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, make_sessionmaker
from core.settings import get_settings

_factory: sessionmaker[Session] | None = None


def session_factory() -> sessionmaker[Session]:
    """The process-wide session factory, built on first use from KOPPEL_DATABASE_URL."""
    global _factory
    if _factory is None:
        _factory = make_sessionmaker(make_engine(get_settings().database_url))
    return _factory


def set_session_factory(factory: sessionmaker[Session] | None) -> None:
    """Use ``factory`` for every message from now on (None: back to the settings)."""
    global _factory
    _factory = factory
