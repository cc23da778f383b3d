"""'koppel demo': the whole job on the embedded default — SQLite, in-process broker, simulator."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import secrets
import sys
import tempfile
import threading
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

HOME = "203.0.113.7"  # a documentation address: nobody's school network


@click.command("demo")
@click.option("--schools", default=8, show_default=True, help="Schools in the simulated world.")
@click.option("--seed", default=2026, show_default=True)
@click.option("--verbose", is_flag=True, help="Show koppel's log lines too.")
@click.option(
    "--database",
    default="koppel-demo.db",
    show_default=True,
    help="SQLite file for the demo (made anew each run).",
)
@click.option(
    "--serve",
    is_flag=True,
    help="Then serve the pages on 127.0.0.1 and print a one-time link into a school's "
    "Basispoort tab, until Ctrl-C.",
)
@click.option("--port", default=8000, show_default=True, help="The pages' port with --serve.")
def demo(schools: int, seed: int, database: str, verbose: bool, serve: bool, port: int) -> None:
    """Link a handful of simulated schools, sync them, let a night pass, sync again, log in."""
    if not verbose:
        from core.logging import configure

        configure("console", "WARNING")
    console = Console()
    db_file = Path(database).resolve()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    pki_dir = Path(tempfile.mkdtemp(prefix="koppel-demo-pki-"))

    from plugins.basispoort.simulator import SimulatorServer, World, make_test_pki
    from plugins.basispoort.simulator.pki import make_sp_signing_key

    world = World(seed=seed, schools=schools)
    # Basispoort's identity provider is another host than its API, reached by browsers: no mTLS.
    with (
        SimulatorServer(world, tls=make_test_pki(pki_dir), ipadressen=True) as sim,
        SimulatorServer(world) as idp,
    ):
        # koppel signs its AuthnRequests with a key of its own; it trusts the IdP's metadata
        # only with a valid signature by the certificate the IdP publishes for that.
        signer = pki_dir / "idp-metadata-signer.pem"
        signer.write_text(idp.idp.certificate_pem())
        sso = {
            "KOPPEL_BASISPOORT_SSO_METADATA": f"{idp.url}idp/metadata",
            "KOPPEL_BASISPOORT_SSO_METADATA_SIGNER": str(signer),
            "KOPPEL_SSO_SIGNING_KEY": str(make_sp_signing_key(pki_dir)),
        }
        _configure(f"sqlite:///{db_file}", sim.url, pki_dir, sso)
        console.print(
            f"[bold]Basispoort simulator[/] on {sim.url} (mutual TLS, test CA in {pki_dir}); "
            f"its identity provider on {idp.url} (koppel's SAML key: {pki_dir}/sp.pem)"
        )
        console.print(f"[bold]Database[/] {db_file}; broker: in-process\n")
        school_id, at_school = _run(console, world, db_file)
        from cli.demo_pages import offer_pages, serve_pages, served_koppel
        from cli.demo_sso import register_with_idp, show_request_checks, show_sign_ins

        with served_koppel(port if serve else 0) as koppel:
            register_with_idp(idp, koppel.url)
            console.rule(
                "5. Signing in to the LVS through Basispoort (SAML in, OpenID Connect out)"
            )
            console.print(
                f"koppel on {koppel.url}; a demo LVS registered as 'koppel oidc clients add' "
                "does; each person clicked at the simulator's identity provider, koppel judges "
                "the browser's own address (X-Forwarded-For through a proxy koppel trusts)."
            )
            show_sign_ins(console, koppel.url, school_id, at_school, HOME)
            show_request_checks(console, koppel.url, idp)
            _look_around(console, db_file, school_id)
            if serve:
                serve_pages(console, koppel, school_id, idp.url)
                return
        if offer_pages(console, school_id):
            with served_koppel(port) as koppel:
                register_with_idp(idp, koppel.url)
                serve_pages(console, koppel, school_id, idp.url)


def _configure(database_url: str, sim_url: str, pki_dir: Path, sso: dict[str, str]) -> None:
    """Point every part of koppel at the demo's database and simulator, in-process broker;
    ``sso``: the sign-in settings."""
    os.environ.update(
        KOPPEL_DATABASE_URL=database_url,
        KOPPEL_BASISPOORT_URL=sim_url,
        KOPPEL_BASISPOORT_CERT=str(pki_dir / "client.pem"),
        KOPPEL_BASISPOORT_CA=str(pki_dir / "ca.pem"),
        KOPPEL_BASISPOORT_IPADRESSEN="true",
        **sso,
    )
    os.environ.pop("KOPPEL_BROKER_URL", None)
    from cli import runtime
    from core.plugins import set_plugins
    from core.settings import get_settings

    get_settings.cache_clear()
    runtime.forget_engines()
    set_plugins(None)


def _run(console: Console, world, db_file: Path) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """The demo's steps; the id of the school whose logins it showed, an address inside it."""
    from cli.runtime import plugins, session, upgrade_database
    from core.linking import link_school

    upgrade_database()

    console.rule("1. Verbinding instellen/controleren (connection check)")
    table = Table("BRIN6", "school", "outcome", "what the school admin reads")
    with session() as s:
        for school_id in world.school_ids:
            header = world.school(school_id)
            check = link_school(s, plugins(), header.brin6)
            table.add_row(header.brin6, header.naam, check.status.value, check.sentence_nl)
    console.print(table)
    linked = _consenting()

    console.rule(f"2. The first night: {len(linked)} schools through the broker")
    _sync_all(console, linked, "first night")
    _print_changes(console, linked)

    _consent_given(console, world)
    linked = _consenting()

    world.advance_night()
    console.rule("3. A night passes at Basispoort: pupils move, leave and arrive")
    _sync_all(console, linked, "second night")
    _print_changes(console, linked)
    console.print("Schools whose data did not change were not fetched again ('unchanged').\n")

    console.rule("4. The next morning: the LVS asks koppel at every login")
    return linked[0], _logins(console, linked[0])


