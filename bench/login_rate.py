"""Login benchmark: koppel's login decisions per second against a bare FastAPI endpoint's.

Run it with ``bench/logins`` (starts or reuses the private PostgreSQL of scripts/services.sh),
or from the repository root with a PostgreSQL in the environment:

    KOPPEL_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5452/app \\
    python -m bench.login_rate [--seconds 15] [--connections 16] [--schools 20] [--pupils 300]
        [--api-processes 1]

A fresh database is created, migrated and seeded (schools with pupils, staff and networks),
then ``koppel api`` runs as a real process on it, beside the bare endpoint (bench/bare_api.py,
same body, models and token check, served by uvicorn the same way) as the ceiling. ``wrk``
drives each scenario after a short warm-up, cycling through the seeded pupils:

- ``evaluate_allowed``: pupils logging in from inside their school's network;
- ``evaluate_denied``: the same pupils from home: refused by the IP rule and audited (the
  audit rows written are counted and must cover every answer);
- ``bare``: the ceiling;
- ``full_logins``: a signed SAML assertion in (Basispoort's deep link), the code exchanged for
  an id_token: three requests per login on ``--connections`` threads (bench/full_login.py).

Printed and written as JSON to bench/results/logins-<timestamp>.json: requests/s, p50 and p99
latency, the API's and PostgreSQL's CPU per request, ratios to the ceiling, PASS/FAIL per target.
With ``--api-processes N`` both servers run N processes (uvicorn's workers) and a server's CPU
is that of all its processes (from /proc, the supervisor included).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, func, insert, select, text

from bench.database import drop_database
from bench.full_login import FullLogins
from bench.national import _env
from bench.nightly_throughput import fresh_database
from bench.processes import (
    ROOT,
    Service,
    children_cpu_seconds,
    parent_pid,
    server_cpu_seconds,
    start_profilers,
    stop_profilers,
)

WRK = "wrk"
INSIDE_NET = "10.{school}.0.0/16"  # each school's network; pupils come from .1.x inside it
HOME = "198.51.100.7"
FULL_LOGINS_PER_SECOND = 250
FULL_LOGIN_P99_MS = 100
CEILING_SHARE = 0.5


@dataclass
class Figures:
    """One scenario's load: what came back, how fast, and what it cost the server."""

    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers, socket errors and timeouts
    api_cpu_ms_per_request: float | None = None
    database_cpu_ms_per_request: float | None = None
    audit_rows: int | None = None
    id_tokens_checked: int | None = None  # full logins: sampled id_tokens verified by the JWKS
    generator_cpu_ms_per_request: float | None = None  # wrk's own CPU: the load's cost


@dataclass
class Server:
    name: str
    url: str
    service: Service


