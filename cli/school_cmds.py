"""'koppel check', 'koppel sync' and 'koppel export': one school, now."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from cli.runtime import emit_json, fail, local_time, plugins, progress, session
from core.errors import KoppelError
from core.linking import link_school
from core.models import Outcome, School, SyncRun
from core.schools import get_school

SYNC_EXIT = {
    Outcome.SUCCEEDED: 0,
    Outcome.UNCHANGED: 0,
    Outcome.SKIPPED: 0,
    Outcome.HELD: 2,
    Outcome.FAILED: 1,
}


def find_school(s: Session, brin6: str) -> School:
    """The linked school with this BRIN6, or SchoolNotFound saying how to link it."""
    return get_school(s, brin6, hint=f"run 'koppel check {brin6.upper()}' first to link it")


@click.command("check")
@click.argument("brin6")
@click.option("--source", default="basispoort", show_default=True, help="Identity source.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def check(brin6: str, source: str, as_json: bool) -> None:
    """Set up / check a school's connection ("Verbinding instellen/controleren").

    Exit 0: connected with consent; 3 not found; 4 no consent; 5 inactive or merged; 1 failure.
    """
    try:
        with session() as s:
            result = link_school(s, plugins(), brin6, source)
    except KoppelError as exc:
        fail(exc)
    if as_json:
        emit_json(
            {
                "brin6": brin6.upper(),
                "status": result.status.value,
                "message_nl": result.sentence_nl,
                "message_en": result.sentence_en,
                "school": None
                if result.school is None
                else {
                    "source_school_id": result.school.source_school_id,
                    "name": result.school.name,
                    "active": result.school.active,
                    "merged_into": result.school.merged_into,
                },
                "detail": result.detail,
            }
        )
    else:
        click.echo(result.sentence_nl)
        click.echo(result.sentence_en)
        if result.detail:
            click.echo(f"detail: {result.detail}", err=True)
    sys.exit(result.exit_code)


@click.command("sync")
@click.argument("brin6", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Fetch and apply even if the source says unchanged.")
@click.option("--json", "as_json", is_flag=True, help="Print the run(s) as JSON.")
def sync(brin6: tuple[str, ...], force: bool, as_json: bool) -> None:
    """Sync linked schools now, in this process; prints each run's outcome and counts.

    Several schools show progress (on stderr) and one line each. Exit 0: every run
    succeeded, was unchanged or skipped; 2: one was held for approval; 1: one failed.
    """
    with session() as s:
        schools = [find_school(s, code) for code in brin6]  # all linked, before any sync
        with progress("syncing", len(schools)) as advance:
            runs = []
            for school in schools:
                runs.append((school.brin6, _sync_one(s, school.id, force)))
                advance(school.brin6)
    if as_json:
        shown = [_run_json(code, run) for code, run in runs]
        emit_json(shown[0] if len(shown) == 1 else shown)
    elif len(runs) == 1:
        _print_run(runs[0][1])
    else:
        for code, run in runs:
            counts = ", ".join(f"{k} {v}" for k, v in _changed(run).items()) or "-"
            click.echo(f"{code}  run {run.id:<6} {run.outcome:<10} {_took(run):>7}  {counts}")
    codes = {SYNC_EXIT.get(run.outcome, 1) for _code, run in runs}
    sys.exit(1 if 1 in codes else max(codes))


def _sync_one(s: Session, school_id: int, force: bool) -> SyncRun:
    """Run one school's sync; a failure is recorded on its run, which is returned."""
    from core.sync.engine import sync_school

    try:
        run = sync_school(s, school_id, plugins=plugins(), trigger="manual", force=force)
    except KoppelError:
        run = None
    if run is None:  # the run was recorded as failed; read it back
        run = s.scalars(
            select(SyncRun).where(SyncRun.school_id == school_id).order_by(SyncRun.id.desc())
        ).first()
    assert run is not None
    return run


def _changed(run: SyncRun) -> dict[str, int]:
    return {k: v for k, v in sorted((run.counts or {}).items()) if v}


def _took(run: SyncRun) -> str:
    if run.finished_at is None:
        return "-"
    return f"{(run.finished_at - run.started_at).total_seconds():.2f}s"


def _run_json(brin6: str, run: SyncRun) -> dict[str, Any]:
    return {
        "brin6": brin6,
        "run_id": run.id,
        "outcome": run.outcome,
        "counts": run.counts,
        "error": run.error,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


def _print_run(run: SyncRun) -> None:
    took = f" in {_took(run)}" if run.finished_at else ""
    click.echo(f"run {run.id}: {run.outcome}{took}")
    for key, value in _changed(run).items():
        click.echo(f"  {key}: {value}")
    if run.error:
        click.echo(f"error: {run.error}", err=True)


@click.command("export")
@click.argument("brin6")
@click.option("--json", "as_json", is_flag=True, help="Every group and person, as JSON.")
def export(brin6: str, as_json: bool) -> None:
    """What is stored for a school: a summary per group (people counted, not named), or with
    --json every group, pupil and staff member, each with a 'left' flag."""
    from core.export import export_school

    try:
        with session() as s:
            data = export_school(s, find_school(s, brin6))
    except KoppelError as exc:
        fail(exc)
    if as_json:
        emit_json(data)
    else:
        _print_export(data)


def _print_export(data: dict[str, Any]) -> None:
    school = data["school"]
    click.echo(f"{school['brin6']}  {school['name'] or ''}".rstrip())
    click.echo(f"  consent {school['consent']}, last synced {local_time(school['last_synced_at'])}")
    for kind in ("pupils", "staff", "groups"):
        rows = data[kind]
        left = sum(row["left"] for row in rows)
        click.echo(f"  {kind}: {len(rows) - left} live, {left} left")
    pupils = Counter(p["group"] for p in data["pupils"] if not p["left"])
    for group in data["groups"]:
        if not group["left"]:
            count = f"{pupils[group['key']]} pupils" if group["kind"] == "group" else group["kind"]
            click.echo(f"    {group['key']:<12} {group['name'] or '-':<30} {count}")
    networks = ", ".join(f"{n['network']} ({n['origin']})" for n in data["networks"])
    click.echo(f"  networks: {networks or 'none'}")
    click.echo("  (--json lists every person)")
