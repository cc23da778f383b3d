"""'koppel api --processes N': N processes serve one port, one scrape counts them all, a process
that dies is started again, and SIGTERM stops every one (as does the parent's death)."""

from __future__ import annotations

import json
import os
import re
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from api.web import SESSION_COOKIE
from cli.api_cmd import WORKER_HEALTHCHECK_SECONDS
from tests.conftest import migrated_database
from tests.deploy.metrics import sample, scrape
from tests.deploy.processes import Service, events, free_port, gone, services, wait_for
from tests.login.conftest import INSIDE, TOKEN, login_body
from tests.login.helpers import school_with_pupil

pytestmark = pytest.mark.postgres  # several processes on one database: PostgreSQL's case

ALLOWED = 'koppel_login_decisions_total{outcome="allowed"}'
TIMED = 'koppel_api_request_seconds_count{method="POST",route="/v1/logins/evaluate",status="200"}'


def said(service: Service) -> list[str]:
    """What all the service's processes logged (uvicorn's lines are plain sentences)."""
    lines = service.stderr.read_text().splitlines()
    return [json.loads(x)["event"] for x in lines if x.startswith("{")]


def serving(service: Service, count: int) -> list[int]:
    """The pids of the processes that have started serving, once ``count`` have."""

    def pids() -> list[int]:
        found = [e["pid"] for e in events(service, "Application startup complete.")]
        return found if len(found) >= count else []

    return wait_for(f"{count} API processes to serve", pids, timeout=120)


@pytest.fixture
def api(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A seeded PostgreSQL database and a function starting 'koppel api --processes 2' on it,
    yielding (the service, its base URL, its metrics port, one allowed login's body)."""
    url = migrated_database("postgres", tmp_path)
    school, pupil = school_with_pupil(url)
    port, metrics_port = free_port(), free_port()
    env = {
        "KOPPEL_DATABASE_URL": url,
        "KOPPEL_API_TOKENS": f'["{TOKEN}"]',
        "KOPPEL_LOG_FORMAT": "json",
        "KOPPEL_API_PROCESSES": "2",
    }
    base = f"http://127.0.0.1:{port}"
    with services(tmp_path) as start:
        service = start(
            "api", ["api", "--port", str(port), "--metrics-port", str(metrics_port)], env
        )
        yield service, base, metrics_port, login_body(school, pupil, INSIDE)


def evaluate(base: str, body: dict) -> None:  # type: ignore[type-arg]
    """One login on a connection of its own (the kernel hands each to either process)."""
    answer = httpx.post(
        f"{base}/v1/logins/evaluate",
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    assert answer.status_code == 200 and answer.json()["allowed"] is True, answer.text


def test_two_processes_serve_one_port_are_scraped_as_one_and_stop_on_sigterm(api) -> None:  # type: ignore[no-untyped-def]
    service, base, metrics_port, body = api
    pids = serving(service, 2)
    assert len(set(pids)) == 2 and service.pid not in pids
    sent = 0

    def both_answered() -> bool:
        nonlocal sent
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: evaluate(base, body), range(8)))
        sent += 8
        return {e["pid"] for e in events(service, "login_evaluated")} == set(pids)

    wait_for("logins answered by both processes", both_answered, timeout=120, every=0)
    text = scrape(metrics_port) or ""
    # Every process's count in one scrape, whichever answered what.
    assert sample(text, ALLOWED) == sent and sample(text, TIMED) == sent, text
    # A collector that reads the database at the scrape runs once, not once per process.
    assert text.count("\nkoppel_schools_failing ") == 1, text
    assert service.stop(timeout=60) == 0
    assert all(map(gone, pids))
    finished = [e for e in said(service) if e.startswith("Finished server process")]
    assert len(finished) == 2, service.output()  # each stopped its own way, none killed


def test_a_killed_process_is_started_again_and_the_port_keeps_answering(api) -> None:  # type: ignore[no-untyped-def]
    service, base, _metrics_port, body = api
    killed, sibling = serving(service, 2)
    os.kill(killed, signal.SIGKILL)
    replacement = serving(service, 3)[2]
    assert f"Child process [{killed}] died" in said(service)
    assert not gone(sibling) and replacement not in (killed, sibling)
    for _ in range(4):
        evaluate(base, body)
    assert service.stop(timeout=60) == 0
    assert gone(sibling) and gone(replacement)


def refused_sign_in(base: str) -> int:
    """The console's sign-in page, then its form posted with a wrong password, each on its
    own connection: the form's CSRF token lives in the session cookie the page set."""
    page = httpx.get(f"{base}/console/sign-in", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and token, page.text
    # The cookie is Secure (koppel is behind HTTPS): copied by hand, as a browser would send it.
    cookie = f"{SESSION_COOKIE}={page.cookies[SESSION_COOKIE]}"
    form = {"csrf_token": token[1], "name": "nobody", "password": "wrong"}
    answer = httpx.post(
        f"{base}/console/sign-in", data=form, headers={"Cookie": cookie}, timeout=30
    )
    return answer.status_code


def test_a_page_session_made_by_one_process_is_good_at_the_other(api) -> None:  # type: ignore[no-untyped-def]
    # No KOPPEL_WEB_SECRET: each process drew its own cookie key, so a form served by one was
    # refused (403, "this form has expired") by the other.
    service, base, _metrics_port, _body = api
    pids = serving(service, 2)
    answers: list[int] = []

    def both_refused_a_password() -> bool:
        with ThreadPoolExecutor(8) as pool:
            answers.extend(pool.map(lambda _: refused_sign_in(base), range(8)))
        return {e["pid"] for e in events(service, "operator_action")} == set(pids)

    wait_for("sign-ins checked by both processes", both_refused_a_password, timeout=120, every=0)
    assert set(answers) == {401}, answers  # the wrong password, never the form
    assert service.stop(timeout=60) == 0


def test_the_processes_end_with_a_parent_killed_by_sigkill(api) -> None:  # type: ignore[no-untyped-def]
    service, base, _metrics_port, body = api
    pids = serving(service, 2)
    evaluate(base, body)
    service.kill()  # no chance to pass SIGTERM on: orphans went on serving the port
    wait_for("the orphaned processes to end", lambda: all(map(gone, pids)), timeout=60)


def test_a_process_that_cannot_start_stops_the_command_with_its_reason(tmp_path: Path) -> None:
    url = migrated_database("sqlite", tmp_path)
    env = {"KOPPEL_DATABASE_URL": url, "KOPPEL_API_TOKENS": f'["{TOKEN}"]'}
    env |= {"KOPPEL_LOG_FORMAT": "json", "KOPPEL_API_PROCESSES": "2"}
    with services(tmp_path) as start:
        service = start("api", ["api", "--port", str(free_port())], env)
        killed, sibling = serving(service, 2)
        Path(url.removeprefix("sqlite:///")).unlink()  # its replacement finds no database
        os.kill(killed, signal.SIGKILL)
        # Noticed by the process's end, not by a health check timing out after 30 s.
        assert service.process.wait(timeout=WORKER_HEALTHCHECK_SECONDS) == 3  # not 0 (SIGTERM)
    log = service.stderr.read_text()
    assert "error: " in log and "Traceback" not in log, log[-3000:]
    assert gone(sibling)
