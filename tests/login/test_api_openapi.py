"""The OpenAPI description tells the truth about errors: every operation documents 401, every
school's operation 404, every operation 422, and the bodies the API really sends fit them."""

from __future__ import annotations

from typing import Any

import httpx

from tests.login.conftest import Seed

Schema = dict[str, Any]
SCHOOL_PATH = "{brin6}"
JSON = {"Content-Type": "application/json"}


def resolve(schema: Schema, spec: Schema) -> Schema:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def fits(value: Any, schema: Schema, spec: Schema) -> bool:
    """Whether ``value`` fits ``schema`` (the parts of JSON Schema the description uses)."""
    schema = resolve(schema, spec)
    if "anyOf" in schema:
        return any(fits(value, option, spec) for option in schema["anyOf"])
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return (
            isinstance(value, dict)
            and set(schema.get("required", ())) <= set(value)
            and set(value) <= set(properties)
            and all(fits(value[key], properties[key], spec) for key in value)
        )
    if kind == "array":
        return isinstance(value, list) and all(fits(v, schema["items"], spec) for v in value)
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    return checks[kind](value) if kind in checks else True


def documented(spec: Schema, method: str, path: str, status: int) -> Schema:
    responses = spec["paths"][path][method]["responses"]
    assert str(status) in responses, (method, path, status, sorted(responses))
    return responses[str(status)]["content"]["application/json"]["schema"]


def operations(spec: Schema) -> list[tuple[str, str]]:
    return [(method, path) for path, ops in spec["paths"].items() for method in ops]


def test_every_operation_documents_its_errors(api: httpx.Client):
    spec = api.get("/openapi.json").json()
    secured = [
        op for path, ops in spec["paths"].items() for op in ops.values() if op.get("security")
    ]
    assert len(secured) >= 5
    for method, path in operations(spec):
        operation = spec["paths"][path][method]
        if operation.get("security"):  # the bearer token
            assert resolve(documented(spec, method, path, 401), spec)["title"] == "UnauthorizedOut"
        if SCHOOL_PATH in path:
            assert resolve(documented(spec, method, path, 404), spec)["title"] == "ProblemOut"
        if operation.get("parameters") or operation.get("requestBody"):
            invalid = documented(spec, method, path, 422)
            titles = {resolve(s, spec)["title"] for s in invalid.get("anyOf", [invalid])}
            assert "InvalidRequestOut" in titles, (method, path)
            assert "HTTPValidationError" not in titles  # FastAPI's, with fields never sent


def test_the_error_bodies_sent_fit_the_description(api: httpx.Client, seed: Seed):
    spec = api.get("/openapi.json").json()
    unknown, bad = "99ZZ00", "not-a-brin"
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("post", "/v1/logins/evaluate", {"json": {"user_id": "\x00"}}, 422),
        ("post", "/v1/logins/evaluate", {"content": b"{not json", "headers": JSON}, 422),
        ("get", f"/v1/schools/{bad}/status", {}, 422),
        ("get", f"/v1/schools/{unknown}/status", {}, 404),
        ("post", f"/v1/schools/{unknown}/connection-check", {"params": {"source": "X"}}, 422),
        ("get", f"/v1/schools/{unknown}/networks", {}, 404),
        ("put", f"/v1/schools/{seed.school.brin6}/networks", {"json": {"networks": ["x"]}}, 422),
        ("put", f"/v1/schools/{seed.school.brin6}/networks", {"json": {"networks": 5}}, 422),
        ("put", f"/v1/schools/{unknown}/networks", {"json": {"networks": []}}, 404),
    ]
    for method, url, kwargs, status in cases:
        template = url.replace(seed.school.brin6, SCHOOL_PATH)
        template = template.replace(unknown, SCHOOL_PATH).replace(bad, SCHOOL_PATH)
        sent = api.request(method, url, **kwargs)
        assert sent.status_code == status, (method, url, sent.text)
        schema = documented(spec, method, template, status)
        assert fits(sent.json(), schema, spec), (method, url, sent.json())
        if "content" in kwargs:
            continue  # FastAPI refuses a body that is not JSON before it asks for the token
        kwargs["headers"] = {"Authorization": "Bearer nope"}
        unauthorized = api.request(method, url, **kwargs)
        assert unauthorized.status_code == 401
        assert fits(unauthorized.json(), documented(spec, method, template, 401), spec)
