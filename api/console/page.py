"""A console page: the template with the signed-in operator, the notice of the last action."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from api.console.session import SignedInOperator, take_notice
from api.web.render import render


def page(
    request: Request,
    operator: SignedInOperator,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    full = {"operator": operator, "notice": take_notice(request), **(context or {})}
    return render(request, template, full, status_code=status_code)
