"""The Basispoort plugin's hooks: the identity source "basispoort", its login methods, settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from koppel.plugin import hookimpl
from plugins.basispoort.settings import BasispoortSettings
from plugins.basispoort.source import BasispoortSource
from plugins.basispoort.sso import BasispoortLogin, EntreeLogin


@hookimpl
def koppel_register_identity_sources(register: Callable[[Any], None]) -> None:
    # The source reads KOPPEL_BASISPOORT_* only when first used, so loading never fails.
    register(BasispoortSource())


@hookimpl
def koppel_register_login_methods(register: Callable[[Any], None]) -> None:
    # Metadata is read when a sign-in needs it, so an unconfigured provider never stops koppel.
    register(BasispoortLogin())
    register(EntreeLogin())


@hookimpl
def koppel_register_settings(register: Callable[[type], None]) -> None:
    register(BasispoortSettings)
