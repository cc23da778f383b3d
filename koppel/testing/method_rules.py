"""The rules a login method's own members keep: typed members, safe answers, read only, quiet."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from core.errors import ConfigError
from core.saml.method import AssertedIdentity
from koppel.testing import assertions
from koppel.testing.capture import capturing
from koppel.testing.rules import ContractFailure, LoginMethodRule, require

# One segment of koppel's addresses (/sso/{name}/acs) as it is, no escaping: RFC 3986's
# unreserved characters, starting with a letter or digit (so never "." or "..").
PATH_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]*")
_WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)


def members(method: Any) -> None:
    rule = LoginMethodRule.MEMBERS
    name = getattr(method, "name", None)
    require(
        isinstance(name, str) and PATH_SAFE.fullmatch(name),
        rule,
        f"name is {_shown(name)}, not path-safe text",
    )
    source = getattr(method, "source", None)
    require(isinstance(source, str) and source, rule, f"source is {_shown(source)}, not text")
    unsolicited = getattr(method, "unsolicited", None)
    require(isinstance(unsolicited, bool), rule, f"unsolicited is {_shown(unsolicited)}")
    require(callable(getattr(method, "identity", None)), rule, "identity is not a method")
    _answers(method, "metadata", (str, type(None)), "a file path, an http(s) URL or None")
    if hasattr(method, "metadata_signer"):
        _answers(method, "metadata_signer", (Path, type(None)), "a Path or None")
    if hasattr(method, "sign_requests"):
        signs = method.sign_requests
        require(isinstance(signs, bool), rule, f"sign_requests is {_shown(signs)}, not a bool")
    assertions.example_of(method, assertions.base_roster().person("staff0"))


def _answers(method: Any, member: str, types: tuple[type, ...], expected: str) -> None:
    rule = LoginMethodRule.MEMBERS
    call = getattr(method, member, None)
    require(callable(call), rule, f"{member} is not a method")
    try:
        answer = call()
    except ConfigError:
        return  # koppel's own answer to a setting that is wrong: shown with the setting to fix
    except Exception as exc:
        raise ContractFailure(rule, f"{member}() raised {type(exc).__name__}") from exc
    require(isinstance(answer, types), rule, f"{member}() returned {_shown(answer)}: {expected}")


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, bool | None) else type(value).__name__


def read(method: Any, case: str, asserted: Any) -> AssertedIdentity | None:
    """identity() of one assertion; ContractFailure (ANSWERS) when it raises."""
    try:
        return method.identity(asserted)  # type: ignore[no-any-return]
    except Exception as exc:
        raise ContractFailure(
            LoginMethodRule.ANSWERS, f"identity raised {type(exc).__name__} for {case}"
        ) from exc


def answers(method: Any) -> None:
    rule = LoginMethodRule.ANSWERS
    for case, asserted in assertions.spread(method):
        answer = read(method, case, asserted)
        if answer is None:
            continue
        require(
            isinstance(answer, AssertedIdentity),
            rule,
            f"identity returned {type(answer).__name__} for {case}: an AssertedIdentity or None",
        )
        for part in fields(AssertedIdentity):
            value = getattr(answer, part.name)
            require(
                value is None or (isinstance(value, str) and value.strip()),
                rule,
                f"identity's {part.name} is {_shown(value)} for {case}: non-empty text or None",
            )
        require(
            (answer.school_ref or answer.school_id or answer.brin)
            and (answer.user_id or answer.eckid),
            rule,
            f"identity's answer for {case} lacks the school or the person: return None instead",
        )


def brin(method: Any) -> None:
    for case, answer in _answered(method):
        found = getattr(answer, "brin", None)
        require(
            found is None or (isinstance(found, str) and len(found) in (4, 6)),
            LoginMethodRule.BRIN,
            f"identity's brin for {case} has {len(str(found))} characters, not 4 or 6",
        )


def _answered(method: Any) -> Iterator[tuple[str, Any]]:
    """Each case's answer; cases the method raises on are another rule's business."""
    for case, asserted in assertions.spread(method):
        try:
            yield case, method.identity(asserted)
        except Exception:  # noqa: S112
            continue


def read_only(method: Any) -> None:
    with _statements() as seen:
        answered = list(_answered(method))
    writes = [s.split(None, 1)[0].upper() for s in seen if _WRITES.match(s)]
    require(
        not writes,
        LoginMethodRule.READ_ONLY,
        f"identity wrote to a database {len(writes)} times ({', '.join(sorted(set(writes)))}) "
        f"while reading {len(answered)} assertions",
    )


@contextmanager
def _statements() -> Iterator[list[str]]:
    """Every SQL statement any SQLAlchemy engine in the process runs meanwhile."""
    seen: list[str] = []

    def heard(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", heard)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", heard)


def privacy(method: Any) -> None:
    rule = LoginMethodRule.PRIVACY
    with capturing() as said:
        for case, asserted in assertions.spread(method):
            try:
                method.identity(asserted)
            except Exception as exc:
                said.exceptions.append(exc)
                said.lines.append(f"identity raised for {case}")
    leaks = said.leaks(assertions.personal_data())
    require(
        not leaks,
        rule,
        f"personal data from the assertion (a name, ECK iD or e-mail) showed in {len(leaks)} "
        f"places: {'; '.join(leaks[:5])}",
    )
