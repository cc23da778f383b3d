"""Basispoort answers that go wrong on the way, through the sync actor and the simulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from sqlalchemy.orm import Session, sessionmaker

from core.models import utcnow
from core.plugins import Plugins, make_plugin_manager, set_plugins
from plugins.basispoort.settings import BasispoortSettings
from plugins.basispoort.simulator import SimulatorServer, TLSFiles, World
from plugins.basispoort.source import BasispoortSource
from tests.safety.conftest import BasispoortPlugin, link
from tests.workers.factories import pupils_of, runs_of
from workers import actors
from workers.inprocess import drain


@pytest.fixture
def plugins(sim_server: SimulatorServer, sim_pki: TLSFiles) -> Iterator[Plugins]:
    """The worker's plugins: Basispoort (the simulator) without retries of its own, so that a
    fault reaches the actor."""
    settings = BasispoortSettings(
        url=sim_server.url, cert=sim_pki.client, ca=sim_pki.ca, retries=0, read_timeout=10.0
    )
    source = BasispoortSource(settings)
    found = Plugins(make_plugin_manager(entry_points=False, extra=[BasispoortPlugin(source)]))
    set_plugins(found)
    try:
        yield found
    finally:
        set_plugins(None)
        source.close()


def sync_once(sessions: sessionmaker[Session], world: World) -> int:
    """Link the consented school, send its nightly message (quick retries), run the queue."""
    with sessions() as s:
        school_id = link(s, world, "consented").id
    actors.sync_school.send_with_options(
        kwargs={"school_id": school_id, "since": utcnow().isoformat()},
        min_backoff=20,
        max_backoff=50,
    )
    drain()
    return school_id


@pytest.mark.parametrize("kind", ["truncated", "chunked_cut", "gzip_cut"])
def test_an_answer_cut_short_is_retried_and_the_school_synced(
    worker: Worker,
    stub_broker: StubBroker,
    sessions: sessionmaker[Session],
    sim_server: SimulatorServer,
    sim_world: World,
    kind: str,
) -> None:
    """A status 200 whose body did not arrive whole is a fault on the way, not broken data."""
    sim_server.faults.add(r"/instellingen/\d+$", kind, times=1)  # the overview: every pupil
    school_id = sync_once(sessions, sim_world)
    runs = runs_of(sessions, school_id)
    assert [r.outcome for r in runs] == ["failed", "succeeded"]
    assert runs[0].error and "cut short" in runs[0].error
    assert stub_broker.dead_letters == []
    pupils = sim_world.overview(sim_world.find("consented"))["leerlingen"]
    assert pupils_of(sessions, school_id) == len(pupils) > 0


def test_a_whole_answer_that_is_not_json_is_dead_lettered_at_once(
    worker: Worker,
    stub_broker: StubBroker,
    sessions: sessionmaker[Session],
    sim_server: SimulatorServer,
    sim_world: World,
) -> None:
    """Broken data stays broken: asking again would only repeat the failure every night."""
    sim_server.faults.add(r"/instellingen/\d+$", "garbled", times=1)
    school_id = sync_once(sessions, sim_world)
    runs = runs_of(sessions, school_id)
    assert [r.outcome for r in runs] == ["failed"]
    assert runs[0].error and "not valid JSON" in runs[0].error
    assert [m.kwargs["school_id"] for m in stub_broker.dead_letters] == [school_id]
    assert pupils_of(sessions, school_id) == 0
