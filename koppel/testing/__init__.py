"""The contract-test kit: does an identity source (or login policy) keep koppel's promises?

Give it the source, and an Upstream that makes the source's upstream serve what the kit asks;
it runs the source through koppel's real engine on SQLite and checks each rule on its own::

    contract = SourceContract(MySource(), MyUpstream(), tmp_path)
    contract.check_all()  # or contract.check(Rule.STABLE_IDS)
    check_login_policy(MyPolicy(), tmp_path)
    check_login_method(MyLoginMethod(), tmp_path)

With pytest the kit is a plugin (entry point ``pytest11``): define the fixtures
``koppel_source`` and ``koppel_upstream`` and use ``koppel_contract``; for a login method define
``koppel_login_method`` and use ``koppel_login_method_contract``.
"""

from koppel.testing.contract import CHECKS, SourceContract, check_source
from koppel.testing.method_contract import KitWarning, LoginMethodContract, check_login_method
from koppel.testing.policy_rules import check_login_policy
from koppel.testing.roster import KitGroup, KitPerson, Roster, base_roster
from koppel.testing.rules import ContractFailure, LoginMethodRule, PolicyRule, Rule
from koppel.testing.upstream import FAILURES, Failure, Upstream

RULES = tuple(Rule)
LOGIN_METHOD_RULES = tuple(LoginMethodRule)

__all__ = [
    "CHECKS",
    "FAILURES",
    "LOGIN_METHOD_RULES",
    "RULES",
    "ContractFailure",
    "Failure",
    "KitGroup",
    "KitPerson",
    "KitWarning",
    "LoginMethodContract",
    "LoginMethodRule",
    "PolicyRule",
    "Roster",
    "Rule",
    "SourceContract",
    "Upstream",
    "base_roster",
    "check_login_method",
    "check_login_policy",
    "check_source",
]
