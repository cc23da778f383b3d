"""Registers the OneRoster source when its directory is configured (KOPPEL_ONEROSTER_DIR)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from koppel.plugin import hookimpl, read_settings
from koppel_oneroster.source import OneRosterSource


class OneRosterSettings(BaseSettings):
    """The plugin's settings, read from KOPPEL_ONEROSTER_* variables."""

    model_config = SettingsConfigDict(env_prefix="KOPPEL_ONEROSTER_")

    dir: Path | None = Field(
        default=None,
        description="The directory schools' OneRoster CSV zips are dropped in; unset: the "
        "source is not registered.",
    )


@hookimpl
def koppel_register_identity_sources(register: Callable[[Any], None]) -> None:
    # Installed but not configured: no source, so koppel behaves as if the plugin were absent.
    directory = read_settings(OneRosterSettings).dir
    if directory is not None:
        register(OneRosterSource(directory))
