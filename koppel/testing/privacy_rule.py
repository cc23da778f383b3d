"""No personal data in any log line or error message, whatever the run meets."""

from __future__ import annotations

from koppel.testing.capture import capturing
from koppel.testing.roster import base_roster, odd_people, unstorable_person
from koppel.testing.rules import ContractFailure, Rule, require
from koppel.testing.run import KitRun
from koppel.testing.upstream import FAILURES


def no_personal_data_in_logs(run: KitRun) -> None:
    """Link, sync odd and unstorable data, failures and a leaver, listening to everything."""
    rule = Rule.PRIVACY
    roster = base_roster().plus(*odd_people())
    with capturing() as said:
        run.said = said
        run.serve(roster)
        with run.koppel() as koppel:
            school_id = koppel.link(run.upstream.brin6, rule)
            koppel.sync(school_id)
            for failure in FAILURES:
                with run.failing(failure) as failing:
                    if failing:
                        koppel.sync(school_id, force=True)
            run.serve(roster.plus(unstorable_person()))
            koppel.sync(school_id, force=True)
            run.serve(roster.without("pupil5").without("odd2"))
            koppel.sync(school_id, force=True)
            errors = koppel.run_errors()
            _consent_round(run)
    said.lines.extend(f"sync_run.error {e}" for e in errors)
    require(said.lines, rule, "nothing was logged at all: the kit heard nothing to check")
    leaks = said.leaks(frozenset(run.served))
    require(
        not leaks,
        rule,
        f"personal data (a name, birth date, ECK iD or e-mail served) showed in {len(leaks)} "
        f"places: {'; '.join(leaks[:5])}",
    )


def _consent_round(run: KitRun) -> None:
    """Revoke and grant again, so the consent feed's logging is heard too."""
    if not run.source.capabilities.consent_feed:
        return
    try:
        day = run.upstream.set_consent(False)
        if day is not None:
            run.source.consent_changes(day)
    except ContractFailure:
        raise
    except Exception as exc:
        run.said.exceptions.append(exc)
    finally:
        run.upstream.set_consent(True)
