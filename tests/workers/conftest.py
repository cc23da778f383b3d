"""Worker fixtures: the stub broker with an in-process worker, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_sessionmaker
from core.plugins import Plugins, set_plugins
from tests.fakes import FakeSourcePlugin, fake_plugins
from tests.workers.factories import SchoolsSource
from workers.broker import broker
from workers.database import set_session_factory
from workers.inprocess import make_worker, stop_worker


@pytest.fixture
def stub_broker() -> Iterator[StubBroker]:
    assert isinstance(broker, StubBroker), "unit tests run without KOPPEL_BROKER_URL"
    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture
def sessions(db_engine: Engine) -> Iterator[sessionmaker[Session]]:
    """The worker's sessions, on the test database of this backend."""
    factory = make_sessionmaker(db_engine)
    set_session_factory(factory)
    yield factory
    set_session_factory(None)


@pytest.fixture
def source() -> SchoolsSource:
    return SchoolsSource()


@pytest.fixture
def registered(source: SchoolsSource) -> Iterator[tuple[Plugins, FakeSourcePlugin]]:
    """The fake source's plugins, set for the workers, and the plugin recording the hooks."""
    found, recording = fake_plugins(source)
    set_plugins(found)
    yield found, recording
    set_plugins(None)


@pytest.fixture
def plugins(registered: tuple[Plugins, FakeSourcePlugin]) -> Plugins:
    return registered[0]


@pytest.fixture
def plugin(registered: tuple[Plugins, FakeSourcePlugin]) -> FakeSourcePlugin:
    return registered[1]


@pytest.fixture
def worker(
    stub_broker: StubBroker, sessions: sessionmaker[Session], plugins: Plugins
) -> Iterator[Worker]:
    """A started one-thread worker; ``workers.inprocess.drain()`` waits for it to finish."""
    running = make_worker(threads=1)
    running.start()
    yield running
    stop_worker(running, timeout_seconds=10)
