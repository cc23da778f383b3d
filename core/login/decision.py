"""What a login policy is and answers (a Denial), and what koppel answers the LVS (a Decision)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from core.login.attempt import LoginAttempt


@dataclass(frozen=True, slots=True)
class Denial:
    """A policy's objection: its name and one sentence in Dutch and in English.

    The sentences are shown to the person logging in and stored in the audit: they may name a
    rule, a school or an address, never a person.
    """

    policy: str
    reason_nl: str
    reason_en: str


@dataclass(frozen=True, slots=True)
class Decision:
    """Let the person in or not; ``shadow_denials`` were recorded but not enforced."""

    allowed: bool
    denials: tuple[Denial, ...] = ()
    shadow_denials: tuple[Denial, ...] = ()


@runtime_checkable
class LoginPolicy(Protocol):
    """What a login policy plugin registers: a name and a judge (no base class needed)."""

    name: str

    def judge(self, attempt: LoginAttempt) -> Denial | None:
        """None: no objection; a Denial: this login is refused, and why."""
