"""Where the real servers are: skip on a laptop without them, fail in CI."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from core.db import make_engine


def require_env(var: str, what: str) -> str:
    """The URL in ``var``; without it, skip the test on a laptop and fail it in CI."""
    url = os.environ.get(var)
    if url:
        return url
    message = f"{what} not available: set {var} (scripts/test starts one and sets it)"
    if os.environ.get("CI"):
        pytest.fail(message + " — in CI this is a failure, not a skip")
    pytest.skip(message)


def postgres_url() -> str:
    return require_env("KOPPEL_TEST_POSTGRES_URL", "PostgreSQL")


def rabbitmq_url() -> str:
    return require_env("KOPPEL_TEST_RABBITMQ_URL", "RabbitMQ")


def chromium_path() -> str:
    """Debian's chromium, which Playwright drives (its own browser download is unreachable)."""
    return require_env("KOPPEL_TEST_CHROMIUM", "Chromium")


def kill_backend(backend_pid: int) -> None:
    """End one server process, as a PostgreSQL restart would end them all."""
    admin = make_engine(postgres_url())
    with admin.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend_pid})
    admin.dispose()
