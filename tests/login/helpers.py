"""Helpers of the login tests: asking the API, reading what it stored, seeding refused logins."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from psycopg import pq
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from api.app import api_sessions, create_app
from core.db import make_engine
from core.login.attempt import make_attempt
from core.login.client_address import derive_client_address
from core.login.evaluate import evaluate_login
from core.login.identity import LoginIdentity, resolve_identity
from core.models import LoginDenial, Pupil, School, SchoolNetwork
from core.plugins import Plugins
from core.settings import Settings, load_settings
from tests.login.conftest import HOME, SCHOOL_NET, TOKEN, add_pupil, add_school, login_plugins


def evaluate(api: httpx.Client, body: dict) -> dict:
    response = api.post("/v1/logins/evaluate", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def denials_of(db: Session, school_id: int) -> list[LoginDenial]:
    db.expire_all()
    query = select(LoginDenial).where(LoginDenial.school_id == school_id).order_by(LoginDenial.id)
    return list(db.scalars(query))


def stored_networks(db: Session, school_id: int) -> list[tuple[str, str | None]]:
    db.expire_all()
    rows = db.scalars(select(SchoolNetwork).where(SchoolNetwork.school_id == school_id))
    return sorted((row.network, row.description) for row in rows)


def deny_logins(url: str) -> tuple[str, str, int]:
    """Two schools; a pupil of each refused from home. Returns the BRIN6s and a pupil id."""
    engine = make_engine(url)
    with Session(engine) as db:
        brins, pupil_id = [], 0
        for _ in range(2):
            school = add_school(db)
            db.add(SchoolNetwork(school_id=school.id, network=SCHOOL_NET, origin="admin"))
            pupil = add_pupil(db, school)
            identity = LoginIdentity("basispoort", school.source_ref, user_id=pupil.source_id)
            attempt = make_attempt(
                db,
                resolve_identity(db, identity),
                derive_client_address(HOME),
                datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
            )
            evaluate_login(db, attempt, login_plugins(), load_settings())
            brins.append(school.brin6)
            pupil_id = pupil.id
        db.commit()
    engine.dispose()
    return brins[0], brins[1], pupil_id


def school_with_pupil(url: str) -> tuple[School, Pupil]:
    """A consenting school with its network (SCHOOL_NET) and one pupil, in the database at url."""
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as db:
        school = add_school(db)
        db.add(SchoolNetwork(school_id=school.id, network=SCHOOL_NET, origin="admin"))
        pupil = add_pupil(db, school)
        db.commit()
    engine.dispose()
    return school, pupil


def round_trips(trace: str) -> int:
    """Messages after which the client waits for the server: Sync (extended protocol), Query."""
    messages = [line.split("\t") for line in trace.splitlines()]
    return sum(1 for m in messages if len(m) > 2 and m[0] == "F" and m[2] in ("Sync", "Query"))


@dataclass
class ApiPools:
    """The API's sessions as 'koppel api' makes them (api.app.api_sessions) and their engines:
    the rest's first, then on PostgreSQL the logins' (autocommit)."""

    sessions: Callable[[], Session]
    logins: Callable[[], Session] | None
    engines: list[Engine]

    @property
    def engine(self) -> Engine:
        """The engine to seed and read back with (the rest's)."""
        return self.engines[0]

    def app(self, settings: Settings, plugins: Plugins) -> FastAPI:
        return create_app(settings, self.sessions, plugins, autocommit_factory=self.logins)

    def dispose(self) -> None:
        for engine in self.engines:
            engine.dispose()


def api_pools(settings: Settings, **overrides: Any) -> ApiPools:
    """The pools 'koppel api' makes for ``settings``, with ``overrides`` over its engine options."""
    engines: list[Engine] = []

    def engine_on(**options: Any) -> Engine:
        engines.append(make_engine(settings.database_url, **{**options, **overrides}))
        return engines[-1]

    sessions, logins = api_sessions(settings, engine_on)
    return ApiPools(sessions, logins, engines)


def api_engine(url: str, trace: Path) -> tuple[ApiPools, list[str]]:
    """The API's pools as 'koppel api' makes them, and the list every statement they run is
    added to; on PostgreSQL libpq also writes each protocol message sent (at once) and
    received to ``trace`` (for round_trips)."""
    pools = api_pools(load_settings(api_tokens=[TOKEN], database_url=url))
    statements: list[str] = []

    def statement(_conn: Any, _cursor: Any, text: str, *_args: Any) -> None:
        statements.append(text)

    def traced(dbapi_conn: Any, _record: Any) -> None:
        with trace.open("a") as out:
            dbapi_conn.pgconn.trace(os.dup(out.fileno()))  # libpq closes its own copy
        dbapi_conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

    for engine in pools.engines:
        event.listen(engine, "before_cursor_execute", statement)
        if engine.dialect.name == "postgresql":
            event.listen(engine, "connect", traced)
    return pools, statements
