"""A PostgreSQL restart under a full login: each of its three requests is answered, never a 500.

The API checks a pooled connection only after it sat idle, so a connection a restart closed is
met by a request's first statement; the assertion consumer, /oidc/authorize and /oidc/token
each answer again on a new connection (as the evaluate API does: tests/login/test_api_restart).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from structlog.testing import capture_logs

from core import migrate
from core.settings import load_settings
from tests.conftest import fresh_database_url
from tests.login.conftest import TOKEN
from tests.login.helpers import api_pools
from tests.sso.full_login import own_engine

pytestmark = pytest.mark.postgres


def test_a_database_restart_before_each_request_of_a_full_login_fails_none(
    private_postgres: Any,
    idp: Any,
    tmp_path: Path,
) -> None:
    url = fresh_database_url("postgres", tmp_path)
    settings = load_settings(api_tokens=[TOKEN], database_url=url)
    # Idle checks off (they would hide a restart slower than their interval): what is tested
    # is a closed connection met in busy use.
    pools = api_pools(settings, ping_after_idle=3600)
    migrate.upgrade(pools.engine)

    def restart() -> None:
        private_postgres.stop_postgres("fast")
        private_postgres.start_postgres()

    try:
        with own_engine(url, idp, pools) as koppel:
            koppel.full_login(idp)  # the pool now holds connections the restarts will close
            with capture_logs() as logs:
                id_token = koppel.full_login(idp, before_each=restart)
            keys = KeySet.import_key_set(koppel.browser.get("/oidc/jwks").json())
        claims = jwt.decode(id_token, keys).claims
        assert claims["person_kind"] == "staff" and claims["person_id"] == koppel.teacher.id
        retried = [e for e in logs if e["event"] == "database_connection_lost_retrying"]
        assert len(retried) == 3  # the assertion consumer, /oidc/authorize, /oidc/token
    finally:
        pools.dispose()
