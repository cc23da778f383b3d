"""'koppel consent sweep', 'purge' and 'prune': the data's lifecycle, by hand or from cron."""

from __future__ import annotations

from datetime import date

import click

from cli.runtime import emit_json, fail, plugins, progress, session
from core.errors import KoppelError
from core.models import utcnow
from core.settings import get_settings


@click.group("consent")
def consent() -> None:
    """Consent given and withdrawn by schools at their identity source."""


@consent.command("sweep")
@click.option(
    "--day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The day to ask about (the source also asks its neighbours); default today in"
    " KOPPEL_SCHEDULER_TIMEZONE.",
)
@click.option("--source", default="basispoort", show_default=True, help="Identity source.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def sweep(day: object, source: str, as_json: bool) -> None:
    """Record the day's grants and revocations; new grants are linked and synced.

    With KOPPEL_BROKER_URL the syncs go to the workers ('sync now' queue); without it they
    run in this process, one after another.
    """
    from core.consent import schools_today, sweep_consent
    from workers.broker import is_in_process

    queued: list[int] = []
    try:
        zone = get_settings().zone
        asked: date = day.date() if day is not None else schools_today(zone)  # type: ignore[attr-defined]
        with session() as s:
            if is_in_process():
                found = sweep_consent(s, plugins(), asked, source, enqueue_sync=queued.append)
                outcomes = _sync_here(s, queued)
            else:
                from workers.enqueue import send_now

                found = sweep_consent(s, plugins(), asked, source, enqueue_sync=send_now)
                outcomes = {}
    except KoppelError as exc:
        fail(exc)
    if as_json:
        emit_json({**found.as_dict(), "synced": outcomes})
        return
    click.echo(
        f"{asked.isoformat()}: {len(found.granted)} granted, {len(found.revoked)} revoked, "
        f"{found.unchanged} already known, {found.unknown_revoked} revocations of unknown "
        f"schools, {len(found.queued)} syncs queued"
    )
    for source_school_id in found.not_linked:
        click.echo(f"  not linked: source school {source_school_id} (see the log)")
    for school_id, outcome in outcomes.items():
        click.echo(f"  school {school_id}: {outcome}")


def _sync_here(s: object, school_ids: list[int]) -> dict[str, str]:
    """Sync each school in this process (no broker); a failure is reported, not raised."""
    from core.sync.engine import sync_school

    outcomes = {}
    with progress("syncing new grants", len(school_ids)) as advance:
        for school_id in school_ids:
            try:
                run = sync_school(s, school_id, plugins=plugins(), trigger="consent")  # type: ignore[arg-type]
                outcomes[str(school_id)] = run.outcome
            except KoppelError as exc:
                outcomes[str(school_id)] = f"failed: {exc}"
            advance(f"school {school_id}")
    return outcomes


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would be purged.")
@click.option(
    "--retention-days",
    type=click.IntRange(min=0),
    help="Days after a revocation before the purge (default KOPPEL_RETENTION_DAYS).",
)
@click.option(
    "--scrub",
    is_flag=True,
    help="Rewrite the database's files even if nothing is purged now (after a failed scrub).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def purge(dry_run: bool, retention_days: int | None, scrub: bool, as_json: bool) -> None:
    """Purge the personal data of schools that revoked consent (past the retention period).

    Pupils and staff keep their ids and dates; names, ECK iDs, lasKeys, e-mail, group keys,
    network descriptions, the audit's person ids and addresses, and memberships are cleared.
    Then the database's files are rewritten so the cleared values leave them too. Logged per
    school, counts only.
    """
    from core.retention import purge_revoked
    from core.scrub import engine_of, scrub_storage

    settings = get_settings()
    days = settings.retention_days if retention_days is None else retention_days
    try:
        with session() as s:
            report = purge_revoked(s, utcnow(), days, dry_run=dry_run)
            engine = engine_of(s)
    except KoppelError as exc:
        fail(exc)
    if as_json:
        emit_json(report.as_dict())
    else:
        verb = "would purge" if dry_run else "purged"
        click.echo(f"{verb} {len(report.schools)} schools: {_counts(report.totals)}")
        for school_id, counts in report.schools.items():
            click.echo(f"  school {school_id}: {_counts(counts)}")
    if report.changed or (scrub and not dry_run):
        try:
            scrub_storage(engine, rewrite=settings.purge_rewrite_tables)
        except KoppelError as exc:
            fail(exc)


@click.command("prune")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def prune(dry_run: bool, as_json: bool) -> None:
    """Delete audit rows, sync runs and scheduler ticks past their retention.

    KOPPEL_LOGIN_AUDIT_RETENTION_DAYS, KOPPEL_SYNC_RUN_RETENTION_DAYS,
    KOPPEL_SCHEDULER_TICK_RETENTION_DAYS and KOPPEL_OPERATOR_AUDIT_RETENTION_DAYS (the
    console's audit) say how long; expired single sign-on state (sent request ids, seen
    assertion ids) goes too. The workers do this every night.
    """
    from core.prune import prune_history
    from core.scrub import checkpoint, engine_of

    try:
        with session() as s:
            report = prune_history(s, get_settings(), dry_run=dry_run)
            engine = engine_of(s)
    except KoppelError as exc:
        fail(exc)
    if report.changed:
        checkpoint(engine)
    if as_json:
        emit_json(report.as_dict())
        return
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {_counts(report.deleted)}")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items())
