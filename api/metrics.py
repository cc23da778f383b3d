"""Prometheus instruments of the API: request latency per route, and login decisions."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

from fastapi import FastAPI, Request, Response

from core.login.decision import Decision


@cache
def _instruments() -> tuple[Any, Any, Any]:
    # Once per process: a second app (tests) must not register the same names again.
    from prometheus_client import Counter, Histogram

    seconds = Histogram(
        "koppel_api_request_seconds",
        "Time to answer a request, by route, method and status.",
        ["route", "method", "status"],
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    )
    logins = Counter("koppel_login_decisions", "Login decisions, by outcome.", ["outcome"])
    denials = Counter(
        "koppel_login_denials",
        "Denials by login policy; shadow: recorded only, not enforced.",
        ["policy", "shadow"],
    )
    return seconds, logins, denials


def install_metrics(app: FastAPI) -> None:
    """Time every request; the route's template, not its path, keeps the label set small."""
    seconds = _instruments()[0]

    @app.middleware("http")
    async def timed(request: Request, call_next: Callable[[Request], Awaitable[Response]]):  # type: ignore[no-untyped-def]
        started = time.monotonic()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        seconds.labels(route=route, method=request.method, status=response.status_code).observe(
            time.monotonic() - started
        )
        return response


def count_login(decision: Decision) -> None:
    """Count one login decision and each policy's denials (the enforced and the shadow ones)."""
    _seconds, logins, denials = _instruments()
    logins.labels(outcome="allowed" if decision.allowed else "denied").inc()
    for denial in decision.denials:
        denials.labels(policy=denial.policy, shadow="false").inc()
    for denial in decision.shadow_denials:
        denials.labels(policy=denial.policy, shadow="true").inc()
