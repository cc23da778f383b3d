"""Settings of the IP restriction, read from KOPPEL_IP_RESTRICTION_* environment variables."""

from __future__ import annotations

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from core.errors import ConfigError

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
    """Read the settings, turning a validation failure into one readable ConfigError."""
    try:
        return IpRestrictionSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{PREFIX}{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
    except SettingsError as exc:  # a list or dict variable that is not JSON
        raise ConfigError(
            f"invalid configuration: {exc}",
            hint="list settings are JSON, e.g. KOPPEL_IP_RESTRICTION_ROLES='[\"pupil\"]'",
        ) from None
