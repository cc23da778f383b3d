"""'koppel operators': the accounts that may sign in to the console (add, remove, list)."""

from __future__ import annotations

import sys

import click

from cli.runtime import fail, local_time, session
from core.errors import KoppelError
from core.settings import get_settings


@click.group("operators")
def operators() -> None:
    """Accounts of the publisher's staff for the console (/console on 'koppel api')."""


@operators.command("add")
@click.argument("name")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (one line)."
)
def add_cmd(name: str, password_stdin: bool) -> None:
    """Add an account; asks for its password twice (or reads it with --password-stdin)."""
    from core.operators import add_operator, check_name, check_password

    settings = get_settings()
    try:
        check_name(name)
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = click.prompt(
                "Password", hide_input=True, confirmation_prompt="Repeat the password"
            )
        check_password(password, settings)
        with session() as s:
            operator = add_operator(s, name, password, settings)
            click.echo(f"operator {operator.name} added")
    except KoppelError as exc:
        fail(exc)


@operators.command("remove")
@click.argument("name")
def remove_cmd(name: str) -> None:
    """Remove an account; its console sessions end at their next page."""
    from core.operators import normal_name, remove_operator

    try:
        with session() as s:
            remove_operator(s, name)
    except KoppelError as exc:
        fail(exc)
    click.echo(f"operator {normal_name(name)} removed")


@operators.command("list")
def list_cmd() -> None:
    """Every account: name, when added, and whether it is locked now (no hashes)."""
    from core.models import utcnow
    from core.operators import is_locked, list_operators

    with session() as s:
        found = list_operators(s)
        now = utcnow()
        if not found:
            click.echo("no operators; add one with 'koppel operators add NAME'")
        for operator in found:
            state = (
                f"locked until {local_time(operator.locked_until)}"
                if is_locked(operator, now)
                else f"{operator.failed_count} failed sign-ins"
                if operator.failed_count
                else "ok"
            )
            click.echo(f"{operator.name}  added {local_time(operator.created_at)}  {state}")
