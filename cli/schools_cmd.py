"""'koppel schools list': every linked school on one line, with its consent and latest run."""

from __future__ import annotations

import click

from cli.runtime import emit_json, local_time, session
from core.roster import NEVER, RosterEntry, roster
from core.status import OUTCOMES as RUN_OUTCOMES

CONSENT = ("granted", "none", "revoked")
OUTCOMES = (*RUN_OUTCOMES, NEVER)


@click.group("schools")
def schools() -> None:
    """The schools koppel has linked."""


@schools.command("list")
@click.option("--consent", multiple=True, type=click.Choice(CONSENT), help="Only these (repeat).")
@click.option(
    "--outcome",
    multiple=True,
    type=click.Choice(OUTCOMES),
    help="Only schools whose latest run ended so ('never': not synced yet); repeat for more.",
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def list_cmd(consent: tuple[str, ...], outcome: tuple[str, ...], as_json: bool) -> None:
    """Every linked school, one line each: BRIN6, consent, state, latest run and its time
    (in the schools' time zone), name."""
    with session() as s:
        entries = roster(s, consent=consent, outcomes=outcome)
    if as_json:
        emit_json([_as_dict(entry) for entry in entries])
        return
    if not entries:
        click.echo("no schools" + (" match" if consent or outcome else " are linked yet"))
    for entry in entries:
        school, run = entry.school, entry.last_run
        click.echo(
            f"{school.brin6}  {school.consent:<8} {_state(entry):<8} {entry.outcome:<10} "
            f"{local_time(run.started_at if run else None):<16}  {school.name or '-'}"
        )


def _state(entry: RosterEntry) -> str:
    school = entry.school
    if school.merged_into_source_id:
        return "merged"
    return "active" if school.active else "inactive"


def _as_dict(entry: RosterEntry) -> dict[str, object]:
    school, run = entry.school, entry.last_run
    return {
        "brin6": school.brin6,
        "name": school.name,
        "source": school.source,
        "source_school_id": school.source_school_id,
        "consent": school.consent,
        "state": _state(entry),
        "last_run": None
        if run is None
        else {
            "id": run.id,
            "outcome": run.outcome,
            "trigger": run.trigger,
            "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        },
    }
