"""The pages a sign-in can end on before it is handed on: refused, denied, known from tomorrow."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse

from api.web.render import message_page
from core.login.decision import Decision
from core.login.rules import PERSON_UNKNOWN
from core.saml.refusals import TRY_AGAIN, Refusal

ASK_SCHOOL = (
    "Lukt het daarna nog niet, neem dan contact op met je leerkracht of de beheerder van de "
    "school.",
    "If it still does not work, contact your teacher or the school's administrator.",
)


OUTCOME = "sso_outcome"
Texts = tuple[str, str]


def outcome_page(
    request: Request, status: int, title: Texts, sentence: Texts, what_to_do: Texts
) -> HTMLResponse:
    """Show how a sign-in ended, and keep it in the session so the page's language switch (a
    GET of the same address) shows it again in the other language."""
    request.session[OUTCOME] = [status, title, sentence, what_to_do]
    return message_page(request, status, title, sentence, what_to_do)


def last_outcome_page(request: Request) -> HTMLResponse:
    """The latest sign-in's outcome again (GET of the consumer address), or what it is for."""
    kept = request.session.get(OUTCOME)
    if kept:
        status, title, sentence, what_to_do = kept
        return message_page(request, status, tuple(title), tuple(sentence), tuple(what_to_do))
    return message_page(
        request,
        200,
        ("Inloggen", "Signing in"),
        (
            "Op dit adres komen inlogberichten van de identiteitsprovider binnen.",
            "This address receives sign-in messages from the identity provider.",
        ),
        TRY_AGAIN,
    )


def refusal_page(request: Request, refusal: Refusal) -> HTMLResponse:
    status = 413 if refusal is Refusal.TOO_LARGE else 400
    return outcome_page(
        request, status, ("Inloggen geweigerd", "Sign-in refused"), refusal.reason, TRY_AGAIN
    )


def decision_page(request: Request, decision: Decision) -> HTMLResponse:
    """The page for a login the rules or policies denied, with their reasons."""
    if any(d.policy == PERSON_UNKNOWN.policy for d in decision.denials):
        return outcome_page(
            request,
            403,
            ("Morgen ben je bekend", "Known from tomorrow"),
            (
                "Je bent morgen bekend: je gegevens komen vannacht binnen met de nachtelijke "
                "synchronisatie van je school.",
                "You will be known tomorrow: your details arrive tonight with your school's "
                "nightly sync.",
            ),
            ("Probeer het morgen opnieuw.", "Try again tomorrow."),
        )
    return outcome_page(
        request,
        403,
        ("Inloggen niet toegestaan", "Sign-in not allowed"),
        (
            " ".join(d.reason_nl for d in decision.denials),
            " ".join(d.reason_en for d in decision.denials),
        ),
        ASK_SCHOOL,
    )


def unknown_idp_page(request: Request) -> HTMLResponse:
    return message_page(
        request,
        404,
        ("Onbekende inlogmethode", "Unknown sign-in method"),
        (
            "koppel kent deze identiteitsprovider niet.",
            "koppel does not know this identity provider.",
        ),
        TRY_AGAIN,
    )


def not_configured_page(request: Request) -> HTMLResponse:
    return message_page(
        request,
        503,
        ("Inloggen tijdelijk niet mogelijk", "Signing in is not possible now"),
        (
            "Inloggen via deze identiteitsprovider is nu niet mogelijk: koppel kan haar "
            "gegevens niet lezen.",
            "Signing in through this identity provider is not possible now: koppel cannot read "
            "its details.",
        ),
        (
            "Probeer het later opnieuw; blijft dit gebeuren, neem dan contact op met de helpdesk.",
            "Try again later; if this keeps happening, contact the helpdesk.",
        ),
    )
