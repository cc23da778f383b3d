"""Entry point of the 'koppel' command: one click group; each command lives in its own module."""

from __future__ import annotations

import click

from cli import (
    api_cmd,
    config_cmd,
    consent_cmd,
    db_cmd,
    dead_letters_cmd,
    demo_cmd,
    doctor_cmd,
    logins_cmd,
    networks_cmd,
    oidc_cmd,
    operators_cmd,
    plans_cmd,
    scheduler_cmd,
    school_cmds,
    schools_cmd,
    status_cmd,
    sync_now_cmd,
    worker_cmd,
)
from cli.sim_cmd import basispoort_sim
from core.errors import BrokerUnavailable, ConfigError, KoppelError
from core.logging import configure
from core.settings import get_settings

# Commands that run until stopped: their log is what they say. The others answer once, and
# their info lines (on stderr) would bury the answer: those show warnings and worse, unless
# KOPPEL_LOG_LEVEL or --verbose asks for more.
SERVICES = frozenset({"scheduler", "worker", "api", "basispoort-sim"})


class KoppelGroup(click.Group):
    """The top group: an error a user can meet ends the command as one line on stderr and
    exit code 1, whichever command met it (and in click's test runner too)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            known = as_koppel_error(exc)
            if known is None:
                raise  # a bug: the traceback is what a report needs
            click.echo(f"error: {known}", err=True)
            ctx.exit(1)


@click.group(cls=KoppelGroup)
@click.version_option(package_name="koppel")
@click.option("-v", "--verbose", is_flag=True, help="Also show info log lines (on stderr).")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """koppel: keeps the LVS in step with its schools through Basispoort."""
    try:
        settings = get_settings()
    except ConfigError:
        if ctx.invoked_subcommand != "doctor":  # the doctor reports it among the rest
            raise
        configure(level="WARNING", cache=_own_process(ctx))
        return
    if "log_level" in settings.model_fields_set or ctx.invoked_subcommand in SERVICES:
        level = settings.log_level
    else:
        level = "INFO" if verbose else "WARNING"
    configure(settings.log_format, level, cache=_own_process(ctx))


# One line per command module.
cli.add_command(db_cmd.db)
cli.add_command(config_cmd.config)
cli.add_command(doctor_cmd.doctor)
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
cli.add_command(schools_cmd.schools)
cli.add_command(networks_cmd.networks)
cli.add_command(operators_cmd.operators)
cli.add_command(dead_letters_cmd.dead_letters)
cli.add_command(oidc_cmd.oidc)


# What main() tells the group: the process is the command's own (not a test's runner).
OWN_PROCESS = "own_process"


def main() -> None:
    """The console script's entry point."""
    cli(obj={OWN_PROCESS: True})


def _own_process(ctx: click.Context) -> bool:
    """Started by the console script? Then the loggers may be cached (core.logging)."""
    return isinstance(ctx.obj, dict) and bool(ctx.obj.get(OWN_PROCESS))


def as_koppel_error(exc: Exception) -> KoppelError | None:
    """The error as a user should read it: koppel's own, or a library's that means the
    database or RabbitMQ went away while the command ran; None for anything else."""
    from dramatiq.errors import BrokerConnectionError
    from pika.exceptions import AMQPConnectionError
    from sqlalchemy.exc import InterfaceError, OperationalError

    from core.probes import database_failed

    if isinstance(exc, KoppelError):
        return exc
    if isinstance(exc, OperationalError | InterfaceError):
        return database_failed(exc)
    if isinstance(exc, BrokerConnectionError | AMQPConnectionError):
        return BrokerUnavailable("the connection to RabbitMQ failed")
    return None
