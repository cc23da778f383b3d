"""Safety fixtures: the Basispoort simulator as koppel's source, a fixed budget, linked schools."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.db import make_engine, make_sessionmaker
from core.hookspecs import hookimpl
from core.models import LoginDenial, School
from core.plugins import Plugins, make_plugin_manager, set_plugins
from core.settings import Settings, get_settings, load_settings
from plugins.basispoort.settings import BasispoortSettings
from plugins.basispoort.simulator import SimulatorServer, TLSFiles, World
from plugins.basispoort.source import BasispoortSource
from tests.conftest import BACKENDS, migrated_database
from workers.broker import broker
from workers.database import set_session_factory
from workers.inprocess import make_worker, stop_worker


# Tests must not depend on the day they run: the season is put where "today" is not, unless a
# test puts it around today on purpose.
def _month_day(day: date) -> str:
    return f"{day.month:02d}-{day.day:02d}"


def off_season(today: date | None = None) -> dict[str, str]:
    today = today or date.today()
    return {
        "safety_season_start": _month_day(today + timedelta(days=100)),
        "safety_season_end": _month_day(today + timedelta(days=130)),
    }


def in_season(today: date | None = None) -> dict[str, str]:
    today = today or date.today()
    return {
        "safety_season_start": _month_day(today - timedelta(days=3)),
        "safety_season_end": _month_day(today + timedelta(days=3)),
    }


@pytest.fixture(autouse=True)
def budget(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    """The safety check's settings: the defaults, off season; call it to change them."""

    def use(**overrides: Any) -> Settings:
        settings = load_settings(**{**off_season(), **overrides})
        for name in Settings.model_fields:
            if name.startswith("safety_"):
                monkeypatch.setattr(get_settings(), name, getattr(settings, name))
        return settings

    use()
    return use


class ConsentObserver:
    """A plugin recording koppel_consent_changed calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, bool]] = []

    @hookimpl
    def koppel_consent_changed(self, school_id: int, source: str, granted: bool) -> None:
        self.calls.append((school_id, granted))


class BasispoortPlugin:
    """Registers one BasispoortSource talking to the simulator over mTLS."""

    def __init__(self, source: BasispoortSource) -> None:
        self.source = source

    @hookimpl
    def koppel_register_identity_sources(self, register: Callable[[Any], None]) -> None:
        register(self.source)


@pytest.fixture
def observer() -> ConsentObserver:
    return ConsentObserver()


@pytest.fixture
def sim_plugins(
    sim_server: SimulatorServer,
    sim_pki: TLSFiles,
    observer: ConsentObserver,
) -> Iterator[Plugins]:
    """Plugins with only the Basispoort source (pointed at the simulator) and the observer."""
    source = BasispoortSource(
        BasispoortSettings(
            url=sim_server.url,
            cert=sim_pki.client,
            ca=sim_pki.ca,
            retries=1,
            backoff=0.001,
            read_timeout=10.0,
            ipadressen=True,
        )
    )
    try:
        yield Plugins(
            make_plugin_manager(entry_points=False, extra=[BasispoortPlugin(source), observer])
        )
    finally:
        source.close()


def link(db: Session, world: World, kind_or_id: str | int) -> School:
    """A school row for a simulator school, with consent; the simulator's BRIN6 and id.

    Any row a previous test left for the same source school is moved aside first (the BRIN6
    and source id are unique; the simulator's are the same in every test).
    """
    source_school_id = kind_or_id if isinstance(kind_or_id, int) else world.find(kind_or_id)
    header = world.school(source_school_id)
    unlink(db, world, source_school_id)
    school = School(
        brin=header.brin,
        location_code=header.location,
        source="basispoort",
        source_school_id=str(source_school_id),
        consent="granted",
    )
    db.add(school)
    db.commit()
    return school


def unlink(db: Session, world: World, source_school_id: int) -> None:
    """Move aside any row a previous test left for this simulator school (BRIN6 or id)."""
    header = world.school(source_school_id)
    brin, location = header.brin, header.location
    for old in db.scalars(
        select(School).where(
            ((School.brin == brin) & (School.location_code == location))
            | ((School.source == "basispoort") & (School.source_school_id == str(source_school_id)))
        )
    ):
        token = uuid.uuid4().hex
        old.brin, old.location_code = token[:4].upper(), token[4:6]
        old.source_school_id = f"old-{token[6:20]}"
        old.consent = "none"
    db.commit()


def denied_login(school_id: int, person_id: int | None, client_address: str) -> LoginDenial:
    """An audit row as the login API writes it for a pupil outside the school's networks."""
    return LoginDenial(
        school_id=school_id,
        person_kind="pupil",
        person_id=person_id,
        policy="ip_restriction",
        reason="buiten school\noutside school",
        client_address=client_address,
    )


@pytest.fixture(params=BACKENDS)
def own_db_url(request, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A migrated database of the test's own, per backend: for tests that read whole files."""
    return migrated_database(request.param, tmp_path)


@pytest.fixture
def own_engine(own_db_url: str) -> Iterator[Engine]:
    engine = make_engine(own_db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def own_worker(own_engine: Engine, sim_plugins: Plugins) -> Iterator[None]:
    """An in-process worker on the stub broker, the test's own database and the simulator."""
    assert isinstance(broker, StubBroker)
    broker.flush_all()
    set_session_factory(make_sessionmaker(own_engine))
    set_plugins(sim_plugins)
    running = make_worker(threads=1)
    running.start()
    try:
        yield
    finally:
        stop_worker(running, timeout_seconds=10)
        set_plugins(None)
        set_session_factory(None)
        broker.flush_all()
