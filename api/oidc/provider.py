"""authlib's authorization server fitted to koppel: its grant, PKCE and OpenID Connect code
does every protocol check; this module only says where clients, codes and keys are kept.

One ``Provider`` per request: it holds that request's database session and clock.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import structlog
from authlib.oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidClientError,
    InvalidRequestError,
    TokenMixin,
    scope_to_list,
)
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, OpenIDCode, UserInfo, UserInfoEndpoint
from joserfc.jwk import RSAKey
from sqlalchemy import Row
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.oidc.requests import OidcRequest
from core.models import OidcClient, OidcCode
from core.oidc import codes
from core.oidc.clients import secret_matches
from core.oidc.keys import ALG, signing_key
from core.oidc.registered import Client, ClientCache
from core.settings import Settings

log = structlog.get_logger()

SCOPE = "openid"
AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
# state and nonce are the client's; a bound keeps a hostile request from filling the database.
LONGEST_PARAMETER = 500


@dataclass(frozen=True, slots=True)
class Authenticated:
    """Who signed in, as one client will see them: the claims and when the IdP vouched."""

    claims: dict[str, Any]
    auth_time: datetime


class RegisteredClient(ClientMixin):  # type: ignore[misc]
    """A registered LVS: confidential, code flow only, its exact redirect URIs."""

    client_metadata: dict[str, Any] = {}  # authlib reads it: no signed userinfo

    def __init__(self, row: Client) -> None:
        self.row = row
        self.client_id = row.client_id

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # OpenID Connect: every authorization request names its redirect URI

    def get_allowed_scope(self, scope: str | None) -> str | None:
        # Scopes koppel does not know are ignored (OIDC Core 3.1.2.1); without openid: refused.
        return SCOPE if SCOPE in scope_to_list(scope or "") else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.row.redirect_uris  # exactly as registered

    def check_client_secret(self, client_secret: str) -> bool:
        return secret_matches(self.row, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


class IssuedCode(AuthorizationCodeMixin):  # type: ignore[misc]
    def __init__(self, row: Row[Any]) -> None:  # an oidc_code row (core.oidc.codes.redeem_code)
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int:
        return int(self.row.auth_time.timestamp())


class CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    server: Provider

    def generate_authorization_code(self) -> str:
        return secrets.token_urlsafe(36)  # authlib's draws each character with a system call

    def save_authorization_code(self, code: str, request: OidcRequest) -> None:
        user: Authenticated = request.user
        data = request.payload.data
        stored = codes.save_code(
            self.server.session,
            self.server.settings,
            self.server.now,
            code,
            client_id=request.client.row.id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            nonce=data.get("nonce"),
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
            claims=user.claims,
            auth_time=user.auth_time,
        )
        if not stored:
            self.server.refuse_code(request, self.redirect_uri)
        log.info(
            "oidc_code_issued",
            client_id=request.client.row.client_id,
            person_kind=user.claims["person_kind"],
            person_id=user.claims["person_id"],
        )

    def query_authorization_code(self, code: str, client: RegisteredClient) -> IssuedCode | None:
        row, kid = codes.redeem_code(self.server.session, code, client.row.id, self.server.now)
        if row is None:
            self.server.check_registered(client.row)
            return None
        self.server.current_kid = kid
        return IssuedCode(row)

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        pass  # query_authorization_code redeemed it, once and for all

    def authenticate_user(self, authorization_code: IssuedCode) -> dict[str, Any]:
        return authorization_code.row.claims


class S256Required(CodeChallenge):  # type: ignore[misc]
    """PKCE on every request, S256 only: a missing method means plain (RFC 7636 4.3)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: CodeGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or not data.get("code_challenge_method"):
            raise InvalidRequestError(
                "PKCE is required: send code_challenge with code_challenge_method=S256."
            )
        super().validate_code_challenge(grant, redirect_uri)


