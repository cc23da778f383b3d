"""The Basispoort plugin's hooks: registers the identity source named "basispoort"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from koppel.plugin import hookimpl
from plugins.basispoort.source import BasispoortSource


@hookimpl
def koppel_register_identity_sources(register: Callable[[Any], None]) -> None:
    # The source reads KOPPEL_BASISPOORT_* only when first used, so loading never fails.
    register(BasispoortSource())
