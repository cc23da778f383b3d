"""The API's error bodies: sent as described here, and documented in the OpenAPI description."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

LOC_PART_MAX = 100
MSG_MAX = 500


class ProblemOut(BaseModel):
    """One of koppel's own errors: what is wrong and what to do."""

    detail: str
    hint: str | None
    error: str = Field(description="The kind of error, e.g. SchoolNotFound or InvalidNetwork.")
    entries: list[str] | None = Field(
        default=None, description="InvalidNetwork only: every entry that was refused."
    )


class UnauthorizedOut(BaseModel):
    """No bearer token, or one that is not configured (with a WWW-Authenticate challenge)."""

    detail: str


class FieldProblemOut(BaseModel):
    loc: list[str | int] = Field(description="Where: e.g. ['body', 'user_id'].")
    msg: str = Field(description="What is wrong with it.")
    type: str = Field(description="A stable code for the kind of problem, e.g. 'string_too_long'.")


class InvalidRequestOut(BaseModel):
    """The request does not fit the description: one entry per problem. The input itself is
    not echoed back."""

    detail: list[FieldProblemOut]


# The error answers of every route (the OpenAPI description), and those of a school's routes.
RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": UnauthorizedOut, "description": "Missing or unknown bearer token."},
    422: {"model": InvalidRequestOut, "description": "The request does not fit: each problem."},
}
SCHOOL_RESPONSES: dict[int | str, dict[str, Any]] = {
    **RESPONSES,
    404: {
        "model": ProblemOut,
        "description": "No such school is linked, or the token is not for this school.",
    },
    422: {
        "model": InvalidRequestOut | ProblemOut,
        "description": "The request does not fit (InvalidRequestOut: each problem), or koppel "
        "refuses a value in it (ProblemOut: a BRIN6, or networks, naming each entry).",
    },
}


async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming each problem, without the input: it may be personal data, and may not even
    be encodable (a lone surrogate), which would turn a 422 into a 500."""
    problems = [
        FieldProblemOut(
            loc=[_printable(part, LOC_PART_MAX) for part in error.get("loc", ())],
            msg=_printable(error.get("msg", ""), MSG_MAX),
            type=_printable(error.get("type", ""), LOC_PART_MAX),
        ).model_dump()
        for error in exc.errors()
    ]
    return JSONResponse({"detail": problems}, status_code=422)


def _printable(part: object, limit: int) -> Any:
    if isinstance(part, int):
        return part
    return str(part).encode("utf-8", "backslashreplace").decode("utf-8")[:limit]