class LoginBench:
    """One run: the database, the seeded logins, the servers and how to load them."""

    def __init__(self, args: argparse.Namespace, logs: Path) -> None:
        self.args = args
        self.logs = logs
        self.base_db = _env("KOPPEL_BENCH_POSTGRES_URL", "KOPPEL_TEST_POSTGRES_URL", "DATABASE_URL")
        self.database_url = fresh_database(self.base_db)
        self.engine: Engine = create_engine(self.database_url, pool_size=1)
        self.token = secrets.token_urlsafe(32)
        self.logins: list[dict[str, Any]] = []  # school_ref, user_id, inside address
        self.servers: dict[str, Server] = {}
        self.postmaster: int | None = None
        self.full = FullLogins(logs)

    # -- set-up -----------------------------------------------------------------------------------

    def seed(self) -> None:
        """Schools with consent, pupils, a few staff each and one admin network per school."""
        from core import migrate
        from core.models import Pupil, School, SchoolNetwork, Staff

        migrate.upgrade(self.engine)
        with self.engine.begin() as conn:
            for n in range(self.args.schools):
                school_id = conn.execute(
                    insert(School).returning(School.id),
                    dict(
                        brin=f"{10 + n // 26:02d}{chr(65 + n % 26)}A",
                        location_code="00",
                        name=f"Bench school {n}",
                        source="basispoort",
                        source_school_id=str(700000 + n),
                        source_ref=f"ref-{n}",
                        consent="granted",
                    ),
                ).scalar_one()
                network = INSIDE_NET.format(school=n % 256)
                conn.execute(
                    insert(SchoolNetwork),
                    [dict(school_id=school_id, network=network, origin="admin")],
                )
                people = [
                    dict(
                        school_id=school_id,
                        source="basispoort",
                        source_id=f"{n}-{p}",
                        eckid=f"https://ketenid.nl/201703/bench{n}x{p}",
                        first_name="Bench",
                        last_name="Pupil",
                        row_hash="0" * 32,
                    )
                    for p in range(self.args.pupils)
                ]
                conn.execute(insert(Pupil), people)
                conn.execute(
                    insert(Staff),
                    [
                        {**person, "source_id": f"{n}-s{i}", "eckid": f"{person['eckid']}s"}
                        | {"roles": ["Leerkracht"]}
                        for i, person in enumerate(people[:5])
                    ],
                )
                self.logins.extend(
                    dict(
                        school_ref=f"ref-{n}",
                        user_id=f"{n}-{p}",
                        inside=f"10.{n % 256}.1.{p % 250 + 1}",
                    )
                    for p in range(self.args.pupils)
                )
            conn.execute(text("ANALYZE"))
        self.full.register(self.engine)

    def server_env(self, url: str) -> dict[str, str]:
        """What 'koppel api' serving the seeded database at ``url`` needs."""
        return {
            "KOPPEL_DATABASE_URL": self.database_url,
            "KOPPEL_API_TOKENS": json.dumps([self.token]),
            "KOPPEL_LOG_FORMAT": "json",
            "KOPPEL_LOG_LEVEL": "INFO",
            **self.full.env(url),
        }

    def start_servers(self) -> None:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = self.server_env(url)
        processes = str(self.args.api_processes)
        koppel = Service(
            "api", ["api", "--port", str(port), "--processes", processes], env, self.logs
        )
        self.servers["koppel"] = Server("koppel", url, koppel)
        port = free_port()
        bare = Service(
            "bare",
            # --token=: a token may start with "-", which argparse takes for an option.
            ["--port", str(port), f"--token={self.token}", "--processes", processes],
            {},
            self.logs,
            command=[sys.executable, "-m", "bench.bare_api"],
        )
        self.servers["bare"] = Server("bare", f"http://127.0.0.1:{port}", bare)
        for server in self.servers.values():
            # /health answers once one process serves; measure only when all of them do (a
            # process importing koppel on a busy 2-core machine can take a minute).
            server.service.wait_for_output(
                "Application startup complete.", self.args.api_processes, timeout=300
            )
            wait_until_up(server, self.token)

    # -- load -------------------------------------------------------------------------------------

    def body(self, login: dict[str, Any], peer: str) -> dict[str, Any]:
        return {
            "school_ref": login["school_ref"],
            "user_id": login["user_id"],
            "peer_address": peer,
        }

    def check_answer(self, server: str, body: dict[str, Any], allowed: bool) -> None:
        """One request first: the scenario must answer what it claims to measure."""
        response = httpx.post(
            f"{self.servers[server].url}/v1/logins/evaluate",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        if response.status_code != 200 or response.json()["allowed"] is not allowed:
            raise SystemExit(f"{server}: expected allowed={allowed}, got {response.text[:500]}")

    def evaluate(self, label: str, server: str, *, inside: bool) -> Figures:
        """wrk on the evaluate endpoint of ``server``, each request another pupil."""
        bodies = [self.body(login, login["inside"] if inside else HOME) for login in self.logins]
        self.check_answer(server, bodies[0], allowed=inside or server == "bare")
        script = self.logs / f"{label}.lua"
        script.write_text(wrk_script(bodies, self.token))
        url = f"{self.servers[server].url}/v1/logins/evaluate"
        self.wrk(script, url, self.args.warmup)
        audited_before = self.audit_rows()
        api_pid = self.servers[server].service.pid
        profilers = start_profilers(self.args.profile, label, {server: api_pid})
        before = (server_cpu_seconds(api_pid), self.database_cpu())
        figures = self.wrk(script, url, self.args.seconds)
        after = (server_cpu_seconds(api_pid), self.database_cpu())
        stop_profilers(profilers)
        done = max(figures.requests, 1)
        figures.api_cpu_ms_per_request = round((after[0] - before[0]) * 1000 / done, 3)
        if server != "bare":
            figures.database_cpu_ms_per_request = round((after[1] - before[1]) * 1000 / done, 3)
            figures.audit_rows = self.audit_rows() - audited_before
        return figures

    def wrk(self, script: Path, url: str, seconds: float) -> Figures:
        # One wrk thread: the load generator shares the machine's cores with the servers.
        out, cpu = self.wrk_run(["-s", str(script)], url, seconds, threads=1)
        figures = parse_wrk(out)
        figures.generator_cpu_ms_per_request = round(cpu * 1000 / max(figures.requests, 1), 3)
        return figures

    def wrk_run(
        self, script: list[str], url: str, seconds: float, threads: int
    ) -> tuple[str, float]:
        """wrk's output and the CPU seconds it spent (the load generator's cost)."""
        connections = max(self.args.connections, threads)
        command = [WRK, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            [*command, "--latency", "--timeout", "10s", url, *script],
            capture_output=True,
            text=True,
            check=False,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"wrk failed: {done.stderr or done.stdout}")
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        return done.stdout, cpu

    def audit_rows(self) -> int:
        from core.models import LoginDenial

        with self.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(LoginDenial)) or 0

    def database_cpu(self) -> float:
        """CPU of every PostgreSQL backend so far (0 when PostgreSQL is not on this machine)."""
        if self.postmaster is None:
            with self.engine.connect() as conn:
                self.postmaster = parent_pid(conn.scalar(text("SELECT pg_backend_pid()")) or 0)
        return children_cpu_seconds(self.postmaster) if self.postmaster else 0.0

    def close(self) -> None:
        for server in self.servers.values():
            server.service.stop(timeout=10)
        self.engine.dispose()
        drop_database(self.base_db, self.database_url)


