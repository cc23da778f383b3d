"""Console fixtures: a fresh database per backend, an operator, the real app served over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Page
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.db import make_engine, make_sessionmaker
from core.operators import add_operator
from core.plugins import Plugins, make_plugin_manager
from core.settings import Settings, load_settings
from tests.conftest import BACKENDS, migrated_database
from tests.live_server import serve

TOKEN = "console-test-token-0123456789"
SECRET = "console-test-secret-0123456789abcdef"
NAME, PASSWORD = "anna", "correct horse battery"


def console_settings(url: str, **overrides: Any) -> Settings:
    return load_settings(
        **{
            "database_url": url,
            "api_tokens": [TOKEN],
            "web_secret": SECRET,
            "operator_failure_delay_seconds": 0.05,
            "operator_max_failures": 3,
            **overrides,
        }
    )


@pytest.fixture(params=BACKENDS)
def console_url(request, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A migrated database of the test's own (the console shows every school and night)."""
    return migrated_database(request.param, tmp_path)


@pytest.fixture
def console_engine(console_url: str) -> Iterator[Engine]:
    engine = make_engine(console_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(console_engine: Engine) -> sessionmaker[Session]:
    factory = make_sessionmaker(console_engine)
    with factory() as s:
        add_operator(s, NAME, PASSWORD, console_settings("sqlite://"))
    return factory


@dataclass
class Console:
    url: str
    settings: Settings


@pytest.fixture
def serve_console(
    console_url: str, sessions: sessionmaker[Session]
) -> Iterator[Callable[..., Console]]:
    """Start the real app on the test's database; keyword arguments override settings."""
    stack = ExitStack()

    def start(plugins: Plugins | None = None, **overrides: Any) -> Console:
        settings = console_settings(console_url, **overrides)
        app = create_app(
            settings,
            session_factory=sessions,
            plugins=plugins or Plugins(make_plugin_manager(entry_points=False)),
        )
        return Console(stack.enter_context(serve(app)), settings)

    with stack:
        yield start


@pytest.fixture
def console(serve_console: Callable[..., Console]) -> Console:
    return serve_console()


def sign_in(tab: Page, base: str, name: str = NAME, password: str = PASSWORD) -> None:
    """Fill in the sign-in form as a person would, and send it with Enter."""
    tab.goto(f"{base}/console/sign-in")
    tab.get_by_label("Naam").fill(name)
    tab.get_by_label("Wachtwoord").fill(password)
    tab.get_by_label("Wachtwoord").press("Enter")
    tab.wait_for_load_state()
