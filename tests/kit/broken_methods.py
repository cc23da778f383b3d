"""Login methods that each break one of the kit's rules, the way real ones go wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import create_engine, text

from koppel.plugin import Asserted, AssertedIdentity
from koppel.testing import LoginMethodRule

log = structlog.get_logger()


class BoardLogin:
    """A school board's identity provider, read carefully: keeps every rule."""

    name = "board"
    source = "kit"
    unsolicited = False

    def metadata(self) -> str | None:
        return None

    def identity(self, asserted: Asserted) -> AssertedIdentity | None:
        brin = asserted.first("brin")
        user = asserted.first("employeeNumber") or asserted.name_id
        if brin is None or len(brin) not in (4, 6) or user is None:
            return None
        return AssertedIdentity(brin=brin.upper(), user_id=user)

    def example_assertion(self, who: AssertedIdentity) -> Asserted:
        attributes = {"brin": (who.brin or "",), "employeeNumber": (who.user_id or "",)}
        return Asserted(self.name, None, attributes)


class WithoutExample(BoardLogin):
    """Keeps every rule, but cannot tell the kit what its identity provider asserts."""

    example_assertion = None  # type: ignore[assignment]


class SlashInTheName(BoardLogin):
    name = "board/idp"  # /sso/board/idp/acs is no address koppel serves


class ReadsBlindly(BoardLogin):
    """Takes the first value of the attribute as if it were always there."""

    def identity(self, asserted: Asserted) -> AssertedIdentity | None:
        return AssertedIdentity(brin=asserted.attributes["brin"][0][:4], user_id="u")


class TakesAnyBrin(BoardLogin):
    """Whatever the brin attribute says is the BRIN (the docs' first BoardLogin did this)."""

    def identity(self, asserted: Asserted) -> AssertedIdentity | None:
        brin = asserted.first("brin")
        user = asserted.first("employeeNumber") or asserted.name_id
        if brin is None or user is None:
            return None
        return AssertedIdentity(brin=brin, user_id=user)


class RemembersSignIns(BoardLogin):
    """Keeps its own record of each sign-in it reads."""

    def __init__(self) -> None:
        self.engine = create_engine("sqlite://")

    def identity(self, asserted: Asserted) -> AssertedIdentity | None:
        with self.engine.begin() as connection:
            connection.execute(text("CREATE TABLE IF NOT EXISTS seen (idp TEXT)"))
            connection.execute(text("INSERT INTO seen VALUES (:idp)"), {"idp": asserted.idp})
        return super().identity(asserted)


class LogsTheAssertion(BoardLogin):
    """Logs what it was given, to debug a sign-in: names and e-mail included."""

    def identity(self, asserted: Asserted) -> AssertedIdentity | None:
        log.info("board_assertion", attributes=dict(asserted.attributes))
        return super().identity(asserted)


class ExampleOfAnotherName(BoardLogin):
    """Its example says employeeId, its reading employeeNumber: nobody koppel knows signs in."""

    def example_assertion(self, who: AssertedIdentity) -> Asserted:
        attributes = {"brin": (who.brin or "",), "employeeId": (who.user_id or "",)}
        return Asserted(self.name, None, attributes)


BROKEN: dict[LoginMethodRule, type[BoardLogin]] = {
    LoginMethodRule.MEMBERS: SlashInTheName,
    LoginMethodRule.ANSWERS: ReadsBlindly,
    LoginMethodRule.BRIN: TakesAnyBrin,
    LoginMethodRule.READ_ONLY: RemembersSignIns,
    LoginMethodRule.PRIVACY: LogsTheAssertion,
    LoginMethodRule.SIGNS_IN: ExampleOfAnotherName,
}


def _answers(answer: Any) -> type[BoardLogin]:
    class Answers(BoardLogin):
        def identity(self, asserted: Asserted) -> Any:
            return answer

    return Answers


def _member(name: str, value: Any) -> type[BoardLogin]:
    return type(f"Wrong_{name}", (BoardLogin,), {name: value})


# Each a method wrong in one more way, by the rule that catches it.
ALSO_BROKEN: dict[str, tuple[LoginMethodRule, type[BoardLogin]]] = {
    "unsolicited as text": (LoginMethodRule.MEMBERS, _member("unsolicited", "no")),
    "no source": (LoginMethodRule.MEMBERS, _member("source", None)),
    "metadata a Path": (LoginMethodRule.MEMBERS, _member("metadata", lambda _: Path("m.xml"))),
    "metadata raising": (LoginMethodRule.MEMBERS, _member("metadata", lambda _: 1 / 0)),
    "signer as text": (LoginMethodRule.MEMBERS, _member("metadata_signer", lambda _: "c.pem")),
    "sign_requests as text": (LoginMethodRule.MEMBERS, _member("sign_requests", "yes")),
    "example values as text": (
        LoginMethodRule.MEMBERS,
        _member("example_assertion", lambda self, who: Asserted(self.name, None, {"brin": "x"})),
    ),
    "a dict": (LoginMethodRule.ANSWERS, _answers({"brin": "99ZZ", "user_id": "u"})),
    "nobody": (LoginMethodRule.ANSWERS, _answers(AssertedIdentity())),
    "an empty user id": (
        LoginMethodRule.ANSWERS,
        _answers(AssertedIdentity(brin="99ZZ", user_id="")),
    ),
    "a number as user id": (
        LoginMethodRule.ANSWERS,
        _answers(AssertedIdentity(brin="99ZZ", user_id=17)),  # type: ignore[arg-type]
    ),
}
