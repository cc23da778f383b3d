"""End to end: 'koppel check', 'sync' and 'export' against the simulator over mTLS."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cli.main import cli
from core.db import make_engine
from core.hookspecs import hookimpl
from core.models import Group, Pupil, School, Staff
from core.settings import get_settings
from plugins.basispoort.simulator import World


class ConsentObserver:
    """A plugin that records consent_changed calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str, bool]] = []

    @hookimpl
    def koppel_consent_changed(self, school_id: int, source: str, granted: bool) -> None:
        self.calls.append((school_id, source, granted))


@pytest.fixture
def observer() -> ConsentObserver:
    return ConsentObserver()


@pytest.fixture
def koppel_plugins(observer: ConsentObserver) -> list[object]:
    return [observer]


def brin6(world: World, kind: str) -> str:
    return world.school(world.find(kind)).brin6


@pytest.mark.parametrize(
    ("kind", "code", "status"),
    [
        ("consented", 0, "connected"),
        ("no_consent", 4, "no_consent"),
        ("inactive", 5, "inactive"),
        ("merged", 5, "merged"),
    ],
)
def test_check_says_one_sentence_per_outcome(koppel, sim_world: World, kind, code, status):
    exit_code, out = koppel("check", brin6(sim_world, kind), "--json")
    data = json.loads(out)
    assert (exit_code, data["status"]) == (code, status)
    if status == "connected":
        assert data["message_nl"] == "School gevonden en heeft toestemming verleend."


def test_check_of_an_unknown_school_is_not_found(koppel):
    exit_code, out = koppel("check", "99ZZ00")
    assert exit_code == 3
    assert out.startswith("School niet gevonden.")


def test_check_of_a_malformed_brin_says_what_is_wrong(koppel):
    exit_code, _ = koppel("check", "12AB")
    assert exit_code == 1


def test_check_sync_export_equals_what_basispoort_serves(koppel, sim_world: World, observer):
    code = brin6(sim_world, "consented")
    school_id = sim_world.find("consented")
    assert koppel("check", code)[0] == 0
    assert observer.calls and observer.calls[0][1:] == ("basispoort", True)

    exit_code, out = koppel("sync", code, "--json")
    run = json.loads(out)
    assert (exit_code, run["outcome"]) == (0, "succeeded")
    served = sim_world.leerlingen(school_id)["leerlingen"]
    assert run["counts"]["pupils_created"] == len(served)

    exported = json.loads(koppel("export", code, "--json")[1])
    pupils = {p["source_id"]: p for p in exported["pupils"]}
    assert set(pupils) == {str(p["id"]) for p in served}
    for p in served:
        mine = pupils[str(p["id"])]
        names = p["persoonsgegevens"]
        assert mine["names"]["last_name"] == names.get("achternaam")
        assert mine["names"]["prefix"] == names.get("voorvoegsel")
        assert mine["eckid"] == p.get("eckid")
        assert mine["group"] == p.get("groep")
        assert sorted(mine["subgroups"]) == sorted(p.get("subgroepen") or [])
        assert mine["left"] is False
    staff = {s["source_id"]: s for s in exported["staff"]}
    for s in sim_world.staf(school_id)["medewerkers"]:
        assert sorted(staff[str(s["id"])]["roles"]) == sorted(s["rollen"])


def test_a_second_sync_of_an_unchanged_school_writes_no_rows(koppel, sim_world: World):
    code = brin6(sim_world, "consented")
    koppel("check", code)
    koppel("sync", code)
    before = _row_counts()
    exit_code, out = koppel("sync", code, "--json")
    assert json.loads(out)["outcome"] == "unchanged"
    exit_code, out = koppel("sync", code, "--force", "--json")
    run = json.loads(out)
    assert exit_code == 0 and run["outcome"] == "succeeded"
    assert not {k: v for k, v in run["counts"].items() if v and not k.startswith("note_")}
    assert _row_counts() == before


def test_a_night_of_churn_tombstones_and_moves(koppel, sim_world: World):
    code = brin6(sim_world, "consented")
    school_id = sim_world.find("consented")
    koppel("check", code)
    koppel("sync", code)
    left = sim_world.remove_pupils(school_id, 0.05)
    run = json.loads(koppel("sync", code, "--json")[1])
    assert run["counts"]["pupils_left"] == len(left) > 0
    exported = json.loads(koppel("export", code, "--json")[1])
    gone = {p["source_id"] for p in exported["pupils"] if p["left"]}
    assert gone == {str(i) for i in left}


def test_sync_of_an_unlinked_school_tells_to_check_first(koppel):
    result = CliRunner().invoke(cli, ["sync", "12AB00"])
    assert result.exit_code == 1
    assert "koppel check" in result.stderr


def _row_counts() -> dict[str, int]:
    engine = make_engine(get_settings().database_url)
    with engine.connect() as conn:
        counts = {
            m.__tablename__: conn.scalar(select(func.count()).select_from(m))
            for m in (School, Group, Pupil, Staff)
        }
        counts["max_updated"] = str(conn.scalar(select(func.max(Pupil.updated_at))))
    engine.dispose()
    return counts
