"""The demo's last step: a school's Basispoort tab in a browser, as the LVS would open it."""

from __future__ import annotations

import secrets
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlencode

import click
import httpx
import uvicorn
from rich.console import Console

from cli.runtime import session
from core.models import School

OPERATOR = "demo"


def offer_pages(console: Console, school_id: int) -> bool:
    """Say how to see the tab (the demo again with --serve: the simulator stops with the demo);
    on a terminal, offer to serve it right away. True when the answer was yes."""
    name, brin6 = _school(school_id)
    console.print(f"\nSee {name}'s Basispoort tab ({brin6}) in a browser:")
    console.print("  scripts/demo --serve", highlight=False)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    return click.confirm("Serve the pages now?", default=True)


@dataclass(frozen=True)
class Served:
    """koppel served for the demo: its address and the LVS's API token."""

    url: str
    token: str


@contextmanager
def served_koppel(port: int = 0) -> Iterator[Served]:
    """Serve what 'koppel api' serves on 127.0.0.1 (``port`` 0: any free one) in a thread.

    It believes X-Forwarded-For from 127.0.0.1, as behind a proxy: so the demo can sign in
    a pupil as if from inside the school's network.
    """
    from api.app import create_app
    from cli.runtime import plugins, session_factory
    from core.settings import load_settings

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        raise SystemExit(
            f"port {port} is in use ({exc.strerror}); try --port with another"
        ) from None
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    token = secrets.token_urlsafe(24)
    settings = load_settings(
        api_tokens=[token],
        public_url=base,
        web_secret=secrets.token_urlsafe(32),
        trusted_proxies=["127.0.0.1/32"],
    )
    app = create_app(settings, session_factory=session_factory(), plugins=plugins())
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit(f"the pages could not be served on {base}")
        time.sleep(0.05)
    try:
        yield Served(base, token)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def serve_pages(console: Console, koppel: Served, school_id: int, idp_url: str) -> None:
    """With koppel and the simulator still up: a console account, the IdP's deep link, and
    one-time links into the school's tab, minted as the LVS does, until Ctrl-C."""
    name, brin6 = _school(school_id)
    base = koppel.url
    console.rule(f"6. The pages, served on {base}")
    console.print(
        "In production 'koppel api' serves these pages.\n\n"
        f"[bold]The operator's console[/]: {base}/console\n"
        f"  sign in as {OPERATOR} with the password {_operator_password()}"
        " (made for this demo, printed once)\n",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"[bold]Signing in through Basispoort[/] (the simulator's deep link into {name}):\n"
        f"  {deep_link(idp_url, base, school_id)}\n"
        "  click a teacher (signed in) or a pupil (refused: this browser is not at school)\n",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"[bold]{name}'s Basispoort tab[/] ({brin6}): the LVS asks "
        f"POST /v1/schools/{brin6}/admin-link for each visit of its administrator.",
        highlight=False,
    )
    try:
        while True:
            auth = {"Authorization": f"Bearer {koppel.token}"}
            with httpx.Client(base_url=base, headers=auth) as lvs:
                link = lvs.post(f"/v1/schools/{brin6}/admin-link").json()["url"]
            console.print(
                f"Open within a minute (it works once): {link}", highlight=False, soft_wrap=True
            )
            console.print("Enter: a new link · Ctrl-C: stop", style="dim")
            input()
    except (KeyboardInterrupt, EOFError):
        console.print("\nStopped.")


def deep_link(idp_url: str, koppel_url: str, school_id: int) -> str:
    """Basispoort's snelkoppelaar into koppel's assertion consumer, for the school's people."""
    from plugins.basispoort.simulator.idp import DEEP_LINK

    with session() as s:
        ref = s.get_one(School, school_id).source_ref
    query = urlencode({"TARGET": f"{koppel_url}/sso/basispoort/acs", "INSTELLING_REF": ref})
    return f"{idp_url.rstrip('/')}{DEEP_LINK}?{query}"


def _operator_password() -> str:
    """A demo operator account, as 'koppel operators add' makes one; its password."""
    from core.operators import add_operator
    from core.settings import get_settings

    password = secrets.token_urlsafe(12)
    with session() as s:
        add_operator(s, OPERATOR, password, get_settings())
    return password


def _school(school_id: int) -> tuple[str, str]:
    with session() as s:
        school = s.get(School, school_id)
        assert school is not None
        return school.name or school.brin6, school.brin6
