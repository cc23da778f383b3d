"""A PostgreSQL restart under the API: logins go on deciding, never a 500.

The API checks a pooled connection only after it sat idle (no round trip per login), so a
connection the restart closed is met by a login's statement; that login is decided again.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session
from structlog.testing import capture_logs

from core import migrate
from core.models import SchoolNetwork
from core.settings import load_settings
from tests.chaos.servers import PrivateServers
from tests.conftest import fresh_database_url
from tests.live_server import serve
from tests.login.conftest import (
    HOME,
    INSIDE,
    SCHOOL_NET,
    TOKEN,
    add_pupil,
    add_school,
    login_body,
    login_plugins,
)
from tests.login.helpers import api_pools

pytestmark = pytest.mark.postgres


def test_logins_right_after_a_database_restart_are_decided(
    private_postgres: PrivateServers, tmp_path: Path
) -> None:
    url = fresh_database_url("postgres", tmp_path)
    settings = load_settings(api_tokens=[TOKEN], database_url=url)
    # Idle checks off for this test (they would hide a restart slower than their interval):
    # what is tested is a dead connection met in busy use.
    pools = api_pools(settings, ping_after_idle=3600)
    migrate.upgrade(pools.engine)
    with Session(pools.engine, expire_on_commit=False) as db:
        school = add_school(db)
        db.add(SchoolNetwork(school_id=school.id, network=SCHOOL_NET, origin="admin"))
        pupils = [add_pupil(db, school) for _ in range(8)]
        db.commit()
    app = pools.app(settings, login_plugins())
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def logins(base: str, peer: str) -> list[tuple[int, bool | None]]:
        def one(index: int) -> tuple[int, bool | None]:
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                body = login_body(school, pupils[index % len(pupils)], peer)
                answer = client.post("/v1/logins/evaluate", json=body)
                allowed = answer.json()["allowed"] if answer.status_code == 200 else None
                return answer.status_code, allowed

        with ThreadPoolExecutor(4) as pool:  # several pooled connections, all to die
            return list(pool.map(one, range(16)))

    try:
        with serve(app, lifespan="on") as base:
            assert logins(base, INSIDE) == [(200, True)] * 16
            private_postgres.stop_postgres("fast")
            private_postgres.start_postgres()
            with capture_logs() as logs:
                assert logins(base, INSIDE) == [(200, True)] * 16
                assert logins(base, HOME) == [(200, False)] * 16  # the audit is written again
        assert "database_connection_lost_retrying" in [e["event"] for e in logs]
    finally:
        pools.dispose()
