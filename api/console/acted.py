"""What follows every operator action: a sentence on the next page and a row in the audit."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from api.console.session import SignedInOperator, notify
from core.errors import KoppelError
from core.operator_audit import Action, Outcome, record


@dataclass(frozen=True)
class Act:
    """One operator's ``action`` on ``target``; each answer audits it, tells the operator how it
    went (Dutch, English) and goes to ``then``."""

    request: Request
    session: Session
    operator: SignedInOperator
    action: Action
    target: str
    then: str

    def done(self, sentence: tuple[str, str], detail: str | None = None) -> Response:
        return self.answer(Outcome.DONE, sentence, detail)

    def failed(
        self, exc: KoppelError, not_done: tuple[str, str] = ("Niet gelukt", "Not done")
    ) -> Response:
        """The action was allowed but did not work: ``not_done`` and the reason."""
        nl, en = not_done
        return self.answer(Outcome.FAILED, (f"{nl}: {exc}", f"{en}: {exc}"), str(exc))

    def answer(
        self, outcome: Outcome, sentence: tuple[str, str], detail: str | None = None
    ) -> Response:
        notify(self.request, "ok" if outcome is Outcome.DONE else "bad", *sentence)
        record(
            self.session,
            self.operator.name,
            self.action,
            outcome,
            operator_id=self.operator.id,
            target=self.target,
            detail=detail,
        )
        return RedirectResponse(self.then, status_code=303)
