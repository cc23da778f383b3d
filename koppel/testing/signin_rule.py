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
from fastapi import FastAPI, Request
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
    """Sign the kit teacher and pupil in; False (nothing checked) without example_assertion."""
    roster = base_roster()
    people = {"teacher": roster.person("staff0"), "pupil": roster.person("pupil1")}
    examples = {kind: assertions.example_of(method, p) for kind, p in people.items()}
    if None in examples.values():
        return False
    idp = KitIdp(directory)
    engine = make_engine(f"sqlite:///{directory}/kit-signin-{uuid.uuid4().hex[:8]}.db")
    try:
        migrate.upgrade(engine)
        sessions = make_sessionmaker(engine)
        with sessions() as session:
            _, pupil, staff = kit_school(session, method.source)
            expected = {"teacher": ("staff", staff.id), "pupil": ("pupil", pupil.id)}
        plugins = make_plugin_manager(
            entry_points=False, extra=[_Registers(_AtTheKitIdp(method, idp.metadata_file))]
        )
        app = create_app(
            load_settings(api_tokens=[secrets.token_urlsafe(32)], public_url=PUBLIC),
            session_factory=sessions,
            plugins=Plugins(plugins),
        )
        let_in: list[SignedIn] = []

        def continuation(_request: Request, who: SignedIn, _relay: str) -> Response:
            let_in.append(who)
            return PlainTextResponse("signed in")

        add_continuation(app, RELAY, continuation)
        for kind, example in examples.items():
            let_in.clear()
            anyio.run(_sign_in, app, idp, method.name, example)
            with sessions() as session:
                refused = session.scalars(select(LoginDenial.policy)).all()
            require(
                [(w.person_kind, w.person_id) for w in let_in] == [expected[kind]],
                LoginMethodRule.SIGNS_IN,
                f"koppel's ACS did not sign the kit {kind} in from example_assertion "
                f"(refused: {', '.join(sorted(set(refused))) or 'no, someone else'})",
            )
    finally:
        engine.dispose()
    return True


async def _sign_in(app: FastAPI, idp: KitIdp, name: str, example: Any) -> None:
    """As a browser: koppel's sign-in address, the identity provider, its answer to the ACS."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as browser:
        await _browse(browser, idp, name, example)


async def _browse(browser: httpx.AsyncClient, idp: KitIdp, name: str, example: Any) -> None:
    sent = await browser.get(f"/sso/{name}/login", params={"relay_state": f"{RELAY}:"})
    require(
        sent.status_code == 303,
        LoginMethodRule.SIGNS_IN,
        f"/sso/{name}/login answered {sent.status_code}, not the way to the identity provider",
    )
    answer = idp.response(
        acs_url=f"{PUBLIC}/sso/{name}/acs",
        audience=f"{PUBLIC}/sso/{name}/metadata",
        in_response_to=request_id(sent.headers["location"]),
        name_id=example.name_id or "kit-name-id",
        attributes=example.attributes,
    )
    await browser.post(f"/sso/{name}/acs", data={"SAMLResponse": answer})
