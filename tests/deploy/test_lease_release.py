"""A worker process whose lease release met a database outage gives the lease back while it
idles, without waiting for another message (workers/unreleased.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import make_engine, make_sessionmaker
from core.models import School, SyncRun
from tests.deploy.processes import delete_queues, events, run, services, wait_for
from tests.servers import rabbitmq_url
from tests.tcp_proxy import proxied_database
from tests.workers.factories import add_school
from workers.runner import PARENT_CHECK_SECONDS

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]

# The release (core/lease.py) as psycopg sends it: it clears the owner first, as the lease's
# acquisition does, but sets no new token.
RELEASE = b"UPDATE school SET lease_owner="
ACQUISITION = b"lease_token=("


def the_first_release(seen: list[bytes]) -> Callable[[bytes], bool]:
    """For TcpProxy's cut_when: True for the first statement that releases a lease."""

    def check(data: bytes) -> bool:
        if seen or RELEASE not in data or ACQUISITION in data:
            return False
        seen.append(data)
        return True

    return check


def test_a_lease_whose_release_was_cut_is_given_back_while_the_worker_idles(
    tmp_path: Path,
) -> None:
    cut: list[bytes] = []
    prefix = f"t{uuid.uuid4().hex[:8]}."
    with proxied_database(tmp_path, the_first_release(cut)) as (_proxy, url):
        sessions = make_sessionmaker(make_engine(url))
        with sessions() as s:
            school = add_school(s, consent="none")  # its sync: a quick "skipped", leased
            s.commit()
            school_id, brin6 = school.id, school.brin6

        def lease_owner() -> str | None:
            with sessions() as s:
                return s.scalar(select(School.lease_owner).where(School.id == school_id))

        env = {
            "KOPPEL_DATABASE_URL": url,
            "KOPPEL_BROKER_URL": rabbitmq_url(),
            "KOPPEL_QUEUE_PREFIX": prefix,
            "KOPPEL_LOG_FORMAT": "json",
        }
        try:
            with services(tmp_path) as start:
                worker = start("worker", ["worker", "--threads", "1"], env)
                wait_for("the worker", lambda: events(worker, "worker_started"), timeout=60)
                run(["sync-now", brin6], env)
                wait_for("the release to be cut", lambda: cut, timeout=60)
                wait_for("the failed release", lambda: events(worker, "lease_release_failed"), 30)
                with sessions() as s:
                    outcome = s.scalar(
                        select(SyncRun.outcome).where(SyncRun.school_id == school_id)
                    )
                assert outcome == "skipped"
                # No other message comes: the worker's idle loop is the next chance.
                wait_for(
                    "the lease given back",
                    lambda: lease_owner() is None,
                    timeout=10 * PARENT_CHECK_SECONDS,
                )
                assert [e["school_id"] for e in events(worker, "lease_released_late")] == [
                    school_id
                ]
                assert worker.stop(timeout=60) == 0
        finally:
            delete_queues(rabbitmq_url(), prefix)
