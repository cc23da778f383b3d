"""Everyday mistakes, through the installed command: one line each, never a traceback."""

from __future__ import annotations

import shlex
import socket
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from core import migrate
from core.db import make_engine
from tests.cli_process import one_line_error, run_koppel
from tests.conftest import BACKENDS, fresh_database_url
from tests.deploy.processes import free_port
from tests.login.conftest import add_school

BEFORE_UPGRADE = [
    ["status"],
    ["check", "12AB00"],
    ["plans", "list"],
    ["logins", "denied"],
    ["export", "12AB00", "--json"],
]


@pytest.mark.parametrize("args", BEFORE_UPGRADE, ids=lambda a: " ".join(a))
def test_a_command_before_db_upgrade_says_so_and_leaves_no_file(tmp_path: Path, args):
    result = run_koppel(*args, env={}, cwd=tmp_path)  # the default: sqlite:///koppel.db
    one_line_error(result, "no database at koppel.db", "koppel db upgrade")
    assert not (tmp_path / "koppel.db").exists()


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_empty_database_asks_for_db_upgrade(tmp_path: Path, backend: str):
    url = fresh_database_url(backend, tmp_path)
    engine = make_engine(url)
    engine.connect().close()  # SQLite: the file exists now, without tables
    engine.dispose()
    result = run_koppel("plans", "list", env={"KOPPEL_DATABASE_URL": url}, cwd=tmp_path)
    one_line_error(result, "holds no koppel schema", "koppel db upgrade")
    upgraded = run_koppel("db", "upgrade", env={"KOPPEL_DATABASE_URL": url}, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    listed = run_koppel("plans", "list", env={"KOPPEL_DATABASE_URL": url}, cwd=tmp_path)
    assert (listed.returncode, listed.stdout.strip()) == (0, "no held plans")


def test_an_old_schema_names_both_revisions(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/old.db"
    engine = make_engine(url)
    migrate.upgrade(engine, "0001")
    engine.dispose()
    result = run_koppel("status", env={"KOPPEL_DATABASE_URL": url}, cwd=tmp_path)
    one_line_error(result, "at revision 0001", f"needs {migrate.head()}", "koppel db upgrade")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "KOPPEL_DATABASE_URL: not a database URL"),
        ("nonsense", "KOPPEL_DATABASE_URL: not a database URL"),
        ("mysql://koppel@db/koppel", "KOPPEL_DATABASE_URL: koppel runs on SQLite or PostgreSQL"),
        ("postgresql+pg8000://koppel@db/koppel", "needs the database driver 'pg8000'"),
        ("postgresql+psycopg://koppel@127.0.0.1:{port}/koppel", "Connection refused"),
        ("sqlite:///{tmp}/missing/koppel.db", "missing does not exist"),
    ],
    ids=["empty", "nonsense", "mysql", "driver-missing", "postgres-down", "sqlite-folder-missing"],
)
def test_a_wrong_database_url_is_one_line(tmp_path: Path, url: str, says: str):
    url = url.format(port=free_port(), tmp=tmp_path)
    for args in (["status"], ["db", "upgrade"]):
        result = run_koppel(*args, env={"KOPPEL_DATABASE_URL": url}, cwd=tmp_path)
        one_line_error(result, says)
    assert list(tmp_path.iterdir()) == []


def test_a_wrong_basispoort_environment_stops_config_before_it_prints(tmp_path: Path):
    result = run_koppel("config", env={"KOPPEL_BASISPOORT_ENV": "prod"}, cwd=tmp_path)
    one_line_error(result, "KOPPEL_BASISPOORT_ENV", "'production'")
    assert result.stdout == ""


