"""The plugin contract: every hook koppel calls, with when, what and how answers combine.

Hooks are always called with keyword arguments; an implementation may accept fewer
arguments than the specification names, so specifications can grow without breaking plugins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pluggy

PROJECT = "koppel"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def koppel_register_identity_sources(register: Callable[[Any], None]) -> None:
    """Register identity sources by calling ``register(source)``.

    Called once when the plugin manager is built. ``source`` is any object that satisfies
    core.sources.IdentitySource; its ``name`` is what a school row stores as its source. Every
    plugin is asked; a name registered twice is an error. Returns nothing.
    """


@hookspec
def koppel_register_login_policies(register: Callable[[Any], None]) -> None:
    """Register login policies by calling ``register(policy)``.

    Called once, the first time the login policies are needed. ``policy`` has a ``name`` and a
    ``judge(attempt)`` method taking a core.login.LoginAttempt (school, person, person kind,
    roles, client address, time, and a read-only session) and returning None (no objection)
    or a core.login.Denial (policy name, reason in Dutch and English, no personal data).
    Policies judge only attempts that core's own rules let through (a known person at a
    linked, consenting school); every registered policy judges each of those; any deny wins.
    A policy that raises or returns anything else counts as a deny (fail closed). A policy
    named in KOPPEL_LOGIN_SHADOW_POLICIES is recorded but never enforced. Returns nothing.
    """


@hookspec
def koppel_before_school_sync(school_id: int, source: str, run_id: int) -> None:
    """Called when a school's sync run has started, before the source's data is fetched.

    A school confirmed unchanged by its change stamp alone (most schools on most nights) has
    its run recorded once the stamp was read; this hook and koppel_after_school_sync are then
    called one after the other.

    ``school_id`` is koppel's id of the school, ``source`` the identity source's name,
    ``run_id`` the sync run's id. Every plugin is called; return values are ignored. An
    exception fails the run (the run records it).
    """


@hookspec
def koppel_after_school_sync(
    school_id: int, source: str, run_id: int, outcome: str, counts: Mapping[str, int]
) -> None:
    """Called when a school's sync run has ended, whatever the outcome, after it is committed.

    ``outcome`` is the run's outcome ("succeeded", "unchanged", "failed", "held", ...);
    ``counts`` maps what changed (e.g. "pupils_created") to how many. Every plugin is called;
    return values are ignored; exceptions are logged and do not change the run.
    """


@hookspec
def koppel_consent_changed(school_id: int, source: str, granted: bool) -> None:
    """Called after a school's consent was recorded as granted (True) or revoked (False).

    Every plugin is called; return values are ignored; exceptions are logged, never raised.
    """
