"""Every endpoint needs a configured bearer token; bad input gets a 4xx that says what is wrong."""

from __future__ import annotations

import httpx
import pytest

from api.app import create_app
from core.errors import ConfigError
from core.settings import load_settings
from tests.login.conftest import INSIDE, TOKEN, Seed, login_body

ENDPOINTS = [
    ("POST", "/v1/logins/evaluate"),
    ("GET", "/v1/schools/12AB00/status"),
    ("POST", "/v1/schools/12AB00/connection-check"),
    ("GET", "/v1/schools/12AB00/networks"),
    ("PUT", "/v1/schools/12AB00/networks"),
    ("GET", "/openapi.json"),
]


BAD_AUTHORIZATION = [
    "",
    "Basic dXNlcjpwYXNz",
    "Bearer",
    "Bearer wrong-token-0123456789",
    f"Bearer {TOKEN}x",
    f"Bearer {TOKEN[:-1]}",
    f"Bearer  {TOKEN} extra",
]


def test_no_token_or_a_wrong_one_is_401_everywhere(api: httpx.Client):
    # One server for every case keeps this fast; each failure names its case.
    for method, path in ENDPOINTS:
        for authorization in BAD_AUTHORIZATION:
            response = api.request(method, path, headers={"Authorization": authorization}, json={})
            case = (method, path, authorization)
            assert response.status_code == 401, (case, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer"), case
            assert "KOPPEL_API_TOKENS" in response.json()["detail"], case


def test_any_configured_token_works_and_the_openapi_description_needs_one(make_api, seed: Seed):
    other = "second-token-abcdefghijklmnop"
    api = make_api(api_tokens=[TOKEN, other])
    body = login_body(seed.school, seed.pupil, INSIDE)
    for token in (TOKEN, other):
        response = api.post(
            "/v1/logins/evaluate", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200
    spec = api.get("/openapi.json").json()
    assert {"/v1/logins/evaluate", "/v1/schools/{brin6}/networks"} <= set(spec["paths"])
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert api.get("/docs").status_code == 404  # no page that would need an unsent token


def test_no_token_configured_refuses_to_build_the_app():
    with pytest.raises(ConfigError, match="KOPPEL_API_TOKENS"):
        create_app(load_settings(api_tokens=[]), session_factory=lambda: None)  # type: ignore[arg-type,return-value]


BAD_INPUT = [
    ({"user_id": None}, "give the user: user_id or eckid"),
    ({"school_ref": None}, "give the school: school_ref (instellingRef) or school_id"),
    ({"peer_address": None}, "peer_address"),
    ({"at": "2026-12-01T10:00:00"}, "timezone"),
    ({"at": "yesterday"}, "datetime"),
    ({"schoolRef": "x"}, "schoolRef"),
    ({"source": "Basis poort"}, "source"),
    ({"user_id": ""}, "user_id"),
    ({"headers": {"x-forwarded-for": "1" * 9000}}, "longer than 8192"),
    ({"headers": {"x-forwarded-for": {"for": "1.2.3.4"}}}, "x-forwarded-for"),
]


def test_bad_evaluate_input_is_422_and_says_what(api: httpx.Client, seed: Seed):
    for change, says in BAD_INPUT:
        body = login_body(seed.school, seed.pupil, INSIDE)
        body.update(change)
        body = {k: v for k, v in body.items() if v is not None}
        response = api.post("/v1/logins/evaluate", json=body)
        assert response.status_code == 422, change
        assert says in response.text, (change, response.text)


def test_not_json_is_a_4xx(api: httpx.Client):
    response = api.post(
        "/v1/logins/evaluate", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