def test_what_config_prints_can_be_pasted_back(tmp_path: Path):
    env = {
        "KOPPEL_IP_RESTRICTION_ROLES": '["pupil", "Leerkracht"]',
        "KOPPEL_DISABLED_PLUGINS": '["audit extra"]',
        "KOPPEL_SCHEDULER_WINDOW_START": "00:30",
    }
    printed = run_koppel("config", env=env, cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    # Read every line back the way a shell would, and print again: the same settings.
    pasted = dict(
        shlex.split(line)[0].split("=", 1)
        for line in printed.stdout.splitlines()
        if "***" not in line and not line.endswith("=")
    )
    assert pasted["KOPPEL_IP_RESTRICTION_ROLES"] == '["pupil", "Leerkracht"]'
    again = run_koppel("config", env=pasted, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout == printed.stdout


def test_the_roles_in_python_form_are_one_line_with_the_json_form(tmp_path: Path):
    result = run_koppel("config", env={"KOPPEL_IP_RESTRICTION_ROLES": "['pupil']"}, cwd=tmp_path)
    one_line_error(result, "KOPPEL_IP_RESTRICTION_ROLES is not valid JSON", '["a", "b"]')


@pytest.mark.parametrize("args", [["config"], ["scheduler", "--once"]], ids=" ".join)
def test_a_window_start_that_is_no_time_is_refused_when_read(tmp_path: Path, args):
    env = {"KOPPEL_SCHEDULER_WINDOW_START": "25:00"}
    result = run_koppel(*args, env=env, cwd=tmp_path)
    one_line_error(result, "KOPPEL_SCHEDULER_WINDOW_START", "'25:00' is not a time of day")


@pytest.mark.parametrize("command", ["sync-now", "worker"])
def test_rabbitmq_down_is_one_line(tmp_path: Path, fresh_db_url: str, command: str):
    engine = make_engine(fresh_db_url)
    with Session(engine) as db:
        brin6 = add_school(db).brin6
        db.commit()
    engine.dispose()
    env = {
        "KOPPEL_DATABASE_URL": fresh_db_url,
        "KOPPEL_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F",
    }
    args = ["sync-now", brin6] if command == "sync-now" else ["worker"]
    result = run_koppel(*args, env=env, cwd=tmp_path, timeout=30)
    one_line_error(result, "cannot reach RabbitMQ at 127.0.0.1:", "KOPPEL_BROKER_URL")


@pytest.mark.parametrize(
    ("args", "what"),
    [(["basispoort-sim", "--schools", "1"], "the simulator"), (["api"], "the API")],
    ids=["basispoort-sim", "api"],
)
def test_a_port_in_use_is_one_line(tmp_path: Path, fresh_db_url: str, args, what):
    env = {"KOPPEL_DATABASE_URL": fresh_db_url, "KOPPEL_API_TOKENS": '["' + "t" * 20 + '"]'}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run_koppel(*args, "--port", port, env=env, cwd=tmp_path)
    one_line_error(result, f"{what} cannot listen on 127.0.0.1:{port}", "--port")


def test_a_plan_id_too_large_for_the_database_is_a_usage_error(tmp_path: Path, fresh_db_url: str):
    env = {"KOPPEL_DATABASE_URL": fresh_db_url}
    result = run_koppel("plans", "show", "999999999999999999999", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "Invalid value for 'PLAN_ID': 999999999999999999999 is not in the range" in result.stderr


def test_a_manual_check_names_the_url_and_promises_no_retry(tmp_path: Path, fresh_db_url: str):
    base = f"http://127.0.0.1:{free_port()}/"
    env = {
        "KOPPEL_DATABASE_URL": fresh_db_url,
        "KOPPEL_BASISPOORT_URL": base,
        "KOPPEL_BASISPOORT_RETRIES": "0",
    }
    result = run_koppel("check", "12AB00", env=env, cwd=tmp_path)
    assert result.returncode == 1
    detail = [line for line in result.stderr.splitlines() if line.startswith("detail: ")]
    assert len(detail) == 1 and f"at {base}" in detail[0]
    assert "retries automatically" not in detail[0]
    assert "run again later" in detail[0]


def test_a_command_that_answers_once_keeps_info_lines_out_unless_asked(
    tmp_path: Path, fresh_db_url: str, sim_http_server
):
    brin6 = sim_http_server.world.school(sim_http_server.world.find("consented")).brin6
    env = {"KOPPEL_DATABASE_URL": fresh_db_url, "KOPPEL_BASISPOORT_URL": sim_http_server.url}
    quiet = run_koppel("check", brin6, env=env, cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stdout.startswith("School gevonden")
    assert quiet.stderr == ""
    verbose = run_koppel("--verbose", "check", brin6, env=env, cwd=tmp_path)
    assert verbose.returncode == 0 and '"connection_checked"' in verbose.stderr
    asked = run_koppel("check", brin6, env={**env, "KOPPEL_LOG_LEVEL": "INFO"}, cwd=tmp_path)
    assert '"connection_checked"' in asked.stderr and asked.stdout == quiet.stdout
