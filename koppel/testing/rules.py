"""The kit's rules, by name, and the failure that names the rule a source broke."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import TypeVar

R = TypeVar("R", bound=str)


class Rule(StrEnum):
    """One promise an identity source keeps; each is checked on its own."""

    COMPLETE = "complete_or_error"
    STABLE_IDS = "stable_ids"
    IDEMPOTENT = "idempotent_resync"
    TOMBSTONES = "tombstones_from_complete_only"
    ODD_INPUT = "odd_roles_and_names"
    CHANGE_STAMPS = "honest_change_stamps"
    CONSENT = "consent_changes_well_formed"
    PRIVACY = "no_personal_data_in_logs"


class PolicyRule(StrEnum):
    """One promise a login policy keeps."""

    NAMED = "policy_named"
    ANSWERS = "policy_answers_none_or_denial"
    UNKNOWN_ROLES = "policy_survives_unknown_roles"
    DENIAL_REASONS = "denial_has_reasons"
    READ_ONLY = "policy_reads_only"


class LoginMethodRule(StrEnum):
    """One promise a login method keeps; ``fix`` says what its author changes to keep it."""

    MEMBERS = "login_method_members"
    ANSWERS = "identity_answers_or_none"
    BRIN = "identity_brin_4_or_6"
    READ_ONLY = "identity_writes_nothing"
    PRIVACY = "identity_logs_no_personal_data"
    SIGNS_IN = "signs_in_through_the_acs"

    @property
    def fix(self) -> str:
        return _FIXES[self]


_FIXES = {
    LoginMethodRule.MEMBERS: "give the method a name (path-safe text: letters, digits, '-', "
    "'_', '.', '~'), a source (text), unsolicited (a bool), metadata() answering a file path, "
    "an http(s) URL or None, and identity(asserted); when present, metadata_signer() answers "
    "a Path or None and sign_requests is a bool.",
    LoginMethodRule.ANSWERS: "make identity() return an AssertedIdentity naming a school and a "
    "person in non-empty text, or None when the assertion lacks them; never let it raise.",
    LoginMethodRule.BRIN: "return a BRIN only when the asserted value has 4 characters (the "
    "school) or 6 (one of its locations); for any other value return None.",
    LoginMethodRule.READ_ONLY: "let identity() only read the assertion; keep bookkeeping out "
    "of it (koppel audits every sign-in itself).",
    LoginMethodRule.PRIVACY: "log ids and counts only: never an asserted value (a name, ECK "
    "iD or e-mail address), nor put one in an exception message.",
    LoginMethodRule.SIGNS_IN: "make example_assertion(who) return what your identity provider "
    "asserts for that person (attribute names exactly as it sends them) and identity() read "
    "the same names.",
}


class ContractFailure(AssertionError):
    """A source or policy broke ``rule``; the message says how (kit data only, never real)."""

    def __init__(self, rule: Rule | PolicyRule | LoginMethodRule | str, message: str) -> None:
        fix = f". To fix: {rule.fix}" if isinstance(rule, LoginMethodRule) else ""
        super().__init__(f"[{rule}] {message}{fix}")
        self.rule = str(rule)


def require(condition: object, rule: Rule | PolicyRule | LoginMethodRule, message: str) -> None:
    """Raise ContractFailure for ``rule`` unless ``condition`` holds."""
    if not condition:
        raise ContractFailure(rule, message)


def check_each(check: Callable[[R], None], rules: Iterable[R]) -> None:
    """Check every rule; one ContractFailure lists each rule broken."""
    broken = []
    for rule in rules:
        try:
            check(rule)
        except ContractFailure as failure:
            broken.append(failure)
    if broken:
        raise ContractFailure(broken[0].rule, "\n".join(str(f) for f in broken)) from broken[0]
