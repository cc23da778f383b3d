"""What every command needs: settings, logging, a database session and the plugins."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import click
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, make_sessionmaker
from core.errors import KoppelError
from core.plugins import Plugins, get_plugins
from core.settings import get_settings


@cache
def session_factory() -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(get_settings().database_url))


@contextmanager
def session() -> Iterator[Session]:
    """A session for one command; commits are the domain code's, this only closes."""
    s = session_factory()()
    try:
        yield s
    finally:
        s.close()


def plugins() -> Plugins:
    return get_plugins()


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def fail(exc: KoppelError, code: int = 1) -> None:
    """Print a KoppelError as one readable line (no traceback) and exit."""
    click.echo(f"error: {exc}", err=True)
    sys.exit(code)
