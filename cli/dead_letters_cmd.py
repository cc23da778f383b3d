"""'koppel dead-letters': the messages the workers gave up on, and putting one back."""

from __future__ import annotations

import click

from cli.runtime import emit_json, fail, local_time
from core.errors import KoppelError


@click.group("dead-letters")
def dead_letters() -> None:
    """RabbitMQ's dead-letter queues (<queue>.XQ): messages refused or retried to the limit."""


@dead_letters.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def list_cmd(as_json: bool) -> None:
    """Every dead letter: message id, queue, actor, school id, retries, when, why."""
    from workers.dead_letters import list_dead_letters

    try:
        found = list_dead_letters()
    except KoppelError as exc:
        fail(exc)
    if as_json:
        emit_json(
            [
                {
                    "message_id": d.message_id,
                    "queue": d.queue,
                    "actor": d.actor,
                    "school_id": d.school_id,
                    "retries": d.retries,
                    "dead_at": d.dead_at.isoformat() if d.dead_at else None,
                    "why": d.why,
                }
                for d in found.letters
            ]
        )
        return
    if not found.letters:
        click.echo("no dead letters")
    for d in found.letters:
        click.echo(
            f"{d.message_id}  {d.queue}  {d.actor}  school {d.school_id or '-'}  "
            f"retries {d.retries}  {local_time(d.dead_at)}  {d.why}"
        )
    if found.total > len(found.letters):
        click.echo(f"… {found.total - len(found.letters)} more not listed")


@dead_letters.command("requeue")
@click.argument("message_id")
def requeue_cmd(message_id: str) -> None:
    """Put one dead letter back on its queue, with its retries reset."""
    from workers.dead_letters import requeue

    try:
        letter = requeue(message_id)
    except KoppelError as exc:
        fail(exc)
    click.echo(f"message {letter.message_id} is back on {letter.queue}")
