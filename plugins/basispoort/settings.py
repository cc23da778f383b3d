"""Settings of the Basispoort source, read from KOPPEL_BASISPOORT_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from koppel.plugin import ConfigError, read_settings

PREFIX = "KOPPEL_BASISPOORT_"

# The partner API's base URLs per environment (docs/basispoort-api.md, "Transport").
ENVIRONMENTS: dict[str, str] = {
    "test": "https://test-rest.basispoort.nl/",
    "acceptance": "https://acceptatie-rest.basispoort.nl/",
    "staging": "https://staging-rest.basispoort.nl/",
    "production": "https://rest.basispoort.nl/",
}


class BasispoortSettings(BaseSettings):
    """How to reach Basispoort. Every field may be unset until the first network call."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    env: Literal["test", "acceptance", "staging", "production"] | None = Field(
        default=None, description="Which Basispoort environment; picks the base URL."
    )
    url: str | None = Field(
        default=None, description="An explicit base URL (a simulator, a proxy); wins over env."
    )
    cert: Path | None = Field(
        default=None, description="ONE PEM file holding the client certificate and its key."
    )
    ca: Path | None = Field(
        default=None, description="CA bundle to verify the server; unset means system trust."
    )
    connect_timeout: float = Field(
        default=10.0, gt=0, description="Seconds to connect (and to send a request) before a retry."
    )
    read_timeout: float = Field(default=120.0, gt=0, description="Generous: no pagination.")
    request_deadline: float = Field(
        default=180.0,
        gt=0,
        description="Seconds one request may take in all, from connecting to the last byte of "
        "the answer; the read timeout bounds each wait only, so a server that trickles its "
        "answer would hold a request for hours. Retried like a timeout.",
    )
    max_response_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="Largest answer accepted, counted after decompression; a larger one is "
        "refused without reading further, and not retried. An overview takes about 400 bytes "
        "per pupil (a school of 1,200 pupils: 0.45 MB), so the default holds 150,000 pupils.",
    )
    retries: int = Field(default=4, ge=0, description="Retries after the first attempt.")
    backoff: float = Field(default=0.5, ge=0, description="Base of the exponential backoff.")
    ipadressen: bool = Field(
        default=False, description="Ask the assumed ipadressen endpoint for school networks."
    )
    sso_metadata: str | None = Field(
        default=None,
        description="Basispoort's SAML identity provider metadata: a file path or an http(s) "
        "URL. Unset: signing in through Basispoort (/sso/basispoort/...) is not offered.",
    )
    entree_metadata: str | None = Field(
        default=None,
        description="Kennisnet's Entree Federatie identity provider metadata: a file path or "
        "an http(s) URL. Unset: signing in through Entree (/sso/entree/...) is not offered.",
    )
    sso_metadata_signer: Path | None = Field(
        default=None,
        description="A PEM file with the certificate that signs Basispoort's identity provider "
        "metadata. Set: the metadata must carry a valid enveloped signature by it (and not be "
        "past its validUntil), else it is refused and the last good copy kept.",
    )
    sso_sign_requests: bool = Field(
        default=True,
        description="Sign the AuthnRequests sent to Basispoort with KOPPEL_SSO_SIGNING_KEY "
        "(when that is set); false: send them unsigned, for an identity provider that asks so.",
    )
    entree_metadata_signer: Path | None = Field(
        default=None,
        description="A PEM file with the certificate that signs Entree Federatie's metadata "
        "(the federation's metadata signing certificate); checked as "
        "KOPPEL_BASISPOORT_SSO_METADATA_SIGNER says.",
    )
    entree_sign_requests: bool = Field(
        default=True,
        description="Sign the AuthnRequests sent to Entree Federatie (as "
        "KOPPEL_BASISPOORT_SSO_SIGN_REQUESTS).",
    )
    proxy: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="http(s) proxy URL for Basispoort; unset: direct (HTTPS_PROXY is not read).",
    )

    def base_url(self) -> str:
        """The base URL ending in '/', or ConfigError saying which variable to set."""
        url = self.url or (ENVIRONMENTS[self.env] if self.env else None)
        if not url:
            raise ConfigError(
                f"no Basispoort environment configured: set {PREFIX}ENV "
                f"({'|'.join(ENVIRONMENTS)}) or {PREFIX}URL"
            )
        if not url.startswith(("https://", "http://")):
            raise ConfigError(f"{PREFIX}URL must start with https:// (http:// for a simulator)")
        return url if url.endswith("/") else url + "/"

    def client_pem(self) -> Path:
        """The readable PEM holding certificate and key, or ConfigError saying what is wrong."""
        if self.cert is None:
            raise ConfigError(
                f"no client certificate configured: set {PREFIX}CERT to one PEM file holding "
                "the certificate and its private key"
            )
        text = _read(self.cert, f"{PREFIX}CERT")
        # Only the markers are checked here; the TLS layer checks that key and certificate match.
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise ConfigError(f"{PREFIX}CERT ({self.cert}) holds no certificate")
        if "PRIVATE KEY-----" not in text:
            raise ConfigError(
                f"{PREFIX}CERT ({self.cert}) holds no private key; put certificate and key "
                "in one PEM file"
            )
        return self.cert

    def ca_bundle(self) -> Path | None:
        """The readable CA bundle, None for system trust, or ConfigError."""
        if self.ca is None:
            return None
        if "-----BEGIN CERTIFICATE-----" not in _read(self.ca, f"{PREFIX}CA"):
            raise ConfigError(f"{PREFIX}CA ({self.ca}) holds no certificate")
        return self.ca


def _read(path: Path, variable: str) -> str:
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        raise ConfigError(f"{variable} points to {path}, which does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{variable} points to {path}, which is a directory") from None
    except OSError as exc:
        reason = exc.strerror or "unreadable"
        raise ConfigError(f"{variable} points to {path}, which cannot be read: {reason}") from None


def load_basispoort_settings(**overrides: object) -> BasispoortSettings:
    """Read the settings; a wrong value is one ConfigError naming the variable."""
    return read_settings(BasispoortSettings, **overrides)
