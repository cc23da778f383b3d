"""'koppel db': schema migrations."""

from __future__ import annotations

import click

from cli.runtime import upgrade_database


@click.group("db")
def db() -> None:
    """Manage koppel's database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def upgrade(revision: str) -> None:
    """Create or upgrade the schema (safe to run again)."""
    click.echo(f"database at revision {upgrade_database(revision)}")