class OpenIDClaims(OpenIDCode):  # type: ignore[misc]
    """The id_token: koppel's issuer, the client as audience, the newest key, the claims."""

    def __init__(self, provider: Provider) -> None:
        super().__init__(require_nonce=False)
        self.provider = provider

    def validate_openid_authorization_request(self, grant: CodeGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        for name in ("state", "nonce"):
            if len(data.get(name) or "") > LONGEST_PARAMETER:
                raise InvalidRequestError(f"'{name}' is longer than {LONGEST_PARAMETER}.")
        super().validate_openid_authorization_request(grant, redirect_uri)

    def exists_nonce(self, nonce: str, request: OidcRequest) -> bool:
        if request.user is not None:
            return False  # a code is issued in this request: storing it checks the nonce
        return codes.nonce_used(self.provider.session, request.client.row.id, nonce)

    def resolve_client_private_key(self, client: RegisteredClient) -> RSAKey:
        return self.provider.signing_key[1]

    def get_client_algorithm(self, client: RegisteredClient) -> str:
        return ALG

    def get_encode_header(self, client: RegisteredClient) -> dict[str, str]:
        return {"alg": ALG, "kid": self.provider.signing_key[0]}

    def get_client_claims(self, client: RegisteredClient) -> dict[str, Any]:
        now = int(self.provider.now.timestamp())
        return {
            "iss": self.provider.issuer,
            "aud": client.get_client_id(),
            "iat": now,
            "exp": now + self.provider.settings.oidc_token_seconds,
        }

    def generate_user_info(self, user: dict[str, Any], scope: str) -> UserInfo:
        return UserInfo(user)


class GrantedToken(TokenMixin):  # type: ignore[misc]
    """An access token as the userinfo endpoint checks it."""

    def __init__(self, provider: Provider, found: tuple[Any, OidcCode]) -> None:
        self.row, self.code = found
        self.provider = provider
        self.scope = self.row.scope

    def get_scope(self) -> str:
        return str(self.row.scope)

    def is_expired(self) -> bool:
        return bool(self.row.expires_at <= self.provider.now)

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None

    def get_client(self) -> RegisteredClient:
        row = self.provider.session.get_one(OidcClient, self.row.client_id)
        return RegisteredClient(Client.of(row))

    def get_user(self) -> dict[str, Any]:
        return self.code.claims


class _Bearer(BearerTokenValidator):  # type: ignore[misc]
    def __init__(self, provider: Provider) -> None:
        super().__init__()
        self.provider = provider

    def authenticate_token(self, token_string: str) -> GrantedToken | None:
        found = codes.find_access_token(self.provider.session, token_string)
        return GrantedToken(self.provider, found) if found is not None else None


class _Protector(ResourceProtector):  # type: ignore[misc]
    """authlib's userinfo endpoint asks for the token without the request: this one has it."""

    def __init__(self, provider: Provider, request: OidcRequest) -> None:
        super().__init__()
        self.request = request
        self.register_token_validator(_Bearer(provider))

    def acquire_token(self, scopes: str) -> GrantedToken:
        return self.validate_request(scope_to_list(scopes), self.request)  # type: ignore[no-any-return]


class _UserInfo(UserInfoEndpoint):  # type: ignore[misc]
    def generate_user_info(self, user: dict[str, Any], scope: str) -> UserInfo:
        return UserInfo(user)


class Provider(AuthorizationServer):  # type: ignore[misc]
    def __init__(
        self, session: Session, settings: Settings, now: datetime, clients: ClientCache
    ) -> None:
        super().__init__()
        self.session = session
        self.settings = settings
        self.now = now
        self.clients = clients
        self.issuer = settings.public_url
        self.current_kid: str | None = None  # read with the code redeemed (codes.redeem_code)
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                lambda **_: secrets.token_urlsafe(32),
                expires_generator=lambda client, grant_type: settings.oidc_token_seconds,
            ),
        )
        self.register_grant(CodeGrant, [S256Required(), OpenIDClaims(self)])

    @cached_property
    def signing_key(self) -> tuple[str, RSAKey]:
        return signing_key(self.session, self.now, self.current_kid)

    def query_client(self, client_id: str) -> RegisteredClient | None:
        row = self.clients.find(self.session, client_id)
        return RegisteredClient(row) if row is not None else None

    def check_registered(self, client: Client) -> None:
        """InvalidClientError when ``client`` was removed since this process read it."""
        if not codes.client_registered(self.session, client.id):
            self.clients.forget(client.client_id)
            raise InvalidClientError(
                status_code=401, description="The client is no longer registered."
            )

    def refuse_code(self, request: OidcRequest, redirect_uri: str) -> None:
        """No code was stored: the client is gone, or the nonce was used (a replay)."""
        self.check_registered(request.client.row)
        raise InvalidRequestError(
            "Replay attack", state=request.payload.state, redirect_uri=redirect_uri
        )

    def save_token(self, token: dict[str, Any], request: OidcRequest) -> None:
        code: IssuedCode = request.authorization_code
        codes.save_access_token(
            self.session, token["access_token"], code.row, token["expires_in"], self.now
        )
        log.info("oidc_token_issued", client_id=request.client.row.client_id, code_id=code.row.id)

    def create_oauth2_request(self, request: OidcRequest) -> OidcRequest:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        content = json.dumps(body) if isinstance(body, dict) else body
        return Response(content, status_code=status, headers=dict(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass  # no listeners

    def issue_code(self, grant: CodeGrant, user: Authenticated) -> Response:
        """Redirect to the client with a fresh one-time code (and its state)."""
        status, body, headers = grant.create_authorization_response(grant.redirect_uri, user)
        return self.handle_response(status, body, headers)

    def userinfo(self, request: OidcRequest) -> Response:
        self.register_endpoint(_UserInfo(resource_protector=_Protector(self, request)))
        return self.create_endpoint_response("userinfo", request)  # type: ignore[no-any-return]
