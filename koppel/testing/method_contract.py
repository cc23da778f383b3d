"""Run the kit's rules against a login method: one rule at a time, or all of them."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from koppel.testing import method_rules
from koppel.testing.rules import LoginMethodRule, check_each


class KitWarning(UserWarning):
    """A rule the kit could not check for this plugin, and how to let it."""


def _signs_in(method: Any, directory: Path) -> None:
    # koppel's app is imported when this rule runs, not with the kit: it takes seconds.
    from koppel.testing import signin_rule

    if not signin_rule.signs_in(method, directory):
        warnings.warn(
            f"[{LoginMethodRule.SIGNS_IN}] not checked: the login method has no "
            "example_assertion(who), so the kit cannot tell its identity provider what to assert",
            KitWarning,
            stacklevel=4,
        )


METHOD_CHECKS: dict[LoginMethodRule, Callable[[Any, Path], None]] = {
    LoginMethodRule.MEMBERS: lambda method, _: method_rules.members(method),
    LoginMethodRule.ANSWERS: lambda method, _: method_rules.answers(method),
    LoginMethodRule.BRIN: lambda method, _: method_rules.brin(method),
    LoginMethodRule.READ_ONLY: lambda method, _: method_rules.read_only(method),
    LoginMethodRule.PRIVACY: lambda method, _: method_rules.privacy(method),
    LoginMethodRule.SIGNS_IN: _signs_in,
}


class LoginMethodContract:
    """The kit bound to one login method; databases and metadata go in ``directory``."""

    def __init__(self, method: Any, directory: Path) -> None:
        self.method = method
        self.directory = Path(directory)

    def check(self, rule: LoginMethodRule | str) -> None:
        """Check one rule; raises ContractFailure naming it (and the fix) when it is broken."""
        METHOD_CHECKS[LoginMethodRule(rule)](self.method, self.directory)

    def check_all(self, rules: Iterable[LoginMethodRule] = LoginMethodRule) -> None:
        """Check every rule; one ContractFailure lists each rule broken."""
        check_each(self.check, rules)


def check_login_method(method: Any, directory: Path) -> None:
    """Every rule of the kit for ``method``; raises ContractFailure."""
    LoginMethodContract(method, directory).check_all()
