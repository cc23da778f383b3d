"""bench/logins' full login: a signed SAML assertion posted in, its code redeemed for an id_token.

Basispoort's deep link (IdP-initiated): the bench plays the identity provider (the simulator's
signer, its own key; every assertion signed before the clock starts: that is the IdP's work)
and the LVS (a client registered as ``koppel oidc clients add --initiate-login-uri`` does).
Each login, no browser:

1. POST the assertion to /sso/basispoort/acs: koppel verifies it, records its id, lets the
   login policies judge the person, and redirects to the client's initiate_login_uri with the
   short broker session in its signed cookie;
2. GET /oidc/authorize (PKCE S256) with that cookie: a 302 to the client with a code;
3. POST /oidc/token with the code and the client's secret: the id_token.

The session cookie is ``Secure`` and the bench speaks plain HTTP to 127.0.0.1 (TLS ends at the
proxy in front of koppel, which is also why 127.0.0.1 is a trusted proxy here and the school
address comes in X-Forwarded-For): the bench copies the cookie from Set-Cookie itself, as the
browser would over https. A sample of the id_tokens is checked against /oidc/jwks afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import math
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.oidc.clients import add_client
from plugins.basispoort.simulator.idp import SimulatorIdp
from plugins.basispoort.simulator.world import World

IDP_BASE = "https://idp.bench.test/"  # the bench IdP's entity id is under it; never fetched
CLIENT_NAME = "lvs-bench"
REDIRECT_URI = "http://127.0.0.1:9/oidc/callback"  # never followed: the bench reads the code
INITIATE_LOGIN_URI = "http://127.0.0.1:9/oidc/login"
SAMPLED = 20  # id_tokens checked against the JWKS after the run
SIGNING_MARGIN = 1.5  # assertions signed per login the target asks for


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    secret: str


class FullLogins:
    """The bench's identity provider and LVS, set up before koppel starts."""

    def __init__(self, logs: Path) -> None:
        self.idp = SimulatorIdp(World(schools=1))  # only its key and signer are used
        self.metadata_path = logs / "basispoort-idp.xml"
        self.metadata_path.write_bytes(self.idp.metadata(IDP_BASE))
        self.client: Client | None = None
        self._assertions: list[tuple[str, str]] = []  # (SAMLResponse, client address)
        self._lock = threading.Lock()
        self.tokens: list[tuple[str, str]] = []  # (id_token, nonce), the sample checked later

    def env(self, public_url: str) -> dict[str, str]:
        """What koppel api needs to sign people in through the bench IdP."""
        return {
            "KOPPEL_PUBLIC_URL": public_url,
            "KOPPEL_WEB_SECRET": secrets.token_urlsafe(32),
            "KOPPEL_BASISPOORT_SSO_METADATA": str(self.metadata_path),
            "KOPPEL_TRUSTED_PROXIES": '["127.0.0.1/32"]',
        }

    def register(self, engine: Engine) -> None:
        with Session(engine) as session:
            new = add_client(session, CLIENT_NAME, [REDIRECT_URI], INITIATE_LOGIN_URI)
            session.commit()
            self.client = Client(new.client.client_id, new.secret)

    def sign(self, url: str, logins: list[dict[str, Any]], seconds: float, target: int) -> None:
        """Enough unsolicited assertions for ``target`` logins/s over ``seconds``, each unique."""
        count = math.ceil(SIGNING_MARGIN * target * seconds)
        acs = f"{url}/sso/basispoort/acs"
        for n in range(count):
            login = logins[n % len(logins)]
            xml = self.idp.response(
                IDP_BASE,
                target=acs,
                audience=f"{url}/sso/basispoort/metadata",
                in_response_to="",
                attributes={"instellingRef": login["school_ref"], "userId": login["user_id"]},
            )
            self._assertions.append((base64.b64encode(xml).decode(), login["inside"]))
        self._assertions.reverse()  # popped from the end: the first signed is used first

    def next_assertion(self) -> tuple[str, str]:
        with self._lock:
            if not self._assertions:
                raise StopIteration  # all used: closed_loop ends the thread, the run ends early
            return self._assertions.pop()

    def one(self, url: str, http: httpx.Client) -> None:
        """One full login; AssertionError when any step answers other than a login would."""
        assert self.client is not None
        saml, address = self.next_assertion()
        posted = http.post(
            f"{url}/sso/basispoort/acs",
            data={"SAMLResponse": saml},
            headers={"X-Forwarded-For": address},
        )
        assert posted.status_code == 302, posted.text[:500]
        assert posted.headers["location"].startswith(INITIATE_LOGIN_URI), "not to the LVS"
        cookie = posted.headers["set-cookie"].split(";", 1)[0]
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        nonce = secrets.token_urlsafe(16)
        authorized = http.get(
            f"{url}/oidc/authorize",
            params={
                "response_type": "code",
                "client_id": self.client.client_id,
                "redirect_uri": REDIRECT_URI,
                "scope": "openid",
                "state": secrets.token_urlsafe(16),
                "nonce": nonce,
                "code_challenge": challenge.rstrip(b"=").decode(),
                "code_challenge_method": "S256",
            },
            headers={"Cookie": cookie},
        )
        assert authorized.status_code == 302, authorized.text[:500]
        code = parse_qs(urlsplit(authorized.headers["location"]).query)["code"][0]
        token = http.post(
            f"{url}/oidc/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
            auth=(self.client.client_id, self.client.secret),
        )
        assert token.status_code == 200, token.text[:500]
        with self._lock:
            if len(self.tokens) < SAMPLED:
                self.tokens.append((token.json()["id_token"], nonce))

    def check_tokens(self, url: str) -> int:
        """The sampled id_tokens verified against koppel's JWKS (RS256), for this client."""
        assert self.client is not None
        keys = KeySet.import_key_set(httpx.get(f"{url}/oidc/jwks", timeout=10).json())
        for id_token, nonce in self.tokens:
            claims = jwt.decode(id_token, keys).claims
            if claims["aud"] != self.client.client_id or claims["iss"] != url:
                raise SystemExit(f"an id_token for someone else: aud/iss {claims}")
            if claims["nonce"] != nonce or not claims["sub"]:
                raise SystemExit("an id_token without the login's nonce or a subject")
        return len(self.tokens)
