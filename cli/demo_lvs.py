"""The LVS's side of signing in through koppel, as a stock OpenID Connect client (authlib) does it.

The demo signs people in with it, and the tests stand in for an LVS with it: discovery, the
authorization request with PKCE (S256), state and nonce, the code exchange, and the id_token
checked against koppel's JWKS (issuer, audience, nonce, expiry, at_hash).
"""

from __future__ import annotations

import secrets
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

with warnings.catch_warnings():
    # authlib announces a move of its httpx client to "httpx2"; until then this is the one.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client


@dataclass(frozen=True)
class Login:
    """One authorization request: where the browser goes, and what the LVS keeps meanwhile."""

    url: str
    state: str
    verifier: str
    nonce: str


class StockClient:
    """An LVS registered at koppel (``koppel oidc clients add``) as client ``client_id``."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        auth_method: str = "client_secret_basic",
    ) -> None:
        self.client_id = client_id
        self.metadata: dict[str, Any] = httpx.get(
            f"{issuer}/.well-known/openid-configuration", timeout=10
        ).json()
        self.client = OAuth2Client(
            client_id=client_id,
            client_secret=client_secret,
            scope="openid",
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method=auth_method,
        )

    def start(self, **extra: str) -> Login:
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(16)
        url, state = self.client.create_authorization_url(
            self.metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra
        )
        return Login(url, state, verifier, nonce)

    def exchange(self, callback: str, login: Login, **extra: Any) -> dict[str, Any]:
        """The code on the callback address for tokens at the token endpoint (state checked)."""
        extra.setdefault("code_verifier", login.verifier)
        return dict(
            self.client.fetch_token(
                self.metadata["token_endpoint"],
                authorization_response=callback,
                state=login.state,
                **extra,
            )
        )

    def verify(self, token: dict[str, Any], login: Login) -> dict[str, Any]:
        """The id_token checked as authlib's OpenID client checks it: JWKS, iss, aud, nonce."""
        jwks = httpx.get(self.metadata["jwks_uri"], timeout=10).json()
        decoded = jwt.decode(
            token["id_token"],
            KeySet.import_key_set(jwks),
            registry=JWSRegistry(algorithms=self.metadata["id_token_signing_alg_values_supported"]),
        )
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {"iss": {"values": [self.metadata["issuer"]]}},
            {
                "nonce": login.nonce,
                "client_id": self.client_id,
                "access_token": token["access_token"],
            },
        )
        claims.validate(leeway=120)
        return dict(claims)
