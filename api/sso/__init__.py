"""koppel as a SAML service provider: /sso/{idp}/login, /sso/{idp}/acs and /sso/{idp}/metadata.

No API token: browsers come here, sent by the LVS (login) or posting an identity provider's
assertion (acs). The identity providers are the login methods plugins register.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.sso.routes import router
from core.saml.metadata import MetadataCache
from core.saml.signing import load_signing_keys
from core.settings import Settings


def install_sso(app: FastAPI, settings: Settings) -> None:
    """The /sso routes, the identity providers' metadata kept for the process, and koppel's
    own signing keys (read at start: a bad key file stops koppel with one clear line)."""
    app.state.sso_metadata = MetadataCache(settings.sso_metadata_seconds)
    app.state.sso_signing_keys = load_signing_keys(
        settings.sso_signing_key, settings.sso_next_signing_key
    )
    app.include_router(router)
