"""TEST ONLY: a tiny LVS that signs people in through koppel with a stock OIDC client.

authlib's Starlette client does everything an LVS would leave to its library: discovery, PKCE
(S256), state and nonce, the code exchange and the id_token's checks against the JWKS. The page
it lands on shows the claims it received, for the browser test to read.
"""

from __future__ import annotations

import html
import secrets

from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import FastAPI, Request
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import HTMLResponse, Response

CALLBACK = "/oidc/callback"
INITIATE_LOGIN = "/oidc/login"  # OpenID Connect third-party-initiated login


def lvs_app() -> FastAPI:
    """The LVS; ``connect(app, issuer, client_id, secret)`` once koppel knows it as a client."""
    app = FastAPI()
    app.add_middleware(SessionMiddleware, secret_key=secrets.token_urlsafe(32))
    app.state.oauth = OAuth()

    @app.get("/")
    def home() -> HTMLResponse:
        return HTMLResponse('<h1>LVS</h1><a id="login" href="/login">Inloggen met Basispoort</a>')

    @app.get("/login")
    async def login(request: Request) -> Response:
        redirect_uri = str(request.url_for("callback"))
        return await app.state.oauth.koppel.authorize_redirect(request, redirect_uri)  # type: ignore[no-any-return]

    @app.get(INITIATE_LOGIN)
    async def initiated(request: Request, iss: str) -> Response:
        # A login someone else started (Basispoort's deep link via koppel): only from koppel.
        metadata = await app.state.oauth.koppel.load_server_metadata()
        if iss != metadata["issuer"]:
            return HTMLResponse('<h1 id="error">unknown issuer</h1>', 400)
        return await login(request)

    @app.get(CALLBACK, name="callback")
    async def callback(request: Request) -> HTMLResponse:
        try:
            token = await app.state.oauth.koppel.authorize_access_token(request)
        except OAuthError as error:
            return HTMLResponse(f'<h1 id="error">{html.escape(error.error)}</h1>', 400)
        claims = token["userinfo"]  # the id_token's claims, checked by authlib
        rows = "".join(
            f'<dt>{html.escape(k)}</dt><dd id="{html.escape(k)}">{html.escape(str(v))}</dd>'
            for k, v in sorted(claims.items())
        )
        return HTMLResponse(f'<h1 id="welcome">Welkom</h1><dl id="claims">{rows}</dl>')

    return app


def connect(app: FastAPI, issuer: str, client_id: str, client_secret: str) -> None:
    app.state.oauth.register(
        "koppel",
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_id=client_id,
        client_secret=client_secret,
        client_kwargs={"scope": "openid", "code_challenge_method": "S256"},
    )
