"""The plugin contract: every hook koppel calls, with when, what and how answers combine.

Hooks are always called through pluggy with keyword arguments; an implementation may accept
fewer arguments than the specification names, so specifications can grow without breaking
plugins. pluggy's ordering (``tryfirst``/``trylast``) and wrappers (``wrapper=True``) work for
every hook. The observer hooks (koppel_after_school_sync, koppel_consent_changed) are called once
per implementing plugin, so one plugin's exception is logged and the others still run; a wrapper
wraps each of those calls. Plugins import this contract's types from koppel.plugin.
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

    Called once, the first time the sources are needed. ``source`` is any object that satisfies
    koppel.plugin.IdentitySource; its ``name`` is what a school row stores as its source. Every
    plugin is asked; a name registered twice, or a source lacking one of the protocol's
    attributes or methods, is a ConfigError naming it. Returns nothing.
    """


@hookspec
def koppel_register_login_policies(register: Callable[[Any], None]) -> None:
    """Register login policies by calling ``register(policy)``.

    Called once, the first time the login policies are needed. ``policy`` satisfies
    koppel.plugin.LoginPolicy: a ``name`` and a ``judge(attempt)`` method taking a LoginAttempt
    (school, person, person kind, roles, client address, time, and a read-only session) and
    returning None (no objection) or a Denial (policy name, reason in Dutch and English, no
    personal data); one lacking either is a ConfigError naming it.
    Policies judge only attempts that core's own rules let through (core/login/rules.py: a
    known person, not left, at a linked school that consents, is active and is not merged);
    every registered policy judges each of those, even after one denied; any deny wins.
    A policy that raises or returns anything else counts as a deny (fail closed). A policy
    named in KOPPEL_LOGIN_SHADOW_POLICIES is recorded but never enforced. Returns nothing.
    """


@hookspec
def koppel_register_login_methods(register: Callable[[Any], None]) -> None:
    """Register login methods (SAML identity providers) by calling ``register(method)``.

    Called once, the first time a sign-in is started or received (/sso/{name}/...). ``method``
    satisfies koppel.plugin.LoginMethod: a ``name`` (the {name} in koppel's addresses), the
    ``source`` whose synced people it signs in, ``unsolicited`` (whether sign-ins koppel did
    not ask for, such as deep links, are accepted), ``metadata()`` (a file path or URL of the
    identity provider's metadata, None while not configured) and ``identity(asserted)``
    (koppel.plugin.AssertedIdentity naming the school and person in an Asserted, or None).
    koppel does every SAML check itself; the method only maps what a verified assertion says.
    Every plugin is asked; a name registered twice, or a method lacking one of the protocol's
    members, is a ConfigError naming it. Returns nothing.
    """


@hookspec
def koppel_register_settings(register: Callable[[type], None]) -> None:
    """Register the plugin's settings classes by calling ``register(cls)``.

    Called once, the first time the settings in force are listed (``koppel config``). ``cls``
    is a pydantic-settings ``BaseSettings`` subclass whose ``env_prefix`` starts with
    ``KOPPEL_`` and whose fields each have a description. ``koppel config`` then checks and
    prints its variables with core's, so an operator sees every setting in force in one place
    and a wrong value stops with the variable's name before anything starts. Registering does
    not read the settings; the plugin still reads them itself (koppel.plugin.read_settings).
    A class registered twice counts once; anything else is a ConfigError naming it. Returns
    nothing.
    """


@hookspec
def koppel_before_school_sync(school_id: int, source: str, run_id: int) -> None:
    """Called when a school's sync run has started, before the source's data is fetched.

    A school confirmed unchanged by its change stamp alone (most schools on most nights) has
    its run started once the stamp was read and found in step: this hook sees it running, then
    it ends unchanged and koppel_after_school_sync is called (core/sync/unchanged.py).

    ``school_id`` is koppel's id of the school, ``source`` the identity source's name,
    ``run_id`` the sync run's id. Every plugin is called; return values are ignored. An
    exception fails the run (the run records it).
    """


@hookspec
def koppel_after_school_sync(
    school_id: int, source: str, run_id: int, outcome: str, counts: Mapping[str, int]
) -> None:
    """Called when a school's sync run has ended, whatever the outcome, after it is committed.

    ``outcome`` is the run's outcome (a core.models.Outcome, a str: "succeeded", "unchanged",
    "failed", "held", "skipped");
    ``counts`` maps what changed (e.g. "pupils_created") to how many. Every plugin is called,
    each in its own pluggy call; return values are ignored; an exception is logged, does not
    change the run and does not keep the other plugins from being called.
    """


@hookspec
def koppel_consent_changed(school_id: int, source: str, granted: bool) -> None:
    """Called after a school's consent was recorded as granted (True) or revoked (False).

    Every plugin is called, each in its own pluggy call; return values are ignored; an
    exception is logged, never raised, and does not keep the other plugins from being called.
    """
