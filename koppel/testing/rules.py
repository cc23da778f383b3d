"""The kit's rules, by name, and the failure that names the rule a source broke."""

from __future__ import annotations

from enum import StrEnum


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


class ContractFailure(AssertionError):
    """A source or policy broke ``rule``; the message says how (kit data only, never real)."""

    def __init__(self, rule: Rule | PolicyRule | str, message: str) -> None:
        super().__init__(f"[{rule}] {message}")
        self.rule = str(rule)


def require(condition: object, rule: Rule | PolicyRule, message: str) -> None:
    """Raise ContractFailure for ``rule`` unless ``condition`` holds."""
    if not condition:
        raise ContractFailure(rule, message)
