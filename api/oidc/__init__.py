"""koppel as the LVS's OpenID Connect provider (docs/sso.md): routes and sign-in continuations."""

from __future__ import annotations

from fastapi import FastAPI

from api.oidc.broker import install_continuations
from api.oidc.routes import router
from core.models import utcnow


def install_oidc(app: FastAPI) -> None:
    """The /oidc/* endpoints, the discovery document, and where sign-ins come back to."""
    app.state.oidc_clock = utcnow
    app.include_router(router)
    install_continuations(app)
