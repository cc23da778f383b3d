"""A OneRoster school (a CSV zip, contrib/koppel-oneroster) and a Basispoort school (the bundled
simulator) through the same nights, as deployed: a scheduler process enqueues on RabbitMQ, one
worker process syncs both, on PostgreSQL. A pupil gone from the next zip is tombstoned, a drop
without pupils is held by the safety check, and the IP restriction judges a OneRoster pupil
(through 'koppel api', POST /v1/logins/evaluate) as it judges a Basispoort one. A third school,
read from a OneRoster REST service (the plugin's test service, in this process), shares the
nights too, and a listing that fails part-way fails its run without anyone leaving."""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, delete, select

from core.db import make_engine
from core.models import HeldPlan, Pupil, SchedulerTick, School, SyncRun
from plugins.basispoort.simulator import client_ssl_context, make_test_pki
from tests.cli_process import http_ok
from tests.conftest import fresh_database_url
from tests.deploy.compose import compose_command
from tests.deploy.nights import start_simulator, worker_command
from tests.deploy.processes import Service, delete_queues, free_port, run, services, wait_for
from tests.servers import rabbitmq_url

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]
pytest.importorskip(
    "koppel_oneroster", reason="pip install -e contrib/koppel-oneroster (scripts/test does)"
)

PLUGIN_TESTS = Path(__file__).parents[2] / "contrib/koppel-oneroster/tests"
SAMPLE = PLUGIN_TESTS / "data/sample-1.2"
ONEROSTER_BRIN6 = "99XA00"  # OBS De Linde in the sample package, from a zip
REST_BRIN6 = "99XB01"  # CBS Het Anker in the same package, from the REST service


def plugin_test_module(name: str):
    """A module of the plugin's own tests (its test service), loaded from its folder (or the
    one its tests imported already, when the whole suite runs)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, PLUGIN_TESTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


rest = plugin_test_module("oneroster_rest_upstream")
SCHOOL_NET, INSIDE, HOME = "192.0.2.0/24", "192.0.2.55", "198.51.100.7"
TOKEN = "oneroster-night-token-0123456789"
SETTLED = ("succeeded", "unchanged", "held", "failed")


@dataclass
class Night:
    """The deployment: its environment, database, and the two linked schools' koppel ids."""

    env: dict[str, str]
    engine: Engine
    drops: Path
    service: object  # the REST service (oneroster_rest_upstream.RestService)
    oneroster: int
    basispoort: int
    rest: int

    def runs(self, school_id: int, since: datetime) -> list[SyncRun]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(SyncRun)
                .where(SyncRun.school_id == school_id, SyncRun.started_at >= since)
                .order_by(SyncRun.id)
            )
            return [r for r in rows if r.outcome in SETTLED]  # type: ignore[misc]

    def left(self, school_id: int) -> dict[str, bool]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(Pupil.source_id, Pupil.left_at).where(Pupil.school_id == school_id)
            )
            return {source_id: left_at is not None for source_id, left_at in rows}

    def source_id(self, school_id: int) -> str:
        with self.engine.connect() as conn:
            return conn.scalar(select(School.source_school_id).where(School.id == school_id))  # type: ignore[return-value]


