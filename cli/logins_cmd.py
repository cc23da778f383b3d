"""'koppel logins denied': the login audit, newest first (ids only, never names)."""

from __future__ import annotations

import dataclasses

import click

from cli.runtime import emit_json, fail, local_time, session
from cli.school_cmds import find_school
from core.errors import KoppelError
from core.login.audit import recent_denials


@click.group("logins")
def logins() -> None:
    """Look at login decisions."""


@logins.command("denied")
@click.argument("brin6", required=False)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option(
    "--lang",
    type=click.Choice(["nl", "en"]),
    default="en",
    show_default=True,
    help="The language of the reasons.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def denied(brin6: str | None, limit: int, lang: str, as_json: bool) -> None:
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
        who = f"{row.person_kind}:{row.person_id}" if row.person_id else "-"
        mode = "shadow" if row.shadow else "denied"
        reason = row.reason_nl if lang == "nl" else row.reason_en
        click.echo(
            f"{local_time(row.at)}  {row.brin6 or '-':6}  {mode:6}  {who:14}  "
            f"{row.client_address or '-':39}  {row.policy}: {reason}"
        )
