"""How 'koppel api' serves: Nagle off on every connection, one pooled connection per thread."""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from cli.api_cmd import listening_socket
from core.models import SchoolNetwork
from core.settings import load_settings
from tests.conftest import migrated_database
from tests.live_server import serve
from tests.login.conftest import (
    INSIDE,
    SCHOOL_NET,
    TOKEN,
    add_pupil,
    add_school,
    login_body,
    login_plugins,
)
from tests.login.helpers import api_pools


def test_every_connection_to_the_api_socket_has_nagle_off() -> None:
    # With Nagle on, an answer's body waits for the client's delayed ACK of its headers (40 ms).
    async def accepted_nodelay() -> int:
        loop = asyncio.get_running_loop()
        found: asyncio.Future[int] = loop.create_future()

        class Accept(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                found.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

        server = await loop.create_server(Accept, sock=listening_socket("127.0.0.1", 0))
        async with server:
            port = server.sockets[0].getsockname()[1]
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                return await asyncio.wait_for(found, 10)
            finally:
                writer.close()

    assert asyncio.run(accepted_nodelay()) != 0


@pytest.mark.postgres
def test_a_burst_of_logins_reuses_one_pooled_connection_per_thread(tmp_path: Path) -> None:
    url = migrated_database("postgres", tmp_path)
    settings = load_settings(database_url=url, api_tokens=[TOKEN], api_threads=3)
    pools = api_pools(settings)
    opened: list[object] = []
    for engine in pools.engines:
        event.listen(engine, "connect", lambda conn, _record: opened.append(conn))
    with Session(pools.engine, expire_on_commit=False) as db:
        school = add_school(db)
        db.add(SchoolNetwork(school_id=school.id, network=SCHOOL_NET, origin="admin"))
        pupil = add_pupil(db, school)
        db.commit()
    seeded = len(opened)
    app = pools.app(settings, login_plugins())
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def burst(base: str) -> list[int]:
        def one(_: int) -> int:
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                body = login_body(school, pupil, INSIDE)
                return client.post("/v1/logins/evaluate", json=body).status_code

        with ThreadPoolExecutor(24) as pool:
            return list(pool.map(one, range(48)))

    try:
        with serve(app, lifespan="on") as base:
            assert burst(base) == [200] * 48
            after_first = len(opened)
            assert burst(base) == [200] * 48
        # Three threads never hold more than three connections, and keep them: none was opened
        # and closed per request (SQLAlchemy's overflow), which cost more than the login.
        assert after_first - seeded <= 3
        assert len(opened) == after_first
    finally:
        pools.dispose()
