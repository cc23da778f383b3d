"""A login attempt as policies see it: who, at which school, in which roles, from where, when."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from core.login.client_address import ClientAddress, IPAddress
from core.login.facts import LoginPerson, LoginSchool, PersonKind

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.login.identity import IdentityProblem, ResolvedIdentity


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """One login, resolved to the synced person and their school.

    ``school`` and ``person`` are plain frozen values (core.login.facts), None only when
    identity resolution failed (``problem`` says why); core's own rules deny those, so policies
    only ever see both set. ``roles`` is the person's kind first ("pupil" or "staff"), then
    their roles as the source names them (e.g. "Leerkracht"). ``session`` lets a policy read
    more by id (read only: never write or commit through it).
    """

    school: LoginSchool | None
    person: LoginPerson | None
    person_kind: PersonKind | None
    roles: tuple[str, ...]
    client: ClientAddress
    at: datetime
    session: Session = field(repr=False, compare=False)
    problem: IdentityProblem | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("a login attempt's time must be timezone-aware")

    @property
    def client_ip(self) -> IPAddress | None:
        """The client's address, or None when it could not be determined (deny on it)."""
        return self.client.ip


def make_attempt(
    session: Session, resolved: ResolvedIdentity, client: ClientAddress, at: datetime
) -> LoginAttempt:
    """Build the attempt for a resolved identity."""
    roles: tuple[str, ...] = ()
    if resolved.kind == "pupil":
        roles = ("pupil",)
    elif resolved.kind == "staff" and resolved.person is not None:
        roles = ("staff", *resolved.person.roles)
    return LoginAttempt(
        school=resolved.school,
        person=resolved.person,
        person_kind=resolved.kind,
        roles=roles,
        client=client,
        at=at,
        session=session,
        problem=resolved.problem,
    )
