"""A night's deployment as OS processes (tests/deploy, tests/chaos): its database, queues,
simulator and linked schools, and the commands that start its services."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pika
from sqlalchemy import Engine, func, select

from core.models import Pupil, School, Staff, SyncRun
from tests.deploy.compose import compose_command
from tests.deploy.processes import Service, free_port, wait_for
from tests.servers import rabbitmq_url

SETTLED = ("succeeded", "unchanged", "held", "skipped")


@dataclass
class Deployment:
    """One night's set-up: its own database, queues, simulator and linked schools."""

    env: dict[str, str]
    engine: Engine
    sim_url: str
    http: httpx.Client
    queue_prefix: str
    consented: dict[int, int] = field(default_factory=dict)  # koppel school id -> sim id
    refused: int = 0  # a linked school without consent: never sent

    def sim(self, method: str, path: str, **kwargs: object) -> object:
        response = self.http.request(method, f"{self.sim_url}{path}", **kwargs)  # type: ignore[arg-type]
        response.raise_for_status()
        return response.json()

    def fault(self, path: str, kind: str, times: int, seconds: float = 1.0) -> None:
        body = {"path": path, "kind": kind, "times": times, "seconds": seconds}
        self.sim("POST", "/_sim/faults", json=body)

    def runs(self) -> list[SyncRun]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(SyncRun).order_by(SyncRun.id)))  # type: ignore[arg-type]

    def settled(self, school_id: int) -> list[SyncRun]:
        return [r for r in self.runs() if r.school_id == school_id and r.outcome in SETTLED]

    def stored(self, school_id: int) -> tuple[int, int]:
        """Current (not left) pupils and staff koppel holds for the school."""
        with self.engine.connect() as conn:
            pupils = conn.scalar(
                select(func.count()).where(Pupil.school_id == school_id, Pupil.left_at.is_(None))
            )
            staff = conn.scalar(
                select(func.count()).where(Staff.school_id == school_id, Staff.left_at.is_(None))
            )
        return int(pupils or 0), int(staff or 0)

    def served(self, sim_id: int) -> tuple[int, int]:
        """Pupils and staff the simulator serves for the school now."""
        base = f"/rest/v2/instellingen/{sim_id}"
        pupils = self.sim("GET", f"{base}/leerlingen")["leerlingen"]  # type: ignore[index]
        staff = self.sim("GET", f"{base}/staf")["medewerkers"]  # type: ignore[index]
        return len(pupils), len(staff)

    def dead_letters(self) -> list[dict]:  # type: ignore[type-arg]
        """The messages in the nightly queue's dead-letter queue (left in place)."""
        connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url()))
        try:
            channel = connection.channel()
            found = []
            while True:
                method, _props, body = channel.basic_get(f"{self.queue_prefix}sync-nightly.XQ")
                if method is None:
                    break
                found.append(json.loads(body))
            return found  # unacked: the messages go back when the connection closes
        finally:
            connection.close()


def window_env(seconds: float) -> dict[str, str]:
    """A nightly window that started a second ago and lasts ``seconds``."""
    now = datetime.now(ZoneInfo("Europe/Amsterdam"))
    start, end = now - timedelta(seconds=1), now + timedelta(seconds=seconds)
    return {
        "KOPPEL_SCHEDULER_WINDOW_START": start.strftime("%H:%M:%S"),
        "KOPPEL_SCHEDULER_WINDOW_END": end.strftime("%H:%M:%S"),
        "KOPPEL_SCHEDULER_SLOT_SECONDS": "1",
        "KOPPEL_SCHEDULER_POLL_SECONDS": "0.2",
    }


def start_simulator(
    start: Callable[..., Service], args: str, tls: Path, env: dict[str, str]
) -> str:
    """The simulator as a process (``args`` as on its command line, mTLS keys in ``tls``);
    ``env`` gets its URL, client certificate and CA. Returns its URL."""
    sim = start(
        "basispoort-sim", [*args.split(), "--tls-dir", str(tls)], {"KOPPEL_LOG_FORMAT": "json"}
    )
    url = wait_for(
        "the simulator to listen",
        lambda: sim.stdout.read_text().partition("listening on ")[2].strip(),
        timeout=30,
    )
    env.update(
        KOPPEL_BASISPOORT_URL=url,
        KOPPEL_BASISPOORT_CERT=str(tls / "client.pem"),
        KOPPEL_BASISPOORT_CA=str(tls / "ca.pem"),
    )
    return url


def link_schools(deployment: Deployment) -> None:
    """Link the simulator's schools as 'koppel check' would (a direct insert is quicker)."""
    schools = deployment.sim("GET", "/_sim/schools")
    with deployment.engine.begin() as conn:
        for school in schools:  # type: ignore[attr-defined]
            consented = "consented" in school["kinds"]
            if not consented and "no_consent" not in school["kinds"]:
                continue  # inactive and merged schools are never linked by 'koppel check'
            brin6 = school["brin6"]
            school_id = conn.execute(
                School.__table__.insert()
                .values(
                    brin=brin6[:4],
                    location_code=brin6[4:],
                    source="basispoort",
                    source_school_id=str(school["id"]),
                    consent="granted" if consented else "revoked",
                    active=True,
                    lease_token=0,
                )
                .returning(School.id)
            ).scalar_one()
            if consented:
                deployment.consented[school_id] = school["id"]
            else:
                deployment.refused = school_id


def worker_command(**overrides: str) -> list[str]:
    """The compose worker's command; each on its own metrics port, as containers would be."""
    return compose_command("worker", metrics_port=str(free_port()), **overrides)