def drop(drops: Path, moment: int, *, without_roles: tuple[str, ...] = ()) -> None:
    """A new zip of the sample package (roles left out), written aside and renamed in place."""
    files = {p.name: p.read_text(encoding="utf-8") for p in SAMPLE.glob("*.csv")}
    lines = files["roles.csv"].splitlines(keepends=True)
    files["roles.csv"] = "".join(x for x in lines if x.split(",")[0] not in without_roles)
    with zipfile.ZipFile(drops / "board.part", "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    (drops / "board.part").replace(drops / "board.zip")
    os.utime(drops / "board.zip", (moment, moment))


@pytest.fixture
def night(tmp_path: Path) -> Iterator[Night]:
    url = fresh_database_url("postgres", tmp_path)
    prefix = f"o{uuid.uuid4().hex[:8]}."
    drops = tmp_path / "drops"
    drops.mkdir()
    env = {
        "KOPPEL_DATABASE_URL": url,
        "KOPPEL_BROKER_URL": rabbitmq_url(),
        "KOPPEL_QUEUE_PREFIX": prefix,
        "KOPPEL_LOG_FORMAT": "json",
        "KOPPEL_ONEROSTER_DIR": str(drops),
        "KOPPEL_API_TOKENS": f'["{TOKEN}"]',
        "KOPPEL_SYNC_MAX_RETRIES": "0",
    }
    run(compose_command("migrate"), env)
    tls = tmp_path / "tls"
    service = rest.RestService(rest.as_json(rest.tables_of(rest.files_in(SAMPLE))))
    with rest.running(service), services(tmp_path) as start:
        env.update(
            KOPPEL_ONEROSTER_REST_URL=service.url,
            KOPPEL_ONEROSTER_REST_TOKEN_URL=f"{service.url}/token",
            KOPPEL_ONEROSTER_REST_CLIENT_ID=rest.CLIENT_ID,
            KOPPEL_ONEROSTER_REST_CLIENT_SECRET=rest.CLIENT_SECRET,
            KOPPEL_ONEROSTER_REST_PAGE_SIZE="2",  # every listing spans pages
        )
        sim_url = start_simulator(start, "basispoort-sim --port 0 --seed 5 --schools 3", tls, env)
        with httpx.Client(verify=client_ssl_context(make_test_pki(tls)), timeout=30) as http:
            schools = http.get(f"{sim_url.rstrip('/')}/_sim/schools").raise_for_status().json()
        basispoort_brin6 = next(s["brin6"] for s in schools if "consented" in s["kinds"])
        drop(drops, 1_790_000_000)
        # Both linked as an administrator links a school: 'koppel check', each with its source.
        run(["check", basispoort_brin6], env)
        run(["check", ONEROSTER_BRIN6, "--source", "oneroster"], env)
        run(["check", REST_BRIN6, "--source", "oneroster-rest"], env)
        engine = make_engine(url)
        with engine.connect() as conn:
            ids = dict(conn.execute(select(School.source, School.id)).all())
        try:
            yield Night(
                env,
                engine,
                drops,
                service,
                ids["oneroster"],
                ids["basispoort"],
                ids["oneroster-rest"],
            )
        finally:
            engine.dispose()
            delete_queues(rabbitmq_url(), prefix)


def window(start: datetime) -> dict[str, str]:
    """Tonight's window: from ``start`` (a whole second after the last night's runs, since the
    settings have whole seconds) for three seconds."""
    local = start.astimezone(ZoneInfo("Europe/Amsterdam"))
    return {
        "KOPPEL_SCHEDULER_WINDOW_START": f"{local:%H:%M:%S}",
        "KOPPEL_SCHEDULER_WINDOW_END": f"{local + timedelta(seconds=3):%H:%M:%S}",
        "KOPPEL_SCHEDULER_SLOT_SECONDS": "1",
        "KOPPEL_SCHEDULER_POLL_SECONDS": "0.2",
    }


def one_night(night: Night, tmp_path: Path, start, name: str) -> dict[int, SyncRun]:
    """A scheduler process sends tonight's messages; the running worker settles every school.

    The scheduler keys a night by its date, and every night of this test falls on today: the
    slots an earlier night claimed are cleared, which is all the calendar moving on would do
    (each night's window starts when its scheduler does, so its messages' ``since`` is later
    than the runs of the night before).
    """
    with night.engine.begin() as conn:
        conn.execute(delete(SchedulerTick))
    since = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    env = {**night.env, **window(since)}
    beat = str(tmp_path / f"alive-{name}")
    scheduler: Service = start(name, compose_command("scheduler", heartbeat_file=beat), env)
    schools = (night.oneroster, night.basispoort, night.rest)
    wait_for(
        f"the schools' runs of {name}",
        lambda: all(night.runs(s, since) for s in schools),
        timeout=90,
    )
    assert scheduler.stop() == 0, scheduler.output()
    found = {s: night.runs(s, since) for s in schools}
    assert all(len(r) == 1 and r[0].trigger == "nightly" for r in found.values()), found
    return {s: r[0] for s, r in found.items()}


def test_oneroster_and_basispoort_schools_share_the_night(night: Night, tmp_path: Path) -> None:
    oneroster, basispoort = night.oneroster, night.basispoort
    with services(tmp_path) as start:
        alive = str(tmp_path / "alive-worker")
        worker = start("worker", worker_command(threads="2", heartbeat_file=alive), night.env)

        first = one_night(night, tmp_path, start, "scheduler-1")
        assert {s: r.outcome for s, r in first.items()} == {
            oneroster: "succeeded",
            basispoort: "succeeded",
            night.rest: "succeeded",
        }
        assert night.left(night.rest) == {"u-p4": False}
        assert night.left(oneroster) == {"u-p1": False, "u-p2": False}
        assert first[oneroster].counts["staff_created"] == 4, first[oneroster].counts
        assert night.left(basispoort) and not any(night.left(basispoort).values())
        assert all(f":{worker.pid}/" in (r.worker or "") for r in first.values())

        drop(night.drops, 1_790_000_100, without_roles=("r-p2",))  # u-p2 left the school
        second = one_night(night, tmp_path, start, "scheduler-2")
        assert second[oneroster].outcome == "succeeded"
        assert night.left(oneroster) == {"u-p1": False, "u-p2": True}  # tombstoned, kept
        assert second[basispoort].outcome in ("unchanged", "succeeded")
        assert second[night.rest].outcome == "succeeded"  # no change stamp: fetched, nothing new
        changed = [k for k, v in second[night.rest].counts.items() if v and k[:5] != "note_"]
        assert not changed, second[night.rest].counts

        drop(night.drops, 1_790_000_200, without_roles=("r-p1", "r-p2"))  # no pupils
        # The REST service fails on the second page of its users: the whole fetch fails.
        night.service.fault(rest.Fault("500", path="/users", after=1, times=None))  # type: ignore[attr-defined]
        third = one_night(night, tmp_path, start, "scheduler-3")
        assert third[night.rest].outcome == "failed"
        assert "/users: the OneRoster service answered 500" in (third[night.rest].error or "")
        assert night.left(night.rest) == {"u-p4": False}  # nobody left from a partial read
        assert third[oneroster].outcome == "held"
        assert night.left(oneroster) == {"u-p1": False, "u-p2": True}  # nothing applied
        with night.engine.connect() as conn:
            held = conn.scalars(select(HeldPlan.status).where(HeldPlan.school_id == oneroster))
            assert list(held) == ["held"]

        assert worker.stop() == 0, worker.output()
        logins = judged_logins(night, start)

    # The same policy, the same answers: inside the school's network allowed, from home not.
    assert logins == {
        ("oneroster", INSIDE): True,
        ("oneroster", HOME): False,
        ("basispoort", INSIDE): True,
        ("basispoort", HOME): False,
        ("oneroster-rest", INSIDE): True,
        ("oneroster-rest", HOME): False,
    }


def judged_logins(night: Night, start) -> dict[tuple[str, str], bool]:
    """Each school's first pupil logging in from the school and from home, through the API."""
    schools = {
        "oneroster": night.oneroster,
        "basispoort": night.basispoort,
        "oneroster-rest": night.rest,
    }
    for school_id in schools.values():
        with night.engine.connect() as conn:
            brin = conn.execute(
                select(School.brin, School.location_code).where(School.id == school_id)
            ).one()
        run(["networks", "add", "".join(brin), SCHOOL_NET], night.env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    api = start("api", ["api", "--port", str(port)], night.env)
    wait_for("the API", lambda: http_ok(f"{base}/health"), timeout=60)
    answers = {}
    for source, school_id in schools.items():
        pupil = sorted(p for p, left in night.left(school_id).items() if not left)[0]
        for peer in (INSIDE, HOME):
            body = {
                "source": source,
                "school_id": night.source_id(school_id),
                "user_id": pupil,
                "peer_address": peer,
            }
            answer = httpx.post(
                f"{base}/v1/logins/evaluate",
                json=body,
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
            answers[(source, peer)] = answer.json()["allowed"]
    api.stop()  # uvicorn ends on SIGTERM by the signal itself
    return answers
