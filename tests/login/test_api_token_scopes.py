"""A token for some schools sees only those: other schools' networks, status and logins answer
exactly as a school that does not exist, so the token learns nothing about them."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.orm import Session

from tests.login.conftest import HOME, INSIDE, TOKEN, MakeApi, Seed, login_body
from tests.login.helpers import denials_of, evaluate, stored_networks

SCOPED = "scoped-token-0123456789abcdef"
NEVER_LINKED = "99ZZ00"
ALL_SCHOOLS = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def scoped(make_api: MakeApi, seed: Seed) -> httpx.Client:
    """The API with an all-schools token (TOKEN) and SCOPED, a token for seed.school only."""
    tokens = [TOKEN, {"token": SCOPED, "schools": [seed.school.brin6.lower()]}]
    client = make_api(api_tokens=tokens)
    client.headers["Authorization"] = f"Bearer {SCOPED}"
    return client


def test_a_scoped_token_works_for_its_own_school(scoped: httpx.Client, seed: Seed):
    brin6 = seed.school.brin6
    assert scoped.get(f"/v1/schools/{brin6}/status").status_code == 200
    assert scoped.get(f"/v1/schools/{brin6.lower()}/networks").status_code == 200
    put = scoped.put(f"/v1/schools/{brin6}/networks", json={"networks": ["192.0.2.0/25"]})
    assert put.status_code == 200, put.text
    assert evaluate(scoped, login_body(seed.school, seed.pupil, INSIDE))["allowed"] is True


def test_other_schools_answer_as_if_they_did_not_exist(
    scoped: httpx.Client, seed: Seed, db: Session
):
    other = seed.bare_school.brin6  # linked, but not this token's
    requests = [
        ("GET", "/v1/schools/{}/status", None),
        ("GET", "/v1/schools/{}/networks", None),
        ("PUT", "/v1/schools/{}/networks", {"networks": ["203.0.113.0/24"]}),
        ("POST", "/v1/schools/{}/connection-check", None),
    ]
    for method, path, body in requests:
        response = scoped.request(method, path.format(other), json=body)
        unknown = scoped.request(method, path.format(NEVER_LINKED), json=body)
        assert response.status_code == 404, (method, path, response.text)
        # Word for word what a school that is not there gets, but for the code asked about.
        assert response.json() == {
            **unknown.json(),
            "detail": unknown.json()["detail"].replace(NEVER_LINKED, other),
        }
        assert "token" in response.json()["hint"]
    assert stored_networks(db, seed.bare_school.id) == []  # the PUT changed nothing


def test_a_login_at_another_school_is_a_school_that_is_not_linked(
    scoped: httpx.Client, seed: Seed, db: Session
):
    other = evaluate(scoped, login_body(seed.bare_school, seed.bare_pupil, INSIDE))
    unknown = evaluate(
        scoped, login_body(seed.bare_school, seed.bare_pupil, INSIDE, school_ref="ref-never")
    )
    assert other == unknown
    assert other["allowed"] is False and other["school"] is None and other["person"] is None
    assert [d["policy"] for d in other["denials"]] == ["core:school_unknown"]
    assert denials_of(db, seed.bare_school.id) == []  # nothing recorded against that school
    # The all-schools token still judges the same login in full.
    full = scoped.post(
        "/v1/logins/evaluate",
        json=login_body(seed.bare_school, seed.bare_pupil, HOME),
        headers=ALL_SCHOOLS,
    ).json()
    assert full["school"] == {"brin6": seed.bare_school.brin6}
    assert [d["policy"] for d in full["denials"]] == ["ip_restriction"]


def test_a_plain_token_is_for_all_schools(scoped: httpx.Client, seed: Seed):
    for school in (seed.school, seed.bare_school, seed.closed_school):
        response = scoped.get(f"/v1/schools/{school.brin6}/networks", headers=ALL_SCHOOLS)
        assert response.status_code == 200, response.text
