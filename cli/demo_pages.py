"""The demo's last step: a school's Basispoort tab in a browser, as the LVS would open it."""

from __future__ import annotations

import secrets
import socket
import sys
import threading
import time

import click
import httpx
import uvicorn
from rich.console import Console

from core.models import School


def offer_pages(console: Console, school_id: int) -> bool:
    """Say how to see the tab (the demo again with --serve: the simulator stops with the demo);
    on a terminal, offer to serve it right away. True when the answer was yes."""
    name, brin6 = _school(school_id)
    console.print(f"\nSee {name}'s Basispoort tab ({brin6}) in a browser:")
    console.print("  scripts/demo --serve", highlight=False)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    return click.confirm("Serve the pages now?", default=True)


def serve_pages(console: Console, school_id: int, port: int) -> None:
    """Serve the pages (what 'koppel api' serves) with the simulator still up; print one-time
    links into the school's tab, minted as the LVS does, until Ctrl-C."""
    from api.app import create_app
    from cli.runtime import plugins, session_factory
    from core.settings import load_settings

    name, brin6 = _school(school_id)
    token = secrets.token_urlsafe(24)
    base = f"http://127.0.0.1:{port}"
    settings = load_settings(
        api_tokens=[token], public_url=base, web_secret=secrets.token_urlsafe(32)
    )
    app = create_app(settings, session_factory=session_factory(), plugins=plugins())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit(f"the pages could not be served on {base}")
        time.sleep(0.05)
    console.rule(f"5. {name}'s Basispoort tab ({brin6}), served on {base}")
    console.print(
        "In production 'koppel api' serves these pages; the LVS asks "
        f"POST /v1/schools/{brin6}/admin-link for each visit of its administrator."
    )
    try:
        while True:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as lvs:
                link = lvs.post(f"/v1/schools/{brin6}/admin-link").json()["url"]
            console.print(
                f"Open within a minute (it works once): {link}", highlight=False, soft_wrap=True
            )
            console.print("Enter: a new link · Ctrl-C: stop", style="dim")
            input()
    except (KeyboardInterrupt, EOFError):
        console.print("\nStopped.")
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _school(school_id: int) -> tuple[str, str]:
    from cli.runtime import session

    with session() as s:
        school = s.get(School, school_id)
        assert school is not None
        return school.name or school.brin6, school.brin6
