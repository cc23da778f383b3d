"""'koppel networks': the networks a school's pupils may log in from, as the API manages them."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from cli.runtime import emit_json, local_time, session
from cli.school_cmds import find_school
from core.errors import KoppelError
from core.login.networks import (
    ADMIN_ORIGIN,
    NetworkEntry,
    parse_network,
    replace_networks,
    school_networks,
)
from core.models import School


@click.group("networks")
def networks() -> None:
    """A school's networks: the administrator's (origin 'admin') and the source's."""


@networks.command("list")
@click.argument("brin6")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def list_cmd(brin6: str, as_json: bool) -> None:
    """Every network of the school, with where it came from."""
    with session() as s:
        school = find_school(s, brin6)
        _show(s, school, as_json)


@networks.command("add")
@click.argument("brin6")
@click.argument("network", nargs=-1, required=True)
@click.option("--description", help="A note for every network added, e.g. 'lokaal 12'.")
def add(brin6: str, network: tuple[str, ...], description: str | None) -> None:
    """Add networks (CIDR or single addresses) to the administrator's; all or none."""
    with session() as s:
        school = find_school(s, brin6)
        kept = _admin_entries(s, school)
        given = [NetworkEntry(text, description) for text in network]
        replace_networks(s, school.id, ADMIN_ORIGIN, [*kept, *given])
        s.commit()
        _show(s, school, as_json=False)


@networks.command("remove")
@click.argument("brin6")
@click.argument("network", nargs=-1, required=True)
def remove(brin6: str, network: tuple[str, ...]) -> None:
    """Remove networks the administrator added; a source's networks change with the source."""
    with session() as s:
        school = find_school(s, brin6)
        kept = _admin_entries(s, school)
        gone = {str(parse_network(text)) for text in network}
        missing = gone - {entry.network for entry in kept}
        if missing:
            raise KoppelError(
                f"{', '.join(sorted(missing))} is not among {school.brin6}'s administrator "
                "networks",
                hint=f"'koppel networks list {school.brin6}' shows them, with their origin",
            )
        replace_networks(s, school.id, ADMIN_ORIGIN, [e for e in kept if e.network not in gone])
        s.commit()
        _show(s, school, as_json=False)


def _admin_entries(s: Session, school: School) -> list[NetworkEntry]:
    return [
        NetworkEntry(row.network, row.description)
        for row in school_networks(s, school.id)
        if row.origin == ADMIN_ORIGIN
    ]


def _show(s: Session, school: School, as_json: bool) -> None:
    rows = school_networks(s, school.id)
    if as_json:
        emit_json(
            {
                "brin6": school.brin6,
                "networks": [
                    {
                        "network": row.network,
                        "origin": row.origin,
                        "description": row.description,
                        "created_at": row.created_at.isoformat(),
                    }
                    for row in rows
                ],
            }
        )
        return
    click.echo(f"{school.brin6} {school.name or ''}".rstrip() + f": {len(rows)} networks")
    for row in rows:
        note = f"  {row.description}" if row.description else ""
        click.echo(f"  {row.network:<20} {row.origin:<11} {local_time(row.created_at)}{note}")
