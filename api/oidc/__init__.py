"""koppel as the LVS's OpenID Connect provider (docs/sso.md): routes and sign-in continuations."""

from __future__ import annotations

from fastapi import FastAPI

from api.oidc.broker import install_continuations
from api.oidc.routes import router
from core.models import utcnow
from core.oidc.registered import ClientCache
from core.oidc.subject import PairwiseKey


def install_oidc(app: FastAPI) -> None:
    """The /oidc/* endpoints, the discovery document, and where sign-ins come back to."""
    app.state.oidc_clock = utcnow
    # Kept for the process: a login need not read them (core/oidc/registered.py, subject.py).
    app.state.oidc_clients = ClientCache()
    app.state.oidc_pairwise_key = PairwiseKey()
    app.include_router(router)
    install_continuations(app)
