"""The kit for a login policy: named, None or a reasoned Denial, unknown roles survived, read only.

A Denial's reasons name no person; judging writes nothing through the attempt's session.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from sqlalchemy import event

from core import migrate
from core.db import make_engine, make_sessionmaker
from core.login import ClientAddress, Denial, LoginAttempt, LoginPerson, LoginSchool
from koppel.testing.people import kit_school
from koppel.testing.roster import KNOWN_ROLE, UNKNOWN_ROLE
from koppel.testing.rules import ContractFailure, PolicyRule, require

_ROLES = {
    "pupil": ("pupil",),
    "teacher": ("staff", KNOWN_ROLE),
    "unknown role": ("staff", UNKNOWN_ROLE, "", "ROL-ZONDER-NAAM"),
    "no roles": ("staff",),
}
_ADDRESSES = {
    "school address": ClientAddress(ip_address("192.0.2.10"), "192.0.2.10", "peer"),
    "no address": ClientAddress(None, "unknown", "peer"),
    "IPv6 address": ClientAddress(ip_address("2001:db8::1"), "2001:db8::1", "peer"),
}


def check_login_policy(policy: Any, directory: Path) -> None:
    """Judge a spread of attempts (known and unknown roles, odd addresses) on a fresh database."""
    name = getattr(policy, "name", None)
    require(isinstance(name, str) and name, PolicyRule.NAMED, "the policy has no name (text)")
    engine = make_engine(f"sqlite:///{directory}/kit-policy-{uuid.uuid4().hex[:8]}.db")
    try:
        migrate.upgrade(engine)
        with make_sessionmaker(engine)() as session:
            school, pupil, staff = kit_school(session, "kit")
            for who, roles in _ROLES.items():
                person = pupil if roles[0] == "pupil" else staff
                # What a policy gets in koppel: the decision's plain values, not the rows.
                seen = LoginPerson.of(roles[0], person)  # type: ignore[arg-type]
                for where, client in _ADDRESSES.items():
                    attempt = LoginAttempt(
                        LoginSchool.of(school),
                        seen,
                        roles[0],
                        roles,
                        client,
                        datetime.now(UTC),
                        session,
                    )
                    _judged(policy, attempt, f"{who} from {where}", person)
    finally:
        engine.dispose()


def _judged(policy: Any, attempt: LoginAttempt, case: str, person: Any) -> None:
    rule = PolicyRule.UNKNOWN_ROLES if "role" in case else PolicyRule.ANSWERS
    wrote: list[str] = []

    def flushing(*_args: Any) -> None:
        wrote.append("flush")

    event.listen(attempt.session, "before_flush", flushing)
    try:
        answer = policy.judge(attempt)
    except Exception as exc:
        raise ContractFailure(rule, f"judge raised {type(exc).__name__} for a {case}") from exc
    finally:
        event.remove(attempt.session, "before_flush", flushing)
    session = attempt.session
    changed = wrote or session.new or session.dirty or session.deleted
    require(not changed, PolicyRule.READ_ONLY, f"judging a {case} wrote to the session")
    require(
        answer is None or isinstance(answer, Denial),
        PolicyRule.ANSWERS,
        f"judge returned {type(answer).__name__} for a {case}: None or a Denial",
    )
    if isinstance(answer, Denial):
        _reasoned(policy, answer, case, person)


def _reasoned(policy: Any, denial: Denial, case: str, person: Any) -> None:
    rule = PolicyRule.DENIAL_REASONS
    require(denial.policy == policy.name, rule, f"the denial of a {case} names another policy")
    for language in ("nl", "en"):
        reason = getattr(denial, f"reason_{language}")
        require(isinstance(reason, str) and reason.strip(), rule, f"no {language} reason ({case})")
        personal = [v for v in (person.first_name, person.last_name, person.eckid) if v]
        require(
            not any(v.casefold() in reason.casefold() for v in personal),
            rule,
            f"the {language} reason for a {case} names the person",
        )
