"""Run the kit's rules against a source: one rule at a time, or all of them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from core.sources import IdentitySource
from koppel.testing import consent_rules, fetch_rules, privacy_rule, sync_rules
from koppel.testing.rules import Rule, check_each
from koppel.testing.run import KitRun
from koppel.testing.upstream import Upstream

CHECKS: dict[Rule, Callable[[KitRun], None]] = {
    Rule.COMPLETE: fetch_rules.complete_or_error,
    Rule.STABLE_IDS: fetch_rules.stable_ids,
    Rule.IDEMPOTENT: sync_rules.idempotent_resync,
    Rule.TOMBSTONES: sync_rules.tombstones_from_complete_only,
    Rule.ODD_INPUT: fetch_rules.odd_roles_and_names,
    Rule.CHANGE_STAMPS: sync_rules.honest_change_stamps,
    Rule.CONSENT: consent_rules.consent_changes_well_formed,
    Rule.PRIVACY: privacy_rule.no_personal_data_in_logs,
}


class SourceContract:
    """The kit bound to one source and its upstream; databases go in ``directory``."""

    def __init__(self, source: IdentitySource, upstream: Upstream, directory: Path) -> None:
        missing = [m for m in ("serve", "fail", "set_consent", "brin6") if not hasattr(upstream, m)]
        if missing:
            raise TypeError(
                f"the upstream lacks {', '.join(missing)} (see koppel.testing.Upstream)"
            )
        self.source = source
        self.upstream = upstream
        self.directory = Path(directory)

    def check(self, rule: Rule | str) -> None:
        """Check one rule; raises ContractFailure naming it when the source breaks it."""
        rule = Rule(rule)
        CHECKS[rule](KitRun(self.source, self.upstream, self.directory))

    def check_all(self, rules: Iterable[Rule] = Rule) -> None:
        """Check every rule; one ContractFailure lists each rule broken."""
        check_each(self.check, rules)


def check_source(source: IdentitySource, upstream: Upstream, directory: Path) -> None:
    """Every rule of the kit for ``source``, driving ``upstream``; raises ContractFailure."""
    SourceContract(source, upstream, directory).check_all()
