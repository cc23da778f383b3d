"""A school linked from a OneRoster CSV zip (contrib/koppel-oneroster) syncs through the night's
worker path like a Basispoort school: tombstones from a new drop, the safety check, a bad drop."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.connection import ConnectionStatus
from core.linking import link_school
from core.models import HeldPlan, Pupil, School, Staff, utcnow
from core.plugins import Plugins, make_plugin_manager, set_plugins
from tests.workers.factories import runs_of
from workers.enqueue import send_nightly
from workers.inprocess import drain
from workers.sync import known_schools

hooks = pytest.importorskip(
    "koppel_oneroster.hooks", reason="pip install -e contrib/koppel-oneroster (scripts/test does)"
)
SAMPLE = (
    Path(__file__).parents[2] / "contrib" / "koppel-oneroster" / "tests" / "data" / "sample-1.2"
)


@pytest.fixture
def drops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KOPPEL_ONEROSTER_DIR", str(tmp_path / "drops"))
    (tmp_path / "drops").mkdir()
    return tmp_path / "drops"


@pytest.fixture
def plugins(drops: Path) -> Iterator[Plugins]:
    """koppel with the OneRoster plugin's hook module, reading KOPPEL_ONEROSTER_DIR."""
    found = Plugins(make_plugin_manager(entry_points=False, extra=[hooks]))
    set_plugins(found)
    yield found
    set_plugins(None)


def drop(drops: Path, moment: int, **changes: str) -> None:
    """A new zip of the sample package, later than every drop before it."""
    files = {p.name: p.read_text(encoding="utf-8") for p in SAMPLE.glob("*.csv")}
    files |= {f"{name}.csv": text for name, text in changes.items()}
    with zipfile.ZipFile(drops / "school.part", "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    (drops / "school.part").replace(drops / "school.zip")
    os.utime(drops / "school.zip", (moment, moment))


def roles_without(*role_ids: str) -> str:
    lines = (SAMPLE / "roles.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(line for line in lines if line.split(",")[0] not in role_ids)


def night(sessions: sessionmaker[Session], school_id: int) -> str:
    """One night's sync message for the school, handled by the worker; the run's outcome."""
    known_schools.clear()  # the school's state read afresh, as on a worker's first message
    send_nightly(school_id, utcnow())
    drain()
    return runs_of(sessions, school_id)[-1].outcome


def left(sessions: sessionmaker[Session], school_id: int) -> dict[str, bool]:
    with sessions() as s:
        rows = s.scalars(select(Pupil).where(Pupil.school_id == school_id)).all()
        return {p.source_id: p.left_at is not None for p in rows}


def test_the_plugin_is_installed_through_its_entry_point():
    found = {e.name: e.value for e in entry_points(group="koppel")}
    assert found.get("oneroster") == "koppel_oneroster.hooks"


def test_a_oneroster_school_syncs_through_the_night(
    worker, sessions: sessionmaker[Session], plugins: Plugins, drops: Path
) -> None:
    drop(drops, 1_790_000_000)
    with sessions() as s:
        check = link_school(s, plugins, "99XA00", "oneroster")
        assert check.status is ConnectionStatus.CONNECTED
        school_id = s.scalars(select(School.id).where(School.source == "oneroster")).one()

    assert night(sessions, school_id) == "succeeded"
    assert left(sessions, school_id) == {"u-p1": False, "u-p2": False}
    with sessions() as s:
        staff = s.scalars(select(Staff).where(Staff.school_id == school_id)).all()
        assert {m.source_id: tuple(m.roles) for m in staff}["u-t4"] == ("ext:conciërge",)

    assert night(sessions, school_id) == "unchanged"  # the same zip: skipped by its change stamp

    drop(drops, 1_790_000_100, roles=roles_without("r-p2"))  # u-p2 left the school
    assert night(sessions, school_id) == "succeeded"
    assert left(sessions, school_id) == {"u-p1": False, "u-p2": True}  # tombstoned, kept

    drop(drops, 1_790_000_200, roles=roles_without("r-p1", "r-p2"))  # a drop without pupils
    assert night(sessions, school_id) == "held"
    assert left(sessions, school_id) == {"u-p1": False, "u-p2": True}
    with sessions() as s:
        held = s.scalars(select(HeldPlan).where(HeldPlan.school_id == school_id)).one()
        assert held.status == "held"

    (drops / "school.zip").write_bytes(b"not a zip")  # a broken drop
    assert night(sessions, school_id) == "failed"
    run = runs_of(sessions, school_id)[-1]
    assert "school.zip is not a zip file" in run.error
    assert left(sessions, school_id) == {"u-p1": False, "u-p2": True}
