"""'koppel sync-now': queue one school's sync ahead of the nightly backlog."""

from __future__ import annotations

import click

from cli.runtime import fail, session
from cli.school_cmds import find_school
from core.errors import ConfigError, KoppelError
from core.probes import check_broker
from core.settings import get_settings


@click.command("sync-now")
@click.argument("brin6")
def sync_now(brin6: str) -> None:
    """Queue a sync of one linked school for the workers; prints the message id.

    The message goes on the 'sync now' queue, which workers serve before the nightly one.
    To sync in this process instead, use 'koppel sync BRIN6'.
    """
    from workers.broker import is_in_process
    from workers.enqueue import send_now

    try:
        if is_in_process():
            raise ConfigError(
                "'koppel sync-now' hands the school to the workers through RabbitMQ, "
                "and KOPPEL_BROKER_URL is not set",
                hint="set KOPPEL_BROKER_URL, or sync in this process with 'koppel sync BRIN6'",
            )
        with session() as s:
            school_id = find_school(s, brin6).id
        check_broker(get_settings().broker_url or "")
        message = send_now(school_id)
    except KoppelError as exc:
        fail(exc)
    click.echo(message.message_id)
