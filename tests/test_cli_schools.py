"""'koppel schools list' and 'koppel networks', through the installed command, on both backends."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from core.db import make_engine
from core.models import School, SchoolNetwork, SyncRun
from tests.cli_process import one_line_error, run_koppel
from tests.conftest import BACKENDS, migrated_database
from tests.login.conftest import add_school

SUMMER = datetime(2026, 7, 1, 0, 30, tzinfo=UTC)  # 02:30 in Amsterdam (CEST)
WINTER = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)  # 01:30 in Amsterdam (CET)


def seeded(url: str) -> dict[str, School]:
    """Three schools: one synced (failed, then succeeded), one never, one revoked and held."""
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as db:
        synced = add_school(db)
        never = add_school(db, consent="none")
        revoked = add_school(db, consent="revoked", active=False)
        synced.name, never.name, revoked.name = "De Regenboog", "Het Anker", None
        for school, outcome, at in (
            (synced, "failed", SUMMER),
            (synced, "succeeded", WINTER),
            (revoked, "held", SUMMER),
        ):
            db.add(SyncRun(school_id=school.id, outcome=outcome, started_at=at, finished_at=at))
        db.add(SchoolNetwork(school_id=synced.id, network="203.0.113.0/24", origin="basispoort"))
        db.commit()
    engine.dispose()
    return {"synced": synced, "never": never, "revoked": revoked}


@pytest.mark.parametrize("backend", BACKENDS)
def test_schools_list_one_line_each_with_the_latest_run(tmp_path: Path, backend: str):
    url = migrated_database(backend, tmp_path)
    schools = seeded(url)
    env = {"KOPPEL_DATABASE_URL": url}

    listed = run_koppel("schools", "list", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()}
    assert sorted(lines) == sorted(school.brin6 for school in schools.values())
    synced, never, revoked = (lines[schools[k].brin6] for k in ("synced", "never", "revoked"))
    assert synced.split()[1:5] == ["granted", "active", "succeeded", "2026-12-01"]
    assert "01:30" in synced and synced.endswith("De Regenboog")
    assert never.split()[1:4] == ["none", "active", "never"] and never.endswith("Het Anker")
    assert revoked.split()[1:6] == ["revoked", "inactive", "held", "2026-07-01", "02:30"]

    def brins(*args: str) -> list[str]:
        found = run_koppel("schools", "list", "--json", *args, env=env, cwd=tmp_path)
        assert found.returncode == 0, found.stderr
        return [entry["brin6"] for entry in json.loads(found.stdout)]

    assert brins("--outcome", "never") == [schools["never"].brin6]
    assert brins("--outcome", "held", "--outcome", "succeeded") == sorted(
        [schools["revoked"].brin6, schools["synced"].brin6]
    )
    assert brins("--consent", "granted", "--outcome", "failed") == []  # only the latest counts
    data = json.loads(run_koppel("schools", "list", "--json", env=env, cwd=tmp_path).stdout)
    first = next(entry for entry in data if entry["brin6"] == schools["synced"].brin6)
    assert first["last_run"]["outcome"] == "succeeded" and first["state"] == "active"


def test_networks_add_list_remove_like_the_api(tmp_path: Path):
    url = migrated_database("sqlite", tmp_path)
    brin6 = seeded(url)["synced"].brin6
    env = {"KOPPEL_DATABASE_URL": url}

    def koppel(*args: str):  # type: ignore[no-untyped-def]
        return run_koppel("networks", *args, env=env, cwd=tmp_path)

    added = koppel("add", brin6, "192.0.2.0/24", "198.51.100.7", "--description", "lokaal 12")
    assert added.returncode == 0, added.stderr
    assert added.stdout.splitlines()[0] == f"{brin6} De Regenboog: 3 networks"
    shown = json.loads(koppel("list", brin6, "--json").stdout)["networks"]
    assert [(n["network"], n["origin"], n["description"]) for n in shown] == [
        ("192.0.2.0/24", "admin", "lokaal 12"),
        ("198.51.100.7/32", "admin", "lokaal 12"),
        ("203.0.113.0/24", "basispoort", None),
    ]

    one_line_error(koppel("add", brin6, "10.0.0.0/24", "192.0.2.1/24"), "has host bits set")
    one_line_error(koppel("remove", brin6, "203.0.113.0/24"), "not among", "networks list")
    unchanged = json.loads(koppel("list", brin6, "--json").stdout)["networks"]
    assert unchanged == shown  # a refused change changes nothing

    removed = koppel("remove", brin6, "198.51.100.7")
    assert removed.returncode == 0, removed.stderr
    left = json.loads(koppel("list", brin6, "--json").stdout)["networks"]
    assert [n["network"] for n in left] == ["192.0.2.0/24", "203.0.113.0/24"]
    one_line_error(koppel("list", "99ZZ00"), "no school 99ZZ00 is linked")
