"""Entry point of the 'koppel' command: one click group; each command lives in its own module."""

from __future__ import annotations

import sys

import click

from cli import (
    api_cmd,
    config_cmd,
    consent_cmd,
    db_cmd,
    demo_cmd,
    logins_cmd,
    plans_cmd,
    scheduler_cmd,
    school_cmds,
    status_cmd,
    sync_now_cmd,
    worker_cmd,
)
from cli.sim_cmd import basispoort_sim
from core.errors import KoppelError
from core.logging import configure
from core.settings import get_settings


@click.group()
@click.version_option(package_name="koppel")
def cli() -> None:
    """koppel: keeps the LVS in step with its schools through Basispoort."""
    settings = get_settings()
    configure(settings.log_format, settings.log_level)


# One line per command module.
cli.add_command(db_cmd.db)
cli.add_command(config_cmd.config)
cli.add_command(basispoort_sim)
cli.add_command(school_cmds.check)
cli.add_command(school_cmds.sync)
cli.add_command(school_cmds.export)
cli.add_command(demo_cmd.demo)
cli.add_command(worker_cmd.worker)
cli.add_command(scheduler_cmd.scheduler)
cli.add_command(sync_now_cmd.sync_now)
cli.add_command(api_cmd.api)
cli.add_command(logins_cmd.logins)
cli.add_command(plans_cmd.plans)
cli.add_command(consent_cmd.consent)
cli.add_command(consent_cmd.purge)
cli.add_command(consent_cmd.prune)
cli.add_command(status_cmd.status)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KoppelError as exc:  # a configuration error before any command ran
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
