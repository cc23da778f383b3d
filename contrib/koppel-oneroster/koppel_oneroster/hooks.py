"""Registers the OneRoster sources that are configured: CSV drops (KOPPEL_ONEROSTER_DIR) and a
REST service (KOPPEL_ONEROSTER_REST_URL)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from koppel.plugin import hookimpl, read_settings
from koppel_oneroster.rest_client import OneRosterClient
from koppel_oneroster.rest_source import OneRosterRestSource
from koppel_oneroster.source import OneRosterSource

ROSTER_CORE_READONLY = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly"


class OneRosterSettings(BaseSettings):
    """The plugin's settings, read from KOPPEL_ONEROSTER_* variables."""

    model_config = SettingsConfigDict(env_prefix="KOPPEL_ONEROSTER_")

    dir: Path | None = Field(
        default=None,
        description="The directory schools' OneRoster CSV zips are dropped in; unset: the "
        "'oneroster' source is not registered.",
    )
    rest_url: str | None = Field(
        default=None,
        description="Base URL of a OneRoster 1.2 REST service (the part before "
        "/ims/oneroster/rostering/v1p2); unset: the 'oneroster-rest' source is not registered.",
    )
    rest_token_url: str | None = Field(
        default=None, description="The service's OAuth 2 token endpoint (client credentials)."
    )
    rest_client_id: str | None = Field(default=None, description="The OAuth 2 client id.")
    rest_client_secret: SecretStr | None = Field(
        default=None, description="The OAuth 2 client secret (never printed or logged)."
    )
    rest_scope: str = Field(
        default=ROSTER_CORE_READONLY,
        description="The scope asked with each token; empty: none asked.",
    )
    rest_page_size: int = Field(
        default=100, ge=1, le=10_000, description="Records asked per page (limit)."
    )
    rest_deadline: float = Field(
        default=600.0,
        gt=0,
        description="Seconds one school's fetch may take, rate-limit waits included; a wait "
        "beyond it fails the fetch (retried later).",
    )
    rest_timeout: float = Field(default=30.0, gt=0, description="Seconds per HTTP request.")

    @model_validator(mode="after")
    def _rest_complete(self) -> Self:
        if self.rest_url is not None:
            missing = [
                f"KOPPEL_ONEROSTER_{name.upper()}"
                for name in ("rest_token_url", "rest_client_id", "rest_client_secret")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"KOPPEL_ONEROSTER_REST_URL is set, so set {', '.join(missing)}")
        return self

    def rest_client(self) -> OneRosterClient:
        assert self.rest_url and self.rest_token_url and self.rest_client_id
        assert self.rest_client_secret is not None
        return OneRosterClient(
            base_url=self.rest_url,
            token_url=self.rest_token_url,
            client_id=self.rest_client_id,
            client_secret=self.rest_client_secret.get_secret_value(),
            scope=self.rest_scope,
            page_size=self.rest_page_size,
            deadline=self.rest_deadline,
            timeout=self.rest_timeout,
        )


@hookimpl
def koppel_register_identity_sources(register: Callable[[Any], None]) -> None:
    # Installed but not configured: no source, so koppel behaves as if the plugin were absent.
    settings = read_settings(OneRosterSettings)
    if settings.dir is not None:
        register(OneRosterSource(settings.dir))
    if settings.rest_url is not None:
        register(OneRosterRestSource(settings.rest_client()))


@hookimpl
def koppel_register_settings(register: Callable[[type], None]) -> None:
    register(OneRosterSettings)
