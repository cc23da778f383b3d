"""End to end: the kit's identity provider signs the method's example, koppel's real ACS signs in.

koppel's app (create_app) runs on a fresh SQLite database holding a linked school of the
method's source with a kit pupil and teacher, with only the method installed, pointed at the
kit's identity provider. Each person's sign-in goes as a browser's would: koppel's AuthnRequest,
the signed answer posted to /sso/{name}/acs, and koppel hands on whom it let in.
"""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Any

import anyio
import httpx
from fastapi import Request
from sqlalchemy import select
from starlette.responses import PlainTextResponse, Response

from api.app import create_app
from api.signin import SignedIn, add_continuation
from core import migrate
from core.db import make_engine, make_sessionmaker
from core.hookspecs import hookimpl
from core.models import LoginDenial
from core.plugins import Plugins, make_plugin_manager
from core.settings import load_settings
from koppel.testing import assertions
from koppel.testing.idp import KitIdp, request_id
from koppel.testing.people import kit_school
from koppel.testing.roster import base_roster
from koppel.testing.rules import LoginMethodRule, require

PUBLIC = "https://koppel.kit.example"
RELAY = "kit"  # the continuation the kit's sign-ins are handed to


class _AtTheKitIdp:
    """The method as it is, but reading the kit identity provider's metadata (not signed)."""

    def __init__(self, method: Any, metadata: Path) -> None:
        self.method = method
        self.name, self.source = method.name, method.source
        self.unsolicited = method.unsolicited
        self._metadata = str(metadata)

    def metadata(self) -> str:
        return self._metadata

    def identity(self, asserted: Any) -> Any:
        return self.method.identity(asserted)


class _Registers:
    def __init__(self, method: _AtTheKitIdp) -> None:
        self.method = method

    @hookimpl
    def koppel_register_login_methods(self, register: Any) -> None:
        register(self.method)


def signs_in(method: Any, directory: Path) -> bool:
    """Sign the kit teacher and pupil in (the teacher unasked too, when the method lets
    IdP-initiated sign-ins in); False (nothing checked) without example_assertion."""
    roster = base_roster()
    people = {"teacher": roster.person("staff0"), "pupil": roster.person("pupil1")}
    examples = {kind: assertions.example_of(method, p) for kind, p in people.items()}
    if None in examples.values():
        return False
    rounds = [(kind, True) for kind in examples]
    rounds += [("teacher", False)] if method.unsolicited is True else []
    koppel = _KitSignIns(method, directory)
    try:
        for kind, asked in rounds:
            let_in = koppel.sign_in(examples[kind], asked)
            require(
                let_in == [koppel.people[kind]],
                LoginMethodRule.SIGNS_IN,
                f"koppel's ACS did not sign the kit {kind} in from example_assertion"
                f"{'' if asked else ' unasked (IdP-initiated)'} "
                f"(refused: {', '.join(koppel.refusals()) or 'no, someone else'})",
            )
    finally:
        koppel.close()
    return True


class _KitSignIns:
    """koppel's app on a kit database with only ``method`` installed, at the kit IdP."""

    def __init__(self, method: Any, directory: Path) -> None:
        self.name = method.name
        self.idp = KitIdp(directory)
        self.engine = make_engine(f"sqlite:///{directory}/kit-signin-{uuid.uuid4().hex[:8]}.db")
        migrate.upgrade(self.engine)
        self.sessions = make_sessionmaker(self.engine)
        with self.sessions() as session:
            _, pupil, staff = kit_school(session, method.source)
            self.people = {"teacher": ("staff", staff.id), "pupil": ("pupil", pupil.id)}
        registers = _Registers(_AtTheKitIdp(method, self.idp.metadata_file))
        self.app = create_app(
            load_settings(
                api_tokens=[secrets.token_urlsafe(32)],
                public_url=PUBLIC,
                web_secret=secrets.token_urlsafe(32),
            ),
            session_factory=self.sessions,
            plugins=Plugins(make_plugin_manager(entry_points=False, extra=[registers])),
        )
        self.let_in: list[tuple[str, int]] = []
        for prefix in (RELAY, ""):  # asked for by the kit; unasked
            add_continuation(self.app, prefix, self._continuation)

    def _continuation(self, _request: Request, who: SignedIn, _relay: str) -> Response:
        self.let_in.append((who.person_kind, who.person_id))
        return PlainTextResponse("signed in")

    def close(self) -> None:
        self.engine.dispose()

    def sign_in(self, example: Any, asked: bool) -> list[tuple[str, int]]:
        """Whom koppel let in after the identity provider asserted ``example``."""
        self.let_in.clear()
        anyio.run(self._browse, example, asked)
        return list(self.let_in)

    def refusals(self) -> list[str]:
        """The policies (core:..., sso:...) of every refusal audited so far."""
        with self.sessions() as session:
            return sorted(set(session.scalars(select(LoginDenial.policy))))

    async def _browse(self, example: Any, asked: bool) -> None:
        """As a browser: koppel's sign-in address (if asked), the IdP, its answer to the ACS."""
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as browser:
            in_response_to = None
            if asked:
                sent = await browser.get(
                    f"/sso/{self.name}/login", params={"relay_state": f"{RELAY}:"}
                )
                require(
                    sent.status_code == 303,
                    LoginMethodRule.SIGNS_IN,
                    f"/sso/{self.name}/login answered {sent.status_code}, not a redirect to the "
                    "identity provider",
                )
                in_response_to = request_id(sent.headers["location"])
            answer = self.idp.response(
                acs_url=f"{PUBLIC}/sso/{self.name}/acs",
                audience=f"{PUBLIC}/sso/{self.name}/metadata",
                in_response_to=in_response_to,
                name_id=example.name_id or "kit-name-id",
                attributes=example.attributes,
            )
            await browser.post(f"/sso/{self.name}/acs", data={"SAMLResponse": answer})
