"""Hostile and odd input to the API: a clear 422 for what cannot be stored, never a 500; an odd
login that is acceptable is judged and audited; the caller cannot choose the time or the header
order."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from tests.login.conftest import (
    HOME,
    HOME_V6,
    INSIDE,
    INSIDE_V6,
    PROXY_NET,
    SCHOOL_NET,
    MakeApi,
    Seed,
    add_staff,
    login_body,
)
from tests.login.helpers import denials_of, evaluate, stored_networks

LONE_SURROGATE = "\ud800"
NUL = "\x00"


def post_raw(api: httpx.Client, method: str, path: str, body: Any) -> httpx.Response:
    """Send ``body`` as JSON with \\u escapes, as any client may (a lone surrogate included)."""
    content = json.dumps(body, ensure_ascii=True)
    return api.request(method, path, content=content, headers={"Content-Type": "application/json"})


def login_cases(seed: Seed, bad: str) -> list[tuple[str, dict[str, Any], list[str | int]]]:
    """(case, evaluate body, where the 422 must point) with ``bad`` in each string field."""
    base = login_body(seed.school, seed.pupil, INSIDE)
    cases: list[tuple[str, dict[str, Any], list[str | int]]] = []
    for field in ("school_ref", "school_id", "user_id", "eckid", "peer_address"):
        cases.append((field, {**base, field: f"12{bad}34"}, ["body", field]))
    cases.append(
        (
            "header value",
            {**base, "headers": {"x-forwarded-for": f"{INSIDE}{bad}"}},
            ["body", "headers", "x-forwarded-for", 0],
        )
    )
    cases.append(
        (
            "header list value",
            {**base, "headers": {"x-forwarded-for": [INSIDE, f"{HOME}{bad}"]}},
            ["body", "headers", "x-forwarded-for", 1],
        )
    )
    return cases


def network_cases(bad: str) -> list[tuple[str, dict[str, Any], list[str | int]]]:
    return [
        (
            "description",
            {"networks": [{"network": SCHOOL_NET, "description": f"lokaal{bad}12"}]},
            ["body", "networks", 0],
        ),
        ("network", {"networks": [{"network": f"192.0.2.0/24{bad}"}]}, ["body", "networks", 0]),
        ("plain entry", {"networks": [SCHOOL_NET, f"{bad}"]}, ["body", "networks", 1]),
    ]


def assert_refused(response: httpx.Response, case: str, where: list[str | int], says: str) -> None:
    assert response.status_code == 422, (case, response.status_code, response.text)
    problems = response.json()["detail"]
    assert any(p["loc"][: len(where)] == where and says in p["msg"] for p in problems), (
        case,
        problems,
    )
    assert '"input"' not in response.text, "the input itself is not echoed back"


# PostgreSQL cannot store NUL in text, and no database a lone surrogate: both were a 500 (and
# the login went unaudited); the 422 that names them must not break on them either.
@pytest.mark.parametrize(("bad", "says"), [(LONE_SURROGATE, "nicode"), (NUL, "NUL")])
def test_text_that_cannot_be_stored_is_a_422_naming_the_field(
    api: httpx.Client, seed: Seed, db: Session, bad: str, says: str
):
    for case, body, where in login_cases(seed, bad):
        response = post_raw(api, "POST", "/v1/logins/evaluate", body)
        assert_refused(response, case, where, says)
    before = stored_networks(db, seed.school.id)
    path = f"/v1/schools/{seed.school.brin6}/networks"
    for case, body, where in network_cases(bad):
        assert_refused(post_raw(api, "PUT", path, body), case, where, says)
    response = post_raw(api, "POST", "/v1/logins/evaluate", {f"x{bad}": 1})  # in a key
    assert response.status_code == 422 and response.json()["detail"]
    assert stored_networks(db, seed.school.id) == before
    assert denials_of(db, seed.school.id) == []


def test_a_denied_login_with_a_long_ipv6_zone_id_is_answered_and_audited(
    api: httpx.Client, seed: Seed, db: Session
):
    zone = "%" + "z" * 70  # longer than the audit column on its own
    result = evaluate(api, login_body(seed.school, seed.pupil, f"[{HOME_V6}{zone}]:443"))
    assert result["allowed"] is False and result["client_address"] == HOME_V6
    [row] = denials_of(db, seed.school.id)
    assert (row.policy, row.client_address) == ("ip_restriction", HOME_V6)
    # The zone names an interface of whoever wrote the address, so it changes no decision.
    result = evaluate(api, login_body(seed.school, seed.pupil, f"{INSIDE_V6}{zone}"))
    assert result["allowed"] is True and result["client_address"] == INSIDE_V6


def test_odd_but_acceptable_input_is_judged_and_audited(api: httpx.Client, seed: Seed, db: Session):
    odd = [
        login_body(seed.school, None, HOME, user_id="Jür🙂gen\t" + "9" * 50),
        login_body(seed.school, seed.pupil, "not an address, but printable ✓"),
        login_body(seed.school, seed.pupil, HOME, headers={"x-weird-ünïcode": "x\x01y"}),
    ]
    for body in odd:
        result = evaluate(api, body)
        assert result["allowed"] is False, body
    rows = denials_of(db, seed.school.id)
    assert [r.policy for r in rows] == ["core:person_unknown", "ip_restriction", "ip_restriction"]
    assert rows[1].client_address == "not an address, but printable "  # printable ASCII only


# --- the time of a login comes from the server's clock, give or take five minutes -----------


def test_a_login_cannot_be_moved_to_another_day(api: httpx.Client, seed: Seed, db: Session):
    # Ended yesterday: today the teacher is refused; with at=2026-01-01 they were let in.
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    ended = add_staff(db, seed.school, end_date=yesterday)
    db.commit()
    assert evaluate(api, login_body(seed.school, ended, HOME))["allowed"] is False
    now = datetime.now(UTC)
    far = [
        "2026-01-01T09:00:00+01:00",
        (now + timedelta(minutes=6)).isoformat(),
        (now - timedelta(minutes=6)).isoformat(),
        "9999-12-31T23:59:59-01:00",  # not representable in UTC: was a 500
        "0001-01-01T00:00:00+01:00",
    ]
    for at in far:
        response = api.post("/v1/logins/evaluate", json=login_body(seed.school, ended, HOME, at=at))
        assert response.status_code == 422, (at, response.text)
        [problem] = response.json()["detail"]
        assert problem["loc"] == ["body", "at"], at
        assert "within 5 minutes of the server's clock" in problem["msg"], at


def test_an_at_near_the_server_clock_is_the_time_of_the_login_and_of_its_audit(
    api: httpx.Client, seed: Seed, db: Session
):
    at = (datetime.now(UTC) - timedelta(minutes=4)).replace(microsecond=0)
    result = evaluate(api, login_body(seed.school, seed.pupil, HOME, at=at.isoformat()))
    assert result["allowed"] is False
    [row] = denials_of(db, seed.school.id)
    assert row.at == at


# --- duplicate header names ----------------------------------------------------------------


def test_a_forwarding_header_given_twice_in_different_case_is_refused(
    make_api: MakeApi, seed: Seed, db: Session
):
    api = make_api(trusted_proxies=[PROXY_NET])
    # Our proxy wrote the pupil's real address; a forged line claims the school's. Joined in
    # JSON key order the forged one came last and was taken as the client: let in from home.
    forged = [
        {"X-Forwarded-For": HOME, "x-forwarded-for": INSIDE},
        {"x-forwarded-for": [HOME], " X-FORWARDED-FOR": INSIDE},
    ]
    for headers in forged:
        body = login_body(seed.school, seed.pupil, "10.0.0.2", headers=headers)
        response = api.post("/v1/logins/evaluate", json=body)
        assert response.status_code == 422, (headers, response.text)
        [problem] = response.json()["detail"]
        assert problem["loc"] == ["body", "headers"]
        assert "'x-forwarded-for' is given 2 times" in problem["msg"]
        assert "as a list in the order received" in problem["msg"]
    headers = {"Forwarded": f"for={HOME}", "forwarded": f"for={INSIDE}"}
    api = make_api(trusted_proxies=[PROXY_NET], proxy_header="forwarded")
    body = login_body(seed.school, seed.pupil, "10.0.0.2", headers=headers)
    assert api.post("/v1/logins/evaluate", json=body).status_code == 422
    # Several lines of one header, in the order received, are one list: the last hop counts.
    headers = {"x-forwarded-for": [INSIDE, HOME], "Accept": "a", "accept": "b"}
    body = login_body(seed.school, seed.pupil, "10.0.0.2", headers=headers)
    result = make_api(trusted_proxies=[PROXY_NET]).post("/v1/logins/evaluate", json=body).json()
    assert result["allowed"] is False and result["client_address"] == HOME
