"""'koppel plans': the held sync plans, and a person's decision on each (approve or reject)."""

from __future__ import annotations

import getpass
import sys
from typing import Any

import click

from cli.runtime import emit_json, fail, local_time, plugins, session
from core.errors import KoppelError

# 'plans show' prints this many records per list; --json prints them all.
SHOWN = 20

# A plan id: a row id the database can hold (a larger number is a typo, not a lookup).
PLAN_ID = click.IntRange(1, 2**63 - 1)

# Exit codes of 'plans approve'.
APPLIED, NEW_PLAN_HELD, NOT_APPLIED = 0, 2, 3


def _operator() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without a passwd entry)
        return "unknown"


@click.group("plans")
def plans() -> None:
    """Sync plans held by the safety check, waiting for a person to approve or reject them."""


@plans.command("list")
@click.option("--all", "include_decided", is_flag=True, help="Also approved, rejected and stale.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def list_cmd(include_decided: bool, as_json: bool) -> None:
    """List held plans (newest first): id, school, counts, why held."""
    from core.plans import list_plans
    from core.schools import school_names

    try:
        with session() as s:
            found = list_plans(s, include_decided=include_decided)
            names = school_names(s) if found and not as_json else {}
    except KoppelError as exc:
        fail(exc)
    if as_json:
        emit_json(found)
        return
    if not found:
        click.echo("no plans" if include_decided else "no held plans")
    for plan in found:
        made = local_time(plan["created_at"])
        click.echo(
            f"plan {plan['id']}  {plan['brin6']} {names.get(plan['brin6'], '')}  "
            f"{plan['status']}  {made}  {_counts(plan['counts'])}"
        )
        for reason in plan["reasons"]:
            click.echo(f"    {reason}")


@plans.command("show")
@click.argument("plan_id", type=PLAN_ID)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON, every record included.")
def show_cmd(plan_id: int, as_json: bool) -> None:
    """Show one plan: counts, reasons and which records it writes (ids only, no names)."""
    from core.plans import show_plan

    try:
        with session() as s:
            plan = show_plan(s, plan_id)
    except KoppelError as exc:
        fail(exc)
    if as_json:
        emit_json(plan)
        return
    click.echo(
        f"plan {plan['id']} for {plan['brin6']} (school {plan['school_id']}): {plan['status']}"
    )
    click.echo(f"  made {local_time(plan['created_at'])} by run {plan['run_id']}")
    if plan["decided_at"]:
        click.echo(f"  decided {local_time(plan['decided_at'])} by {plan['decided_by']}")
    click.echo(f"  counts: {_counts(plan['counts'])}")
    for reason in plan["reasons"]:
        click.echo(f"  held: {reason}")
    records = plan["records"]
    if records is None:
        click.echo("  (its records were purged)")
        return
    for kind in ("groups", "pupils", "staff"):
        for action, items in records[kind].items():
            if items:
                click.echo(f"  {kind} {action} ({len(items)}): {_items(items)}")


def _items(items: list[dict[str, Any]]) -> str:
    shown = [" ".join(f"{k}={v}" for k, v in item.items()) for item in items[:SHOWN]]
    more = f" … and {len(items) - SHOWN} more (--json shows all)" if len(items) > SHOWN else ""
    return "; ".join(shown) + more


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "no changes"


@plans.command("approve")
@click.argument("plan_id", type=PLAN_ID)
@click.option("--by", default=_operator, show_default="your login name", help="Who decides.")
def approve_cmd(plan_id: int, by: str) -> None:
    """Apply exactly this held plan, if the school's data has not changed since it was made.

    If it has, the plan is marked stale and the school is synced anew: that new plan is
    applied or held in turn. Exit 0: a plan was applied; 2: the new plan is held; 3: nothing
    was applied (the new sync was skipped or failed); 1: the plan cannot be approved.
    """
    from core.plans import approve_plan

    try:
        with session() as s:
            decision = approve_plan(s, plugins(), plan_id, by=by)
            lines, code = _approval_report(plan_id, decision)  # while the rows are loadable
    except KoppelError as exc:
        fail(exc)
    for line in lines:
        click.echo(line)
    sys.exit(code)


def _approval_report(plan_id: int, decision: Any) -> tuple[list[str], int]:
    run = decision.run
    if decision.applied:
        return [f"plan {plan_id} applied (run {run.id}): {_counts(_nonzero(run.counts))}"], APPLIED
    lines = [f"plan {plan_id} was not applied: {decision.reason}; it is marked stale"]
    if run is None:
        return [*lines, "no new sync ran"], NOT_APPLIED
    if decision.new_plan_id is not None:
        lines.append(
            f"the new sync (run {run.id}) was held as plan {decision.new_plan_id}: "
            f"{run.error}; see 'koppel plans show {decision.new_plan_id}'"
        )
        return lines, NEW_PLAN_HELD
    lines.append(f"the new sync (run {run.id}): {run.outcome} {_counts(_nonzero(run.counts))}")
    if run.error:
        lines.append(f"  {run.error}")
    return lines, APPLIED if run.outcome in ("succeeded", "unchanged") else NOT_APPLIED


@plans.command("reject")
@click.argument("plan_id", type=PLAN_ID)
@click.option("--by", default=_operator, show_default="your login name", help="Who decides.")
def reject_cmd(plan_id: int, by: str) -> None:
    """Reject a held plan: nothing is applied.

    The next sync plans again from what the source serves then; if the source still says the
    same, that plan is held again. Fix the data at the source, then approve the next plan.
    """
    from core.plans import reject_plan

    try:
        with session() as s:
            reject_plan(s, plan_id, by=by)
    except KoppelError as exc:
        fail(exc)
    click.echo(f"plan {plan_id} rejected; nothing was applied")


def _nonzero(counts: dict[str, int] | None) -> dict[str, int]:
    return {k: v for k, v in sorted((counts or {}).items()) if v}
