"""History retention: old audit rows (logins, the console's), runs, ticks and SSO state go;
what is read stays."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from core import prune
from core.db import make_sessionmaker
from core.errors import ConfigError
from core.models import (
    HeldPlan,
    LoginDenial,
    OperatorAction,
    SamlAssertionSeen,
    SamlRequest,
    SchedulerTick,
    SyncRun,
    utcnow,
)
from core.settings import load_settings
from tests.safety.conftest import denied_login
from tests.safety.storage import stored_bytes
from tests.workers.factories import add_school
from workers.broker import broker
from workers.inprocess import drain
from workers.lifecycle import send_daily

OLD_ADDRESS = "203.0.113.219"  # only in audit rows past their 90 days
OLD_DENIALS = 30
# The OpenID Connect provider's expired sign-ins, tokens and codes (tests/oidc prunes some).
NO_OIDC = {"oidc_pending_sign_ins": 0, "oidc_tokens": 0, "oidc_codes": 0}


@pytest.fixture
def fresh_db_url(own_db_url: str) -> str:
    """The ``koppel`` fixture's database: this test's own, per backend."""
    return own_db_url


def add_history(engine: Engine, now: datetime) -> dict[str, set[int]]:
    """Rows of every kind, old and new; returns the ids that must stay, per kind."""

    def ago(days: int) -> datetime:
        return now - timedelta(days=days)

    with make_sessionmaker(engine)() as s:
        school, lone = add_school(s), add_school(s)

        def run(outcome: str, days: int, school_id: int = school.id) -> SyncRun:
            row = SyncRun(school_id=school_id, outcome=outcome, started_at=ago(days))
            s.add(row)
            s.flush()
            return row

        gone = [run("succeeded", 500), run("succeeded", 450), run("held", 465)]
        kept = [
            run("succeeded", 1),  # young
            run("failed", 480),  # the school's last failure: 'koppel status' shows it
            run("held", 460),  # the latest held run
            run("unchanged", 420),  # the latest unchanged run
            run("running", 500),  # still running, however old
            run("succeeded", 800, lone.id),  # another school's only run
        ]
        referenced = run("held", 470)
        s.add(HeldPlan(school_id=school.id, run_id=referenced.id, plan_hash="x"))
        kept.append(referenced)
        # Old and young rows side by side in the same pages, as a real audit has them.
        old, young = [], []
        for n in range(OLD_DENIALS):
            old.append(denied_login(school.id, None, OLD_ADDRESS))
            old[-1].at = ago((91, 100, 365)[n % 3])
            young.append(denied_login(school.id, None, "192.0.2.1"))
            young[-1].at = ago(10)
        ticks = [
            SchedulerTick(job="nightly", tick=f"t{days}", claimed_by="s", claimed_at=ago(days))
            for days in (40, 31, 1)
        ]
        s.add_all([row for pair in zip(old, young, strict=True) for row in pair])
        s.add_all(ticks)
        # The console's audit: a year by default.
        actions = [
            OperatorAction(at=ago(days), operator="anna", action="approve", outcome="done")
            for days in (400, 366, 364, 1)
        ]
        s.add_all(actions)
        # Single sign-on state: gone once expired, whatever the retention settings.
        requests = [
            SamlRequest(
                idp="basispoort", request_id=f"_r{n}", expires_at=now + timedelta(minutes=m)
            )
            for n, m in enumerate((-60, -1, 5))
        ]
        seen = [
            SamlAssertionSeen(
                idp="entree", assertion_id=f"_a{n}", expires_at=now + timedelta(minutes=m)
            )
            for n, m in enumerate((-3, 3))
        ]
        s.add_all(requests + seen)
        s.commit()
        assert len(gone) == 3
        return {
            "sync_runs": {r.id for r in kept},
            "login_denials": {row.id for row in young},
            "scheduler_ticks": {ticks[-1].id},
            "operator_actions": {actions[-2].id, actions[-1].id},
            "saml_requests": {requests[-1].id},
            "saml_assertions": {seen[-1].id},
        }


def stored_ids(engine: Engine) -> dict[str, set[int]]:
    with make_sessionmaker(engine)() as s:
        return {
            "sync_runs": set(s.scalars(select(SyncRun.id))),
            "login_denials": set(s.scalars(select(LoginDenial.id))),
            "scheduler_ticks": set(s.scalars(select(SchedulerTick.id))),
            "operator_actions": set(s.scalars(select(OperatorAction.id))),
            "saml_requests": set(s.scalars(select(SamlRequest.id))),
            "saml_assertions": set(s.scalars(select(SamlAssertionSeen.id))),
        }


def test_koppel_prune_deletes_past_retention_in_batches_and_keeps_what_is_read(
    koppel, own_engine, monkeypatch
):
    monkeypatch.setattr(prune, "BATCH", 2)  # three runs to go: two batches
    kept = add_history(own_engine, utcnow())

    code, out = koppel("prune", "--dry-run", "--json")
    assert code == 0, out
    expected = {
        "login_denials": OLD_DENIALS,
        "sync_runs": 3,
        "scheduler_ticks": 2,
        "operator_actions": 2,
        "saml_requests": 2,
        "saml_assertions": 1,
        **NO_OIDC,
    }
    assert json.loads(out) == {"dry_run": True, "deleted": expected}
    assert all(len(ids) > len(kept[kind]) for kind, ids in stored_ids(own_engine).items())

    code, out = koppel("prune")

    assert code == 0, out
    assert f"deleted {OLD_DENIALS} login denials, 3 sync runs, 2 scheduler ticks, 2 operator" in out
    assert stored_ids(own_engine) == kept
    if own_engine.dialect.name == "sqlite":
        # Zeroed (secure_delete) and checkpointed out of the WAL. PostgreSQL
        # keeps deleted rows until autovacuum reuses their space (docs/privacy.md).
        assert OLD_ADDRESS.encode() not in stored_bytes(own_engine)
    assert json.loads(koppel("prune", "--json")[1])["deleted"] == dict.fromkeys(expected, 0)


def test_the_retention_settings_decide_the_ages(koppel, own_engine, monkeypatch):
    kept = add_history(own_engine, utcnow())
    monkeypatch.setenv("KOPPEL_LOGIN_AUDIT_RETENTION_DAYS", "366")
    monkeypatch.setenv("KOPPEL_SCHEDULER_TICK_RETENTION_DAYS", "35")
    monkeypatch.setenv("KOPPEL_OPERATOR_AUDIT_RETENTION_DAYS", "380")

    out = koppel("prune", "--json")[1]

    assert json.loads(out)["deleted"] == {
        "login_denials": 0,
        "sync_runs": 3,
        "scheduler_ticks": 1,
        "operator_actions": 1,
        "saml_requests": 2,
        "saml_assertions": 1,
        **NO_OIDC,
    }
    assert len(stored_ids(own_engine)["login_denials"]) == 2 * OLD_DENIALS
    assert len(stored_ids(own_engine)["scheduler_ticks"]) == len(kept["scheduler_ticks"]) + 1
    assert len(stored_ids(own_engine)["operator_actions"]) == len(kept["operator_actions"]) + 1


def test_a_sync_run_retention_inside_the_safety_window_is_refused():
    # The safety check adds up the window's runs: pruning them would loosen it.
    with pytest.raises(ConfigError) as refused:
        load_settings(sync_run_retention_days=30, safety_window_days=30)
    assert "KOPPEL_SYNC_RUN_RETENTION_DAYS: " in str(refused.value)
    assert "must be longer than KOPPEL_SAFETY_WINDOW_DAYS (30)" in str(refused.value)


def test_the_nightly_lifecycle_prunes_history_through_the_workers(own_worker, own_engine):
    kept = add_history(own_engine, utcnow())

    send_daily(date.today())  # what the scheduler sends at the start of each night
    drain()

    assert stored_ids(own_engine) == kept
    assert not broker.dead_letters
