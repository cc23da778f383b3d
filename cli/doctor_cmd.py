"""'koppel doctor': check the set-up end to end, one line per check, before anything runs."""

from __future__ import annotations

import sys

import click

from cli.doctor_checks import Verdict, findings


@click.command("doctor")
def doctor() -> None:
    """Check settings, database, RabbitMQ and Basispoort; one line per check.

    Each problem says what to do. Exit 0 when nothing is wrong, 1 otherwise: run it after
    changing the environment, and before 'koppel scheduler', 'worker' or 'api'.
    """
    problems = 0
    for finding in findings():
        problems += finding.verdict is Verdict.PROBLEM
        click.echo(f"{finding.verdict.value:<8} {finding.check:<23} {finding.text}")
    sys.exit(1 if problems else 0)