def _consenting() -> list[int]:
    from cli.runtime import session
    from core.models import School

    with session() as s:
        return list(s.scalars(select(School.id).where(School.consent == "granted")))


def _consent_given(console: Console, world) -> None:  # type: ignore[no-untyped-def]
    """A school without consent ticks the box in Basispoort; the next check finds it."""
    from cli.runtime import plugins, session
    from core.linking import link_school

    waiting = [i for i in world.school_ids if not world.school(i).consent]
    if not waiting:
        return
    header = world.school(waiting[0])
    console.rule(f"2b. {header.naam} ({header.brin6}) gives consent in Basispoort")
    world.set_consent(waiting[0], True)
    with session() as s:
        check = link_school(s, plugins(), header.brin6)
    console.print(f"koppel check {header.brin6}: {check.sentence_nl}")
    console.print("It is synced with the others from the next night on.\n")


def _look_around(console: Console, db_file: Path, school_id: int) -> None:
    """Commands that run as printed: this environment's koppel, this demo's database."""
    from cli.runtime import session
    from core.models import School

    with session() as s:
        school = s.get(School, school_id)
        assert school is not None
        brin6 = school.brin6
    koppel = Path(sys.executable).with_name("koppel")
    if koppel.is_relative_to(Path.cwd()):
        koppel = koppel.relative_to(Path.cwd())
    database = f"KOPPEL_DATABASE_URL=sqlite:///{db_file}"
    console.print("\nLook around (the demo's database stays):")
    for command in ("schools list", f"status {brin6}", f"export {brin6}"):
        console.print(f"  {database} {koppel} {command}", soft_wrap=True, highlight=False)


def _sync_all(console: Console, school_ids: list[int], label: str) -> None:
    """Send one message per school and work them off with an in-process worker."""
    from cli.runtime import session
    from core.models import SyncRun
    from workers.enqueue import send_now
    from workers.inprocess import drain, in_process_worker

    with session() as s:
        before = s.scalar(select(func.max(SyncRun.id))) or 0
    for school_id in school_ids:
        send_now(school_id)
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with in_process_worker(threads=2), Progress(*columns, console=console) as progress:
        task = progress.add_task(label, total=len(school_ids))
        # drain() returns when every message is done: synced, or failed for good (dead letter).
        draining = threading.Thread(target=drain, daemon=True)
        draining.start()
        while draining.is_alive():
            draining.join(0.1)
            with session() as s:
                done = s.scalar(
                    select(func.count(func.distinct(SyncRun.school_id))).where(
                        SyncRun.id > before, SyncRun.outcome != "running"
                    )
                )
            progress.update(task, completed=min(done or 0, len(school_ids)))


