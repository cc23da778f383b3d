"""Settings of the IP restriction, read from KOPPEL_IP_RESTRICTION_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from koppel.plugin import read_settings

PREFIX = "KOPPEL_IP_RESTRICTION_"


class IpRestrictionSettings(BaseSettings):
    """Whom the rule applies to."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    roles: list[str] = Field(
        default_factory=lambda: ["pupil"],
        description="Roles held to the school's networks (JSON list): 'pupil', 'staff', or a "
        "staff role as the source names it, e.g. 'Leerkracht' (case does not matter).",
    )


def load_ip_restriction_settings(**overrides: object) -> IpRestrictionSettings:
    """Read the settings; a wrong value is one ConfigError naming the variable."""
    return read_settings(IpRestrictionSettings, **overrides)
