"""The simulator's errors: misuse by a test or a control request, in koppel's hierarchy."""

from __future__ import annotations

from koppel.plugin import KoppelError


class SimulatorError(KoppelError):
    """The simulator was asked for something it cannot do; the world is unchanged."""


class UnknownSchool(SimulatorError, LookupError):
    """No school in the world has that id."""

    hint = "use World.school_ids or World.find(kind) to pick a school that exists"


class UnknownPupil(SimulatorError, LookupError):
    """The school has no pupil with that id (any more)."""

    hint = "read the school's pupils first (World.pupil_ids) and pick one of them"


class InvalidFault(SimulatorError, ValueError):
    """A fault with an unknown kind, a bad path pattern or a bad count."""

    hint = "kind is one of 5xx, slow, truncated, garbled, wrong_types; times >= 1"
