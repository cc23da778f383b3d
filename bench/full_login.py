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

The load is wrk running bench/full_login.lua (one connection per wrk thread, the three steps
chained in Lua), so the load generator costs the shared cores little; everything a login
needs that costs CPU (the signature, the PKCE pair) is prepared here first. One login is
first made with httpx, step by step, so a broken set-up fails with koppel's own answer.

The session cookie is ``Secure`` and the bench speaks plain HTTP to 127.0.0.1 (TLS ends at the
proxy in front of koppel, which is also why 127.0.0.1 is a trusted proxy here and the school
address comes in X-Forwarded-For): the generator copies the cookie from Set-Cookie itself, as
the browser would over https. A sample of the id_tokens is checked against /oidc/jwks afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import math
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

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
ACS_PATH = "/sso/basispoort/acs"
SAMPLED = 20  # id_tokens checked against the JWKS after the run
SIGNING_MARGIN = 1.5  # assertions signed per login the target asks for
LUA = Path(__file__).with_name("full_login.lua")


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    secret: str

    def basic_auth(self) -> str:
        return "Basic " + base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()


@dataclass(frozen=True, slots=True)
class Login:
    """Everything one login sends that costs CPU to make, made before the clock starts."""

    saml_form: str  # the ACS's form body: SAMLResponse=<the signed Response, base64>
    address: str  # the browser's, in X-Forwarded-For
    authorize: str  # /oidc/authorize?... with the PKCE challenge, state and nonce
    verifier: str
    nonce: str


class FullLogins:
    """The bench's identity provider and LVS, set up before koppel starts."""

    def __init__(self, logs: Path) -> None:
        self.idp = SimulatorIdp(World(schools=1))  # only its key and signer are used
        self.logs = logs
        self.metadata_path = logs / "basispoort-idp.xml"
        self.metadata_path.write_bytes(self.idp.metadata(IDP_BASE))
        self.client: Client | None = None

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

    def prepare(self, url: str, people: list[dict[str, Any]], count: int) -> list[Login]:
        """``count`` logins, each with its own signed unsolicited assertion and PKCE pair."""
        assert self.client is not None
        prepared = []
        for n in range(count):
            person = people[n % len(people)]
            xml = self.idp.response(
                IDP_BASE,
                target=f"{url}{ACS_PATH}",
                audience=f"{url}/sso/basispoort/metadata",
                in_response_to="",
                attributes={"instellingRef": person["school_ref"], "userId": person["user_id"]},
            )
            verifier = secrets.token_urlsafe(48)
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            nonce = secrets.token_urlsafe(16)
            query = urlencode(
                {
                    "response_type": "code",
                    "client_id": self.client.client_id,
                    "redirect_uri": REDIRECT_URI,
                    "scope": "openid",
                    "state": secrets.token_urlsafe(16),
                    "nonce": nonce,
                    "code_challenge": challenge.rstrip(b"=").decode(),
                    "code_challenge_method": "S256",
                }
            )
            prepared.append(
                Login(
                    saml_form=urlencode({"SAMLResponse": base64.b64encode(xml).decode()}),
                    address=person["inside"],
                    authorize=f"/oidc/authorize?{query}",
                    verifier=verifier,
                    nonce=nonce,
                )
            )
        return prepared

    def enough(self, seconds: float, target: int) -> int:
        """Logins to prepare for ``seconds`` at a rate comfortably above ``target``."""
        return math.ceil(SIGNING_MARGIN * target * seconds)

    def one(self, url: str, login: Login) -> str:
        """One login step by step; its id_token, or AssertionError with koppel's answer."""
        assert self.client is not None
        with httpx.Client(base_url=url, timeout=30) as http:
            posted = http.post(
                ACS_PATH,
                content=login.saml_form,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Forwarded-For": login.address,
                },
            )
            assert posted.status_code == 302, posted.text[:500]
            assert posted.headers["location"].startswith(INITIATE_LOGIN_URI), "not to the LVS"
            cookie = posted.headers["set-cookie"].split(";", 1)[0]
            authorized = http.get(login.authorize, headers={"Cookie": cookie})
            assert authorized.status_code == 302, authorized.text[:500]
            code = parse_qs(urlsplit(authorized.headers["location"]).query)["code"][0]
            token = http.post(
                "/oidc/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": REDIRECT_URI,
                    "code_verifier": login.verifier,
                },
                headers={"Authorization": self.client.basic_auth()},
            )
            assert token.status_code == 200, token.text[:500]
            return str(token.json()["id_token"])

    def wrk_arguments(self, logins: list[Login], threads: int, name: str) -> list[str]:
        """The script and its arguments for wrk: each thread's logins written to its own file."""
        assert self.client is not None
        data = self.logs / f"{name}-logins"
        for thread in range(threads):
            lines = (
                f"{x.saml_form}\t{x.address}\t{x.authorize}\t{x.verifier}\t{x.nonce}\n"
                for x in logins[thread::threads]
            )
            Path(f"{data}.{thread}").write_text("".join(lines))
        redirect_uri = urlencode({"": REDIRECT_URI})[1:]
        arguments = [str(data), ACS_PATH, self.client.basic_auth(), redirect_uri, str(SAMPLED)]
        return ["-s", str(LUA), "--", *arguments]

    def check_tokens(self, url: str, tokens: list[tuple[str, str]]) -> int:
        """The sampled id_tokens verified against koppel's JWKS (RS256), for this client."""
        assert self.client is not None
        keys = KeySet.import_key_set(httpx.get(f"{url}/oidc/jwks", timeout=10).json())
        for id_token, nonce in tokens:
            claims = jwt.decode(id_token, keys).claims
            if claims["aud"] != self.client.client_id or claims["iss"] != url:
                raise SystemExit(f"an id_token for someone else: aud/iss {claims}")
            if claims["nonce"] != nonce or not claims["sub"]:
                raise SystemExit("an id_token without the login's nonce or a subject")
        return len(tokens)
