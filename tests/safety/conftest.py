"""Safety fixtures: the Basispoort simulator as koppel's source, a fixed budget, linked schools."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.hookspecs import hookimpl
from core.models import School
from core.plugins import Plugins, make_plugin_manager
from core.settings import Settings, load_settings
from core.sync import safety
from plugins.basispoort.settings import BasispoortSettings
from plugins.basispoort.simulator import SimulatorServer, TLSFiles, World
from plugins.basispoort.source import BasispoortSource


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
        monkeypatch.setattr(safety, "get_settings", lambda: settings)
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
