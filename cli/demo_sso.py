"""The demo's sign-ins: people of a synced school log in to an LVS through koppel, headlessly.

Over real HTTP, as a browser would: the LVS's authorization request at koppel's /oidc/authorize,
on to the simulator's identity provider, the person clicked there, the signed assertion posted
to koppel's /sso/basispoort/acs, and back to the LVS with a code its stock client exchanges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urljoin, urlsplit

import httpx

from cli.demo_lvs import StockClient

LVS_CALLBACK = "http://localhost:8080/oidc/callback"  # where the browser would go on: not followed
_SCHOOL_LINK = re.compile(r'<a href="([^"]*)">')
_BUTTON = re.compile(r'<button name="person" value="(\d+)">([^<]+)</button>')
_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
_FORM = re.compile(r'<form id="saml" method="post" action="([^"]*)">')
_SENTENCE = re.compile(r'<p class="sentence"[^>]*>([^<]*)</p>')


def person_buttons(page: str) -> dict[str, str]:
    """The simulator login page's buttons: label → person id."""
    return {unescape(label): value for value, label in _BUTTON.findall(page)}


def hidden_fields(page: str) -> dict[str, str]:
    return {name: unescape(value) for name, value in _HIDDEN.findall(page)}


@dataclass(frozen=True)
class Outcome:
    """How one sign-in ended: the id_token's verified claims, or the sentence koppel showed."""

    claims: dict[str, Any] | None
    refusal: str | None


def sign_in(
    lvs: StockClient, school_source_id: int, who: str, forwarded_for: str | None = None
) -> Outcome:
    """Sign the first person whose label at the simulator holds ``who`` in to ``lvs``.

    ``forwarded_for``: as if through a proxy koppel trusts (KOPPEL_TRUSTED_PROXIES), the
    browser's address inside the school's network.
    """
    login = lvs.start()
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    with httpx.Client(headers=headers, timeout=10) as browser:
        # /oidc/authorize → /sso/basispoort/login → the IdP with an AuthnRequest: choose a school.
        schools = _follow(browser, browser.get(login.url))
        link = next(
            unescape(href)
            for href in _SCHOOL_LINK.findall(schools.text)
            if parse_qs(urlsplit(unescape(href)).query).get("school") == [str(school_source_id)]
        )
        people = browser.get(urljoin(str(schools.url), link))
        person = next(v for label, v in person_buttons(people.text).items() if who in label)
        signed = browser.post(
            urljoin(str(people.url), "/idp/sign-in"),
            data={**hidden_fields(people.text), "person": person},
        )
        signed.raise_for_status()
        # The page the IdP answers posts the assertion on to koppel (a script clicks it).
        acs = unescape(_FORM.findall(signed.text)[0])
        answer = browser.post(acs, data=hidden_fields(signed.text))
    location = answer.headers.get("location", "")
    if answer.status_code == 302 and location.startswith(LVS_CALLBACK):
        token = lvs.exchange(location, login)
        return Outcome(lvs.verify(token, login), None)
    sentence = _SENTENCE.findall(answer.text)
    return Outcome(
        None, unescape(sentence[0]).strip() if sentence else f"HTTP {answer.status_code}"
    )


def _follow(browser: httpx.Client, response: httpx.Response) -> httpx.Response:
    """Follow redirects by hand (koppel's start of a sign-in, then on to the IdP)."""
    while response.is_redirect:
        response = browser.get(urljoin(str(response.url), response.headers["location"]))
    response.raise_for_status()
    return response


def show_sign_ins(console: Any, koppel_url: str, school_id: int, at_school: str, home: str) -> None:
    """Register a demo LVS as 'koppel oidc clients add' does; sign a teacher and a pupil in."""
    from rich.table import Table

    from cli.runtime import session
    from core.models import School
    from core.oidc.clients import add_client

    with session() as s:
        new = add_client(s, "demo-lvs", [LVS_CALLBACK])
        client_id, secret = new.client.client_id, new.secret
        s.commit()
        school = s.get_one(School, school_id)
        source_school_id = int(school.source_school_id)
    lvs = StockClient(koppel_url, client_id, secret, LVS_CALLBACK)
    cases = [
        ("teacher", "Leerkracht", home, "from home"),
        ("pupil", "leerling", home, "from home"),
        ("pupil", "leerling", at_school, "from the school network"),
    ]
    table = Table("who", "where", "let in?", "claims the LVS received / what koppel showed")
    for who, label, address, where in cases:
        outcome = sign_in(lvs, source_school_id, label, forwarded_for=address)
        if outcome.claims is not None:
            claims = outcome.claims
            roles = ", ".join(claims.get("roles") or []) or "-"
            shown = f"{claims['person_kind']}, BRIN6 {claims['brin6']}, roles: {roles}"
        else:
            shown = outcome.refusal or ""
        table.add_row(who, f"{address} ({where})", "no" if outcome.claims is None else "yes", shown)
    console.print(table)


def register_with_idp(idp: Any, koppel_url: str) -> None:
    """Register koppel's SP metadata (by its URL) with the simulator's IdP, as with Basispoort:
    the IdP then wants koppel's AuthnRequests signed by the certificate in it."""
    idp.idp.service_providers.clear()
    idp.idp.service_providers.register_metadata(f"{koppel_url}/sso/basispoort/metadata")


def show_request_checks(console: Any, koppel_url: str, idp: Any) -> None:
    """What the IdP made of koppel's signed AuthnRequests, and of one altered on the way."""
    start = httpx.get(f"{koppel_url}/sso/basispoort/login", params={"relay_state": "demo"})
    address = start.headers["location"]
    query = dict(parse_qsl(urlsplit(address).query))
    altered = httpx.get(address.split("?")[0], params={**query, "RelayState": "altered"})
    reason = re.findall(r'<p id="reason">([^<]*)</p>', altered.text)
    verdicts = idp.idp.verdicts
    console.print(
        f"The identity provider checked each AuthnRequest's signature (rsa-sha256) against "
        f"koppel's registered SP metadata: {verdicts['signed']} verified; one with its "
        f"RelayState altered on the way: refused (HTTP {altered.status_code}, "
        f"{reason[0] if reason else 'no reason given'}).",
        highlight=False,
        soft_wrap=True,
    )
