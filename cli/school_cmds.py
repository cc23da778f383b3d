"""'koppel check', 'koppel sync' and 'koppel export': one school, now."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from cli.runtime import emit_json, fail, local_time, plugins, session
from core.errors import KoppelError
from core.linking import link_school
from core.models import School
from core.schools import get_school

SYNC_EXIT = {"succeeded": 0, "unchanged": 0, "skipped": 0, "held": 2, "failed": 1}


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
@click.argument("brin6")
@click.option("--force", is_flag=True, help="Fetch and apply even if the source says unchanged.")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
def sync(brin6: str, force: bool, as_json: bool) -> None:
    """Sync one linked school now, in this process; prints the run's outcome and counts.

    Exit 0: succeeded, unchanged or skipped; 2 held for approval; 1 failed.
    """
    from core.sync.engine import sync_school

    try:
        with session() as s:
            school = find_school(s, brin6)
            try:
                run = sync_school(s, school.id, plugins=plugins(), trigger="manual", force=force)
            except KoppelError:
                run = None
            if run is None:  # the run was recorded as failed; read it back
                from core.models import SyncRun

                run = s.scalars(
                    select(SyncRun)
                    .where(SyncRun.school_id == school.id)
                    .order_by(SyncRun.id.desc())
                ).first()
    except KoppelError as exc:
        fail(exc)
    assert run is not None
    counts = {k: v for k, v in sorted((run.counts or {}).items()) if v}
    if as_json:
        emit_json(
            {
                "brin6": brin6.upper(),
                "run_id": run.id,
                "outcome": run.outcome,
                "counts": run.counts,
                "error": run.error,
                "started_at": run.started_at.isoformat(),
                "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            }
        )
    else:
        took = (
            f" in {(run.finished_at - run.started_at).total_seconds():.2f}s"
            if run.finished_at
            else ""
        )
        click.echo(f"run {run.id}: {run.outcome}{took}")
        for key, value in counts.items():
            click.echo(f"  {key}: {value}")
        if run.error:
            click.echo(f"error: {run.error}", err=True)
    sys.exit(SYNC_EXIT.get(run.outcome, 1))


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
