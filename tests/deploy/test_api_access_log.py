"""'koppel api' logs one line per login (login_evaluated); uvicorn's access log only when asked."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.cli_process import http_ok
from tests.deploy.processes import free_port, services, wait_for
from tests.login.conftest import TOKEN


@pytest.mark.parametrize("access_log", ["", "true"])
def test_the_access_log_is_written_only_when_asked(
    fresh_db_url: str, tmp_path: Path, access_log: str
) -> None:
    port = free_port()
    env = {"KOPPEL_DATABASE_URL": fresh_db_url, "KOPPEL_API_TOKENS": f'["{TOKEN}"]'}
    if access_log:
        env["KOPPEL_API_ACCESS_LOG"] = access_log
    base = f"http://127.0.0.1:{port}"
    with services(tmp_path) as start:
        api = start("api", ["api", "--port", str(port)], env)
        wait_for("the API", lambda: http_ok(f"{base}/health"), timeout=60)
        body = {"school_ref": "ref-none", "user_id": "1", "peer_address": "192.0.2.1"}
        answer = httpx.post(
            f"{base}/v1/logins/evaluate",
            json=body,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert answer.status_code == 200 and answer.json()["allowed"] is False
        api.stop()
    log = api.stderr.read_text()
    assert log.count('"login_evaluated"') == 1
    assert ('"uvicorn.access"' in log) is bool(access_log)
