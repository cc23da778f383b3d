"""The login method behind an /sso/{idp} address, its identity provider's metadata, koppel's own."""

from __future__ import annotations

import structlog
from fastapi import Request

from api.services import Services
from core.errors import ConfigError
from core.saml.metadata import IdpMetadata
from core.saml.method import LoginMethod, metadata_signer, signs_requests
from core.saml.signing import SpSigningKey, SpSigningKeys

log = structlog.get_logger()


def sp_addresses(services: Services, idp: str) -> tuple[str, str]:
    """koppel's entity id and assertion consumer address for ``idp``."""
    base = f"{services.settings.public_url}/sso/{idp}"
    return f"{base}/metadata", f"{base}/acs"


def login_method(request: Request, idp: str) -> LoginMethod | None:
    services: Services = request.app.state.services
    return services.plugins.login_methods.get(idp)


def idp_metadata(request: Request, method: LoginMethod) -> IdpMetadata | None:
    """The identity provider's metadata, or None (logged) when it is not configured or readable."""
    location = method.metadata()
    if not location:
        log.warning("sso_not_configured", idp=method.name)
        return None
    try:
        return request.app.state.sso_metadata.get(  # type: ignore[no-any-return]
            location, metadata_signer(method)
        )
    except ConfigError as exc:
        log.error("sso_metadata_unusable", idp=method.name, error=str(exc))
        return None


def request_signer(request: Request, method: LoginMethod) -> SpSigningKey | None:
    """The key koppel signs its AuthnRequests to ``method`` with; None: they go unsigned."""
    keys = signing_keys(request, method)
    return keys.current if keys is not None else None


def signing_keys(request: Request, method: LoginMethod) -> SpSigningKeys | None:
    """koppel's signing keys as ``method`` knows them (current and next); None: unsigned."""
    keys: SpSigningKeys | None = request.app.state.sso_signing_keys
    return keys if signs_requests(method) else None
