"""koppel as a SAML service provider: /sso/{idp}/login, /sso/{idp}/acs and /sso/{idp}/metadata.

No API token: browsers come here, sent by the LVS (login) or posting an identity provider's
assertion (acs). The identity providers are the login methods plugins register.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.sso.routes import router
from core.saml.metadata import MetadataCache
from core.settings import Settings


def install_sso(app: FastAPI, settings: Settings) -> None:
    """The /sso routes, and the identity providers' metadata kept for the process."""
    app.state.sso_metadata = MetadataCache(settings.sso_metadata_seconds)
    app.include_router(router)
