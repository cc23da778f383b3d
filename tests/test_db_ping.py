"""Workers' connections are checked only after sitting idle: what that buys and what it costs."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from core.db import make_engine
from tests.servers import kill_backend, postgres_url


def _backend_pid(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT pg_backend_pid()")))


def test_an_idle_connection_that_died_is_replaced_before_use() -> None:
    engine = make_engine(postgres_url(), ping_after_idle=0.05, pool_size=1)
    try:
        first = _backend_pid(engine)
        kill_backend(first)
        time.sleep(0.1)  # idle longer than the limit: checked at checkout, found dead
        assert _backend_pid(engine) != first
    finally:
        engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_checked_and_fails_once() -> None:
    engine = make_engine(postgres_url(), ping_after_idle=60, pool_size=1)
    try:
        first = _backend_pid(engine)
        kill_backend(first)
        # Not idle long enough to be checked: the statement meets the dead connection (the
        # worker's message is retried), and the pool replaces its connections after that.
        with pytest.raises(OperationalError):
            _backend_pid(engine)
        assert _backend_pid(engine) != first
    finally:
        engine.dispose()


def test_without_the_option_every_checkout_is_checked() -> None:
    engine = make_engine(postgres_url(), pool_size=1)
    try:
        first = _backend_pid(engine)
        kill_backend(first)
        assert _backend_pid(engine) != first
    finally:
        engine.dispose()