@contextmanager
def login_bench(args: argparse.Namespace, prefix: str) -> Iterator[LoginBench]:
    """A run on its own fresh database, dropped afterwards with its servers stopped; when the
    work inside fails, the servers' last log lines are shown first."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        run = LoginBench(args, Path(tmp))
        try:
            yield run
        except BaseException:
            for server in run.servers.values():
                print(server.service.tail(), file=sys.stderr)
            raise
        finally:
            run.close()


def full_logins(run: LoginBench, name: str = "koppel") -> Figures:
    """Full logins back to back on ``--connections`` connections, driven by wrk
    (bench/full_login.py): the logins prepared first, one checked, a warm-up, then the
    measured part."""
    full, server = run.full, run.servers[name]
    threads = run.args.connections
    checked, *warmup = full.prepare(
        server.url, run.logins, 1 + full.enough(run.args.warmup, FULL_LOGINS_PER_SECOND)
    )
    measured = full.prepare(
        server.url, run.logins, full.enough(run.args.seconds, FULL_LOGINS_PER_SECOND)
    )
    try:
        full.one(server.url, checked)
    except AssertionError as exc:
        raise SystemExit(f"full login: not signed in: {exc}") from None
    run.wrk_run(full.wrk_arguments(warmup, threads, "warmup"), server.url, run.args.warmup, threads)
    api_pid = server.service.pid
    profilers = start_profilers(run.args.profile, "full_logins", {name: api_pid})
    before = (server_cpu_seconds(api_pid), run.database_cpu())
    out, generator_cpu = run.wrk_run(
        full.wrk_arguments(measured, threads, "measured"), server.url, run.args.seconds, threads
    )
    after = (server_cpu_seconds(api_pid), run.database_cpu())
    stop_profilers(profilers)
    figures = parse_full_logins(out)
    done = max(figures.requests, 1)
    figures.api_cpu_ms_per_request = round((after[0] - before[0]) * 1000 / done, 3)
    figures.database_cpu_ms_per_request = round((after[1] - before[1]) * 1000 / done, 3)
    figures.generator_cpu_ms_per_request = round(generator_cpu * 1000 / done, 3)
    figures.id_tokens_checked = full.check_tokens(server.url, tokens_in(out))
    return figures


def parse_full_logins(out: str) -> Figures:
    """The figures from bench/full_login.lua's lines: each login's seconds, the errors."""
    latencies = sorted(float(line.split()[1]) for line in out.splitlines() if line[:6] == "login ")
    errors = re.search(r"^errors (\d+)$", out, re.MULTILINE)
    total = re.search(r"requests in ([\d.]+)(us|ms|s|m)", out)
    if errors is None or total is None:
        raise SystemExit(f"wrk's full-login report did not parse:\n{out[-3000:]}")
    failed = re.search(r"^failed (.*)$", out, re.MULTILINE)
    if failed and not latencies:
        raise SystemExit(f"no full login succeeded under load: {failed.group(1)}")
    seconds = float(total.group(1)) * _UNIT_MS[total.group(2)] / 1000

    def percentile(share: float) -> float:
        return round(latencies[int(share * (len(latencies) - 1))] * 1000, 2) if latencies else 0.0

    return Figures(
        requests=len(latencies),
        seconds=round(seconds, 2),
        requests_per_second=round(len(latencies) / seconds, 1) if seconds else 0.0,
        p50_ms=percentile(0.5),
        p99_ms=percentile(0.99),
        errors=int(errors.group(1)),
    )


def tokens_in(out: str) -> list[tuple[str, str]]:
    """The sampled (id_token, nonce) pairs bench/full_login.lua printed."""
    return [
        (parts[1], parts[2])
        for line in out.splitlines()
        if line[:6] == "token " and len(parts := line.split()) == 3
    ]


# -- wrk ------------------------------------------------------------------------------------------


def wrk_script(bodies: list[dict[str, Any]], token: str) -> str:
    """A wrk Lua script that POSTs the bodies in turn with the bearer token."""
    items = ",\n".join(f"[==[{json.dumps(body)}]==]" for body in bodies)
    return f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
local bodies = {{
{items}
}}
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
"""


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(out: str) -> Figures:
    """The figures from wrk's --latency report."""

    def latency(share: str) -> float:
        match = re.search(rf"^\s*{share}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
        if match is None:
            raise SystemExit(f"wrk printed no {share}% latency:\n{out}")
        return round(float(match.group(1)) * _UNIT_MS[match.group(2)], 2)

    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if total is None or rate is None:
        raise SystemExit(f"wrk's report did not parse:\n{out}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Figures(
        requests=int(total.group(1)),
        seconds=round(float(total.group(2)) * _UNIT_MS[total.group(3)] / 1000, 2),
        requests_per_second=float(rate.group(1)),
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        errors=errors,
    )


# -- report ---------------------------------------------------------------------------------------


def ratios(scenarios: dict[str, Figures | None]) -> dict[str, float | None]:
    """Requests/s against the ceiling's; and the ceiling's API CPU per request against each
    scenario's, which a busy shared machine disturbs less (one process is bound by its CPU)."""
    bare = scenarios["bare"]
    found: dict[str, float | None] = {}
    for name in ("evaluate_allowed", "evaluate_denied"):
        figures = scenarios[name]
        found[f"{name}/bare"] = (
            round(figures.requests_per_second / bare.requests_per_second, 3)
            if figures and bare and bare.requests_per_second
            else None
        )
        found[f"{name}/bare by API CPU per request"] = (
            round(bare.api_cpu_ms_per_request / figures.api_cpu_ms_per_request, 3)
            if figures and bare and bare.api_cpu_ms_per_request and figures.api_cpu_ms_per_request
            else None
        )
    return found


def check_targets(
    scenarios: dict[str, Figures | None], found: dict[str, float | None]
) -> dict[str, dict[str, Any]]:
    """Each target: value, limit, pass (None: not measured in this run)."""
    full = scenarios["full_logins"]
    targets: dict[str, tuple[float | None, str, float]] = {
        f"full logins >= {FULL_LOGINS_PER_SECOND}/s": (
            full.requests_per_second if full else None, ">=", FULL_LOGINS_PER_SECOND,
        ),
        f"full login p99 < {FULL_LOGIN_P99_MS} ms": (
            full.p99_ms if full else None, "<", FULL_LOGIN_P99_MS,
        ),
        f"evaluate (allowed) >= {CEILING_SHARE} of the bare endpoint": (
            found["evaluate_allowed/bare"], ">=", CEILING_SHARE,
        ),
        f"evaluate (denied, audited) >= {CEILING_SHARE} of the bare endpoint": (
            found["evaluate_denied/bare"], ">=", CEILING_SHARE,
        ),
    }  # fmt: skip
    checks = {">=": lambda v, limit: v >= limit, "<": lambda v, limit: v < limit}
    return {
        name: {
            "value": value,
            "limit": f"{op} {limit}",
            "pass": None if value is None else checks[op](value, limit),
        }
        for name, (value, op, limit) in targets.items()
    }


def print_report(result: dict[str, Any]) -> None:
    settings = result["settings"]
    print(
        f"\n{settings['schools']} schools x {settings['pupils']} pupils, "
        f"wrk {settings['connections']} connections x {settings['seconds']} s per scenario, "
        f"{settings['api_processes']} process(es) per server (koppel and bare), "
        f"{settings['cores']} cores, load average {settings['load_average']}"
    )
    for name, figures in result["scenarios"].items():
        if figures is None:
            print(f"  {name:>17}: not measured")
            continue
        db = figures["database_cpu_ms_per_request"]
        print(
            f"  {name:>17}: {figures['requests_per_second']:8.1f} req/s  p50 "
            f"{figures['p50_ms']:7.2f} ms  p99 {figures['p99_ms']:7.2f} ms  "
            f"errors {figures['errors']}  CPU/request: api {figures['api_cpu_ms_per_request']} ms"
            + (f", database {db} ms" if db is not None else "")
            + (
                f", load generator {figures['generator_cpu_ms_per_request']} ms"
                if figures["generator_cpu_ms_per_request"] is not None
                else ""
            )
            + (f"  audit rows {figures['audit_rows']}" if figures["audit_rows"] else "")
            + (
                f"  id_tokens verified {figures['id_tokens_checked']}"
                if name == "full_logins"
                else ""
            )
        )
    print("  (full_logins: each 'request' is one whole login, three HTTP requests)")
    print(f"ratios: {result['ratios']}")
    for name, target in result["targets"].items():
        verdict = {True: "PASS", False: "FAIL", None: "n/a "}[target["pass"]]
        print(f"  {verdict}  {name}: {target['value']} (limit {target['limit']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds before each")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--schools", type=int, default=20)
    parser.add_argument("--pupils", type=int, default=300, help="per school")
    parser.add_argument(
        "--api-processes",
        type=int,
        default=1,
        help="processes of 'koppel api' and of the bare endpoint alike (uvicorn's workers)",
    )
    parser.add_argument("--results-dir", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument(
        "--profile", type=Path, help="py-spy each scenario's server into this directory"
    )
    args = parser.parse_args()

    with login_bench(args, "koppel-logins-") as run:
        run.seed()
        run.start_servers()
        scenarios: dict[str, Figures | None] = {
            "bare": run.evaluate("bare", "bare", inside=True),
            "evaluate_allowed": run.evaluate("evaluate_allowed", "koppel", inside=True),
            "evaluate_denied": run.evaluate("evaluate_denied", "koppel", inside=False),
            "full_logins": full_logins(run),
        }
        denied = scenarios["evaluate_denied"]
        if denied is not None and (denied.audit_rows or 0) < denied.requests - denied.errors:
            raise SystemExit(
                f"{denied.requests} denials answered but {denied.audit_rows} audit rows"
            )
    found = ratios(scenarios)
    result = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {
            "seconds": args.seconds,
            "connections": args.connections,
            "schools": args.schools,
            "pupils": args.pupils,
            "cores": os.cpu_count(),
            # The machine is shared: its load (1, 5, 15 minutes) as the run ended.
            "load_average": [round(n, 2) for n in os.getloadavg()],
            "api_processes": args.api_processes,  # of koppel and of the bare endpoint alike
        },
        "scenarios": {k: asdict(v) if v else None for k, v in scenarios.items()},
        "ratios": found,
        "targets": check_targets(scenarios, found),
    }
    print_report(result)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"logins-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {path}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(server: Server, token: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(
                f"{server.url}/health", headers={"Authorization": f"Bearer {token}"}, timeout=2
            )
            if response.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if not server.service.alive() or time.monotonic() > deadline:
            raise SystemExit(f"{server.name} did not come up:\n{server.service.tail()}")
        time.sleep(0.1)


if __name__ == "__main__":
    main()
