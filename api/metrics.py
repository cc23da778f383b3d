"""Prometheus instruments of the API: request latency per route, and login decisions."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    # Registered now, before any request: the login routes' threads would race to register.
    app.add_middleware(TimedRequests, seconds=_instruments()[0])


class TimedRequests:
    """A plain ASGI middleware: Starlette's BaseHTTPMiddleware (``@app.middleware``) streams
    every answer through a task and a memory channel, which cost more than the timing."""

    def __init__(self, app: ASGIApp, seconds: Any) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 500  # what the server answers when the app raises before it starts an answer

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = route_template(scope)
            self.seconds.labels(route=route, method=scope["method"], status=status).observe(
                time.monotonic() - started
            )


def route_template(scope: Scope) -> str:
    """The matched route's template (``/school/link/{token}``), never the path itself: a path
    may carry a one-time link's token or a BRIN, and metrics and log lines keep neither."""
    return getattr(scope.get("route"), "path", "unmatched")


def count_login(decision: Decision) -> None:
    """Count one login decision and each policy's denials (the enforced and the shadow ones)."""
    _seconds, logins, denials = _instruments()
    logins.labels(outcome="allowed" if decision.allowed else "denied").inc()
    for denial in decision.denials:
        denials.labels(policy=denial.policy, shadow="false").inc()
    for denial in decision.shadow_denials:
        denials.labels(policy=denial.policy, shadow="true").inc()
