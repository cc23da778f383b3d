"""Judge a login: core's own rules, then every login policy; any deny wins; shadow, then audit."""

from __future__ import annotations

import dataclasses
import traceback
from typing import Any

import structlog
from sqlalchemy.orm import Session

from core.login.attempt import LoginAttempt
from core.login.audit import record_decision
from core.login.decision import Decision, Denial
from core.login.rules import core_denials
from core.plugins import Plugins
from core.settings import Settings

log = structlog.get_logger()


def evaluate_login(
    session: Session, attempt: LoginAttempt, plugins: Plugins, settings: Settings
) -> Decision:
    """Decide one login and write its denials (and shadow denials) to the audit.

    Policies are asked only when core's rules let the attempt through: without a known person
    at a linked school there is nothing for them to judge. Every policy is then asked, even
    after one denied, so the audit shows every objection. A policy named in
    ``settings.login_shadow_policies`` is recorded but never enforced. A policy that raises or
    answers something other than None or a Denial counts as a deny: fail closed. Flushes; the
    caller commits.
    """
    denials = core_denials(attempt)
    shadow: list[Denial] = []
    if not denials:
        shadow_names = set(settings.login_shadow_policies)
        _warn_unknown_shadow_names(shadow_names, plugins)
        for policy in plugins.login_policies:
            denial = _judge(policy, attempt)
            if denial is not None:
                (shadow if policy.name in shadow_names else denials).append(denial)
    decision = Decision(allowed=not denials, denials=tuple(denials), shadow_denials=tuple(shadow))
    record_decision(session, attempt, decision)
    log.info(
        "login_evaluated",
        school_id=attempt.school.id if attempt.school is not None else None,
        person_kind=attempt.person_kind,
        person_id=attempt.person.id if attempt.person is not None else None,
        allowed=decision.allowed,
        denied_by=[d.policy for d in decision.denials],
        shadow_denied_by=[d.policy for d in decision.shadow_denials],
        client_address_via=attempt.client.via,
    )
    return decision


_warned: set[str] = set()


def _warn_unknown_shadow_names(shadow_names: set[str], plugins: Plugins) -> None:
    # A misspelt name means the policy is enforced, not shadowed: say so, once per process.
    unknown = shadow_names - {p.name for p in plugins.login_policies} - _warned
    if unknown:
        _warned.update(unknown)
        log.warning("shadow_policy_unknown", names=sorted(unknown))


def policy_failed(name: str) -> Denial:
    """The denial a broken policy causes."""
    return Denial(
        name,
        f"Inloggen kon door een storing niet worden gecontroleerd (regel {name}). Probeer het "
        "later opnieuw; blijft dit gebeuren, neem dan contact op met de helpdesk.",
        f"The login could not be checked because of a fault (rule {name}). Try again later; if "
        "this keeps happening, contact the helpdesk.",
    )


def _judge(policy: Any, attempt: LoginAttempt) -> Denial | None:
    name = policy.name
    try:
        answer = policy.judge(attempt)
    except Exception as exc:
        # The message of a plugin's exception may hold personal data: log where, not what.
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        log.error(
            "login_policy_failed",
            policy=name,
            error=type(exc).__name__,
            at=f"{frame.filename}:{frame.lineno}",
            school_id=attempt.school.id if attempt.school is not None else None,
            person_id=attempt.person.id if attempt.person is not None else None,
        )
        return policy_failed(name)
    if answer is None:
        return None
    if not isinstance(answer, Denial):
        log.error("login_policy_bad_answer", policy=name, answer_type=type(answer).__name__)
        return policy_failed(name)
    # The audit must name the policy as registered, whatever the policy wrote.
    return answer if answer.policy == name else dataclasses.replace(answer, policy=name)
