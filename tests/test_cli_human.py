"""Human output: times in the schools' time zone to the minute, reasons in the chosen language."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core.db import make_engine
from core.login.attempt import make_attempt
from core.login.client_address import derive_client_address
from core.login.evaluate import evaluate_login
from core.login.identity import LoginIdentity, resolve_identity
from core.settings import load_settings
from tests.cli_process import run_koppel
from tests.login.conftest import HOME, add_school, login_plugins
from tests.login.helpers import deny_logins

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # the time deny_logins records: 10:00 in Amsterdam


def test_logins_denied_reads_like_a_tool(tmp_path: Path, fresh_db_url: str):
    _first, second, pupil_id = deny_logins(fresh_db_url)
    engine = make_engine(fresh_db_url)
    with Session(engine) as db:  # someone koppel does not know, refused at the same school
        school = add_school(db)
        unknown = LoginIdentity("basispoort", school.source_ref, user_id="404404404")
        attempt = make_attempt(db, resolve_identity(db, unknown), derive_client_address(HOME), AT)
        evaluate_login(db, attempt, login_plugins(), load_settings())
        db.commit()
        stranger_school = school.brin6
    engine.dispose()
    env = {"KOPPEL_DATABASE_URL": fresh_db_url}

    [line] = run_koppel("logins", "denied", second, env=env, cwd=tmp_path).stdout.splitlines()
    assert line.startswith("2026-12-01 10:00  ") and f"pupil:{pupil_id}" in line
    assert line.endswith("ip_restriction: You can only log in from the school's network.")
    dutch = run_koppel("logins", "denied", second, "--lang", "nl", env=env, cwd=tmp_path)
    assert dutch.stdout.strip().endswith("Inloggen kan alleen vanaf het netwerk van de school.")
    [stranger] = run_koppel(
        "logins", "denied", stranger_school, env=env, cwd=tmp_path
    ).stdout.splitlines()
    assert "-:-" not in stranger and "  -  " in stranger


def test_export_without_json_summarises_and_names_nobody(koppel, sim_world):
    school_id = sim_world.find("consented")
    brin6 = sim_world.school(school_id).brin6
    assert koppel("check", brin6)[0] == 0
    assert koppel("sync", brin6)[0] == 0
    stored = json.loads(koppel("export", brin6, "--json")[1])

    code, out = koppel("export", brin6)

    assert code == 0
    live = [p for p in stored["pupils"] if not p["left"]]
    assert f"  pupils: {len(live)} live, 0 left" in out
    per_group = [int(line.split()[-2]) for line in out.splitlines() if line.endswith(" pupils")]
    assert sum(per_group) == sum(1 for p in live if p["group"] is not None) > 0
    names = {p["names"]["last_name"] for p in stored["pupils"] + stored["staff"]} - {None}
    assert names and not any(name in out for name in names)


def test_the_simulator_lists_its_schools_and_its_day(tmp_path: Path):
    from plugins.basispoort.simulator import World

    listed = run_koppel("basispoort-sim", "--list", "--schools", "8", env={}, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    world = World(seed=1, schools=8)
    first, *rows = listed.stdout.splitlines()
    assert first.startswith(f"the simulator's today: {world.today} ")
    assert [row.split()[0] for row in rows] == [world.school(i).brin6 for i in world.school_ids]
    assert any("no_consent" in row for row in rows)


def test_status_lists_the_latest_runs_of_a_school(koppel, sim_world):
    brin6 = sim_world.school(sim_world.find("consented")).brin6
    koppel("check", brin6)
    koppel("sync", brin6)
    koppel("sync", brin6, "--force")
    runs = json.loads(koppel("status", brin6, "--json")[1])["recent_runs"]
    assert [run["outcome"] for run in runs] == ["succeeded", "succeeded"]
    assert runs[0]["id"] > runs[1]["id"]  # newest first

    code, out = koppel("status", brin6, "--runs", "1")
    assert code == 0 and "latest 1 runs:" in out
    listed = out[out.index("latest 1 runs:") :].splitlines()[1:]
    assert len(listed) == 1 and f"run {runs[0]['id']} " in listed[0]
    assert "manual" in listed[0] and "succeeded" in listed[0]


def test_sync_of_several_schools_one_line_each_or_none_when_one_is_unknown(koppel, sim_world):
    codes = [sim_world.school(i).brin6 for i in sim_world.find_all("consented")[:2]]
    for code in codes:
        assert koppel("check", code)[0] == 0

    code, out = koppel("sync", "99ZZ00", *codes)  # checked before any school is synced
    assert code == 1 and out.strip() == "error: no school 99ZZ00 is linked " + (
        "(run 'koppel check 99ZZ00' first to link it)"
    )

    code, out = koppel("sync", *codes)
    lines = [line for line in out.splitlines() if line.split()[:1] in ([codes[0]], [codes[1]])]
    assert code == 0 and [line.split()[0] for line in lines] == codes
    assert all("succeeded" in line and "pupils_created" in line for line in lines)
    runs = json.loads(koppel("sync", *codes, "--json")[1])
    assert [(r["brin6"], r["outcome"]) for r in runs] == [(c, "unchanged") for c in codes]
    assert runs[0]["run_id"] == 3  # the refused command synced nothing


def test_plans_list_shows_the_school_name_and_local_time(koppel, sim_world):
    school_id = sim_world.find("quiet")
    brin6 = sim_world.school(school_id).brin6
    koppel("check", brin6)
    koppel("sync", brin6)
    sim_world.remove_pupils(school_id, 0.6)
    assert koppel("sync", brin6)[0] == 2  # held
    plan = json.loads(koppel("plans", "list", "--json")[1])[0]

    code, out = koppel("plans", "list")

    name = json.loads(koppel("status", brin6, "--json")[1])["name"]
    made = datetime.fromisoformat(plan["created_at"]).astimezone(ZoneInfo("Europe/Amsterdam"))
    assert code == 0
    assert out.startswith(f"plan {plan['id']}  {brin6} {name}  held  {made:%Y-%m-%d %H:%M}  ")