def _print_changes(console: Console, school_ids: list[int]) -> None:
    from cli.runtime import session
    from core.models import School, SyncRun

    table = Table("BRIN6", "outcome", "pupils", "staff", "groups", "ms")
    with session() as s:
        for school_id in school_ids:
            school = s.get(School, school_id)
            run = s.scalars(
                select(SyncRun).where(SyncRun.school_id == school_id).order_by(SyncRun.id.desc())
            ).first()
            if school is None or run is None:
                continue
            counts = run.counts or {}
            took = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0
            table.add_row(
                school.brin6,
                run.outcome if not run.error else f"{run.outcome}: {run.error}",
                *(_changes(counts, kind) for kind in ("pupils", "staff", "groups")),
                f"{took * 1000:.0f}",
            )
    console.print(table)


def _changes(counts: dict[str, int], kind: str) -> str:
    """'+229' on a first night; '+1 -2 moved 1 changed 1' after one."""
    parts = [
        f"{label}{counts.get(f'{kind}_{key}', 0)}"
        for key, label in (
            ("created", "+"),
            ("left", "-"),
            ("moved", "moved "),
            ("updated", "changed "),
            ("restored", "back "),
        )
        if counts.get(f"{kind}_{key}")
    ]
    return " ".join(parts) or "-"


def _logins(console: Console, school_id: int) -> str:
    """Ask the HTTP API the LVS uses (in-process) about a few logins at one school; returns the
    address inside the school's network it asked about."""
    import httpx

    from api.app import create_app
    from cli.runtime import plugins, session, session_factory
    from core.models import Pupil, School, SchoolNetwork, Staff
    from core.settings import load_settings

    with session() as s:
        school = s.get(School, school_id)
        assert school is not None
        pupil = s.scalars(select(Pupil).where(Pupil.school_id == school_id)).first()
        teacher = s.scalars(select(Staff).where(Staff.school_id == school_id)).first()
        row = s.execute(
            select(SchoolNetwork.network, SchoolNetwork.origin).where(
                SchoolNetwork.school_id == school_id
            )
        ).first()
        ref, source_school_id, name = school.source_ref, school.source_school_id, school.name
    assert pupil is not None and teacher is not None
    network, origin = row if row is not None else (None, None)
    at_school = str(next(iter(ipaddress.ip_network(network).hosts()))) if network else "192.0.2.1"
    if network:
        console.print(
            f"Pupils of {name} may log in from {network} (origin: {origin}; the school's "
            "administrator can add more with 'koppel networks add' or the API)."
        )
    token = secrets.token_urlsafe(24)
    app = create_app(
        load_settings(api_tokens=[token], web_secret=secrets.token_urlsafe(32)),
        session_factory=session_factory(),
        plugins=plugins(),
    )
    cases = [
        ("pupil", pupil.source_id, at_school, "from the school network"),
        ("pupil", pupil.source_id, HOME, "from home"),
        ("teacher", teacher.source_id, HOME, "from home"),
        ("unknown", "999999999", at_school, "not synced (yet)"),
    ]

    async def ask_all() -> list[dict]:
        transport = httpx.ASGITransport(app=app)
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://lvs", headers=auth
        ) as lvs:
            return [
                (
                    await lvs.post(
                        "/v1/logins/evaluate",
                        json={
                            "school_ref": ref,
                            "school_id": source_school_id,
                            "user_id": user_id,
                            "peer_address": address,
                        },
                    )
                ).json()
                for _who, user_id, address, _where in cases
            ]

    table = Table("who", "where", "let in?", "reason (what the LVS shows)")
    for (who, _user_id, address, where), answer in zip(cases, asyncio.run(ask_all()), strict=True):
        reasons = "; ".join(d["reason_nl"] for d in answer.get("denials", []))
        allowed = "yes" if answer.get("allowed") else "no"
        table.add_row(who, f"{address} ({where})", allowed, reasons)
    console.print(table)
    return at_school
