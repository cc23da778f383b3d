"""The console's operator accounts: add, remove, list, and sign-in with lock-out (argon2 hashes).

Passwords are hashed with argon2id (argon2-cffi's defaults); a hash made with older parameters
is replaced at the next good sign-in. A failed sign-in counts against the account; after
``operator_max_failures`` in a row it is locked for ``operator_lockout_minutes``, and while
locked even the right password is refused. An unknown name is answered exactly as a wrong
password: the same result, after verifying against a dummy hash so it takes as long.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import KoppelError
from core.models import Operator, utcnow
from core.settings import Settings

NAME = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,99}")
# Longer passwords are refused outright: hashing megabytes per guess would be a cheap attack.
MAX_PASSWORD = 1024

hasher = PasswordHasher()


class OperatorError(KoppelError):
    """An operator account cannot be added or removed as asked."""


class SignIn(StrEnum):
    """How a sign-in ended. REFUSED covers wrong password, unknown name and a locked account."""

    OK = "ok"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class SignInResult:
    outcome: SignIn
    operator_id: int | None  # the account's id when the name is one; None for unknown names
    locked: bool = False  # this attempt found (or left) the account locked


def normal_name(name: str) -> str:
    """The account name as stored: trimmed and lower case, so 'Anna' and 'anna' are one."""
    return name.strip().lower()


def check_name(name: str) -> str:
    name = normal_name(name)
    if not NAME.fullmatch(name):
        raise OperatorError(
            f"{name[:100]!r} is not a usable operator name",
            hint="use 1-100 letters, digits and . _ @ + - (an e-mail address works)",
        )
    return name


def check_password(password: str, settings: Settings) -> None:
    shortest = settings.operator_password_min_length
    if len(password) < shortest:
        raise OperatorError(
            f"the password is shorter than {shortest} characters",
            hint="choose a longer one (a few words make a good password)",
        )
    if len(password) > MAX_PASSWORD:
        raise OperatorError(f"the password is longer than {MAX_PASSWORD} characters")


def add_operator(session: Session, name: str, password: str, settings: Settings) -> Operator:
    """Create an account; OperatorError for a bad name, a short password or a taken name."""
    name = check_name(name)
    check_password(password, settings)
    operator = Operator(name=name, password_hash=hasher.hash(password), failed_count=0)
    session.add(operator)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise OperatorError(
            f"there is already an operator {name!r}",
            hint="choose another name, or 'koppel operators remove' the old account first",
        ) from None
    return operator


def remove_operator(session: Session, name: str) -> None:
    """Delete an account; its sessions end at their next page (the console checks)."""
    operator = find_operator(session, name)
    if operator is None:
        raise OperatorError(
            f"there is no operator {normal_name(name)[:100]!r}",
            hint="'koppel operators list' shows the accounts",
        )
    session.delete(operator)
    session.commit()


def list_operators(session: Session) -> list[Operator]:
    return list(session.scalars(select(Operator).order_by(Operator.name)))


def find_operator(session: Session, name: str) -> Operator | None:
    return session.scalars(select(Operator).where(Operator.name == normal_name(name))).first()


def is_locked(operator: Operator, now: datetime) -> bool:
    return operator.locked_until is not None and operator.locked_until > now


def sign_in(
    session: Session, name: str, password: str, settings: Settings, now: datetime | None = None
) -> SignInResult:
    """Check a name and password; counts failures, locks and unlocks, rehashes. Commits."""
    now = now or utcnow()
    operator = find_operator(session, name) if len(name) <= 200 else None
    if operator is None or len(password) > MAX_PASSWORD:
        _verify(_dummy_hash(), password[:MAX_PASSWORD])  # as long as a real check takes
        return SignInResult(SignIn.REFUSED, operator.id if operator else None)
    good = _verify(operator.password_hash, password)
    if is_locked(operator, now):
        return SignInResult(SignIn.REFUSED, operator.id, locked=True)
    if not good:
        return _failed(session, operator, settings, now)
    operator.failed_count, operator.locked_until = 0, None
    if hasher.check_needs_rehash(operator.password_hash):
        operator.password_hash = hasher.hash(password)
    session.commit()
    return SignInResult(SignIn.OK, operator.id)


def _failed(
    session: Session, operator: Operator, settings: Settings, now: datetime
) -> SignInResult:
    # One statement, so two failures at the same moment both count.
    failures = session.execute(
        update(Operator)
        .where(Operator.id == operator.id)
        .values(failed_count=Operator.failed_count + 1)
        .returning(Operator.failed_count)
    ).scalar_one()
    locked = failures >= settings.operator_max_failures
    if locked:
        session.execute(
            update(Operator)
            .where(Operator.id == operator.id)
            .values(
                failed_count=0,
                locked_until=now + timedelta(minutes=settings.operator_lockout_minutes),
            )
        )
    session.commit()
    return SignInResult(SignIn.REFUSED, operator.id, locked=locked)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    """A hash of nothing anyone knows, made with the current parameters (so as slow)."""
    return hasher.hash("no operator has this password: it only costs the same time")
