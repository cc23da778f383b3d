"""'koppel status': one school's link, runs, held plans and counts; or the last night for all."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import click

from cli.runtime import emit_json, fail, local_time, session
from cli.school_cmds import find_school
from core.errors import KoppelError
from core.models import utcnow


@click.command("status")
@click.argument("brin6", required=False)
@click.option(
    "--hours",
    type=click.FloatRange(min=0, min_open=True),
    default=24,
    show_default=True,
    help="How far back 'the last night' reaches (without BRIN6).",
)
@click.option(
    "--runs",
    type=click.IntRange(0, 1000),
    default=5,
    show_default=True,
    help="How many of the school's latest runs to list (with BRIN6).",
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def status(brin6: str | None, hours: float, runs: int, as_json: bool) -> None:
    """Without BRIN6: how the last night went for every school. With it: that school.

    A school's status: consent, last success, last failure and its reason, held plans, and
    the pupils, staff and groups koppel holds (live and left).
    """
    from core.status import night_summary, school_status

    try:
        with session() as s:
            if brin6 is None:
                now = utcnow()
                data = night_summary(s, since=now - timedelta(hours=hours), now=now)
            else:
                data = school_status(s, find_school(s, brin6), runs=runs)
    except KoppelError as exc:
        fail(exc)
    if as_json:
        emit_json(data)
    elif brin6 is None:
        _print_night(data)
    else:
        _print_school(data)


def _print_school(data: dict[str, Any]) -> None:
    click.echo(f"{data['brin6']}  {data['name'] or ''}  (school {data['school_id']})")
    merged = f", merged into {data['merged_into']}" if data["merged_into"] else ""
    click.echo(
        f"  consent: {data['consent']} (since {local_time(data['consent_changed_at'])}), "
        f"active: {'yes' if data['active'] else 'no'}{merged}"
    )
    for label, key in (("last run", "last_run"), ("last success", "last_success")):
        click.echo(f"  {label}: {_run(data[key])}")
    failure = data["last_failure"]
    click.echo(f"  last failure: {_run(failure)}")
    if failure and failure["reason"]:
        click.echo(f"    reason: {failure['reason']}")
    for plan in data["held_plans"]:
        when = local_time(plan["created_at"])
        click.echo(f"  held plan {plan['id']} ({when}): {'; '.join(plan['reasons'])}")
    counts = data["counts"]
    for kind in ("pupils", "staff", "groups"):
        c = counts[kind]
        purged = f", {c['purged']} purged" if c.get("purged") else ""
        click.echo(f"  {kind}: {c['live']} live, {c['left']} left{purged}")
    click.echo(f"  networks: {counts['networks']}")
    if data["recent_runs"]:
        click.echo(f"  latest {len(data['recent_runs'])} runs:")
    for run in data["recent_runs"]:
        took = _seconds(run)
        changes = ", ".join(
            f"{k} {v}" for k, v in run["counts"].items() if not k.startswith("note_")
        )
        click.echo(
            f"    {local_time(run['started_at'])}  run {run['id']:<6} {run['trigger']:<9} "
            f"{run['outcome']:<10} {took:>7}  {changes or '-'}"
        )


def _seconds(run: dict[str, Any]) -> str:
    if not run["finished_at"]:
        return "-"
    started, finished = (datetime.fromisoformat(run[k]) for k in ("started_at", "finished_at"))
    return f"{(finished - started).total_seconds():.1f}s"


def _run(run: dict[str, Any] | None) -> str:
    if run is None:
        return "none"
    return (
        f"run {run['id']} {run['outcome']} at {local_time(run['finished_at'] or run['started_at'])}"
    )


def _print_night(data: dict[str, Any]) -> None:
    outcomes = ", ".join(f"{n} {name}" for name, n in data["outcomes"].items() if n)
    since = local_time(data["since"])
    click.echo(f"since {since}: {data['schools']} schools ran: {outcomes or 'none'}")
    for label, key in (("failed", "failures"), ("held", "held"), ("skipped", "skipped")):
        for item in data[key]:
            click.echo(f"  {label}: {item['brin6']}: {item['reason']}")
    if data["not_run"]:
        click.echo(
            f"  not run: {len(data['not_run'])} schools, e.g. {', '.join(data['not_run'][:10])}"
        )
    click.echo(f"held plans waiting: {data['held_plans']}")
