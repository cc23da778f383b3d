"""What an alert needs about a poison school: its dead letters and its failures in a row."""

from __future__ import annotations

import re
from functools import partial

import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from sqlalchemy.orm import Session, sessionmaker

from core.errors import SourceUnavailable
from core.models import School, utcnow
from tests.workers.factories import SchoolsSource, linked_school, runs_of
from workers import actors
from workers.enqueue import send_nightly
from workers.inprocess import drain
from workers.metrics import FailingSchools


def scrape(sessions: sessionmaker[Session]) -> str:
    registry = CollectorRegistry()
    registry.register(FailingSchools(sessions))
    return generate_latest(registry).decode()


def schools_failing(text: str) -> float:
    found = re.search(r"^koppel_schools_failing (\S+)$", text, re.MULTILINE)
    assert found, text
    return float(found.group(1))


def dead_letters() -> float:
    found = REGISTRY.get_sample_value("koppel_dead_letters_total", {"actor": "sync_school"})
    return found or 0.0


def test_a_poison_school_shows_in_dead_letters_and_failures_in_a_row(
    worker: Worker,
    stub_broker: StubBroker,
    sessions: sessionmaker[Session],
    source: SchoolsSource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        actors.sync_school.options, "retry_when", partial(actors.worth_retrying, max_retries=1)
    )
    monkeypatch.setitem(actors.sync_school.options, "min_backoff", 10)
    poison, healthy = linked_school(sessions), linked_school(sessions)
    with sessions() as s:
        school = s.get(School, poison)
        assert school is not None
        brin6, source_id = school.brin6, school.source_school_id
    source.failing[source_id] = SourceUnavailable("Basispoort answered 503")
    before = dead_letters()
    failing = schools_failing(scrape(sessions))  # other tests' schools share the database
    for _night in range(2):  # every attempt of two nights fails
        for school_id in (poison, healthy):
            send_nightly(school_id, utcnow())
        drain()
    assert [r.outcome for r in runs_of(sessions, poison)] == ["failed"] * 4

    assert dead_letters() - before == 2
    text = scrape(sessions)
    assert f'koppel_school_consecutive_failures{{brin6="{brin6}"}} 4.0' in text
    assert schools_failing(text) == failing + 1  # the healthy school is not counted

    del source.failing[source_id]  # mended: a good run ends the streak
    send_nightly(poison, utcnow())
    drain()
    text = scrape(sessions)
    assert brin6 not in text and schools_failing(text) == failing
