"""'koppel logins denied': the login audit, newest first (ids only, never names)."""

from __future__ import annotations

import dataclasses

import click

from cli.runtime import emit_json, fail, session
from cli.school_cmds import find_school
from core.errors import KoppelError
from core.login.audit import recent_denials


@click.group("logins")
def logins() -> None:
    """Look at login decisions."""


@logins.command("denied")
@click.argument("brin6", required=False)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def denied(brin6: str | None, limit: int, as_json: bool) -> None:
    """List denied logins (and shadow denials) of one school or of all schools."""
    try:
        with session() as s:
            school_id = find_school(s, brin6).id if brin6 else None
            rows = recent_denials(s, school_id, limit)
    except KoppelError as exc:
        fail(exc)
    if as_json:
        emit_json([dataclasses.asdict(row) for row in rows])
        return
    if not rows:
        click.echo("no denied logins")
        return
    for row in rows:
        who = f"{row.person_kind or '-'}:{row.person_id or '-'}"
        mode = "shadow" if row.shadow else "denied"
        click.echo(
            f"{row.at:%Y-%m-%d %H:%M:%SZ}  {row.brin6 or '-':6}  {mode:6}  {who:14}  "
            f"{row.client_address or '-':39}  {row.policy}: {row.reason_en}"
        )
