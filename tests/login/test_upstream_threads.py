"""A connection check waiting on its identity source holds none of the logins' threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from core.connection import ConnectionCheck
from core.models import SchoolNetwork
from core.settings import load_settings
from tests.conftest import BACKENDS, migrated_database
from tests.fakes import FakeSource, FakeSourcePlugin, make_snapshot
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


class SlowSource(FakeSource):
    """A source that answers a connection check only when the test lets it."""

    def __init__(self) -> None:
        super().__init__(make_snapshot(pupils=1, staff=1, groups=1))
        self.waiting = threading.Semaphore(0)
        self.answer = threading.Event()

    def check_connection(self, brin: str, location_code: str) -> ConnectionCheck:
        self.waiting.release()
        self.answer.wait(60)
        return super().check_connection(brin, location_code)


@pytest.mark.parametrize("backend", BACKENDS)
def test_logins_are_answered_while_connection_checks_wait_on_the_source(
    backend: str, tmp_path: Path
) -> None:
    url = migrated_database(backend, tmp_path)
    # One thread for the routes: a check on it would leave none for a login.
    settings = load_settings(database_url=url, api_tokens=[TOKEN], api_threads=1)
    pools = api_pools(settings)
    with Session(pools.engine, expire_on_commit=False) as db:
        school = add_school(db)
        db.add(SchoolNetwork(school_id=school.id, network=SCHOOL_NET, origin="admin"))
        pupil = add_pupil(db, school)
        db.commit()
    source = SlowSource()
    app = pools.app(settings, login_plugins(FakeSourcePlugin(source)))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        with (
            serve(app, lifespan="on") as base,
            httpx.Client(base_url=base, headers=headers, timeout=20) as api,
            ThreadPoolExecutor(2) as checks,
        ):

            def check(brin6: str) -> int:
                path = f"/v1/schools/{brin6}/connection-check?source=fake"
                return api.post(path).status_code

            waiting = [checks.submit(check, brin6) for brin6 in ("99ZZ00", "99ZZ01")]
            for _ in waiting:
                assert source.waiting.acquire(timeout=20), "the checks did not both start"
            answer = api.post("/v1/logins/evaluate", json=login_body(school, pupil, INSIDE))
            assert answer.status_code == 200 and answer.json()["allowed"] is True
            assert not any(w.done() for w in waiting)  # still with the source
            source.answer.set()
            assert [w.result(timeout=20) for w in waiting] == [200, 200]
    finally:
        source.answer.set()
        pools.dispose()
