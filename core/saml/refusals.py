"""Every reason a sign-in is refused before anyone is let in, and what the person reads."""

from __future__ import annotations

from enum import StrEnum

TRY_AGAIN = (
    "Ga terug naar het leerlingvolgsysteem en log opnieuw in. Blijft dit gebeuren, neem dan "
    "contact op met de helpdesk.",
    "Go back to the pupil-tracking system and sign in again. If this keeps happening, contact "
    "the helpdesk.",
)


class Refusal(StrEnum):
    """Why a SAML response was refused; ``sso:<value>`` is the audit's policy name."""

    TOO_LARGE = "too_large"
    MALFORMED = "malformed"
    DTD = "dtd"
    IDP_FAILED = "idp_failed"
    UNSIGNED = "unsigned"
    SIGNATURE_INVALID = "signature_invalid"
    SIGNATURE_WRAPPING = "signature_wrapping"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    WRONG_RECIPIENT = "wrong_recipient"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    UNKNOWN_REQUEST = "unknown_request"
    UNSOLICITED = "unsolicited"
    REPLAYED = "replayed"
    COMMENT_IN_ASSERTION = "comment_in_assertion"
    IDENTITY_MISSING = "identity_missing"

    @property
    def policy(self) -> str:
        return f"sso:{self.value}"

    @property
    def reason(self) -> tuple[str, str]:
        """One sentence, Dutch and English, naming no person."""
        return REASONS[self]


REASONS: dict[Refusal, tuple[str, str]] = {
    Refusal.TOO_LARGE: (
        "Het inlogbericht van de identiteitsprovider is te groot.",
        "The identity provider's sign-in message is too large.",
    ),
    Refusal.MALFORMED: (
        "Het inlogbericht van de identiteitsprovider is onleesbaar.",
        "The identity provider's sign-in message cannot be read.",
    ),
    Refusal.DTD: (
        "Het inlogbericht bevat een DTD of entiteiten; die worden nooit geaccepteerd.",
        "The sign-in message holds a DTD or entities, which are never accepted.",
    ),
    Refusal.IDP_FAILED: (
        "De identiteitsprovider meldt dat inloggen niet gelukt is.",
        "The identity provider reports that signing in failed.",
    ),
    Refusal.UNSIGNED: (
        "Het inlogbericht is niet ondertekend door de identiteitsprovider.",
        "The sign-in message is not signed by the identity provider.",
    ),
    Refusal.SIGNATURE_INVALID: (
        "De handtekening onder het inlogbericht klopt niet.",
        "The signature on the sign-in message is not valid.",
    ),
    Refusal.SIGNATURE_WRAPPING: (
        "De handtekening dekt niet de verklaring die in het inlogbericht staat.",
        "The signature does not cover the assertion in the sign-in message.",
    ),
    Refusal.WRONG_ISSUER: (
        "Het inlogbericht komt niet van de verwachte identiteitsprovider.",
        "The sign-in message does not come from the expected identity provider.",
    ),
    Refusal.WRONG_AUDIENCE: (
        "Het inlogbericht is niet voor koppel bedoeld.",
        "The sign-in message is not meant for koppel.",
    ),
    Refusal.WRONG_RECIPIENT: (
        "Het inlogbericht is naar een ander adres gestuurd dan waar het voor bedoeld is.",
        "The sign-in message was sent to another address than the one it is meant for.",
    ),
    Refusal.NOT_YET_VALID: (
        "Het inlogbericht is nog niet geldig (loopt een klok voor?).",
        "The sign-in message is not valid yet (is a clock ahead?).",
    ),
    Refusal.EXPIRED: (
        "Het inlogbericht is verlopen.",
        "The sign-in message has expired.",
    ),
    Refusal.UNKNOWN_REQUEST: (
        "Het inlogbericht antwoordt op een inlogverzoek dat koppel niet (meer) kent.",
        "The sign-in message answers a sign-in request koppel did not send or no longer knows.",
    ),
    Refusal.UNSOLICITED: (
        "Deze identiteitsprovider mag alleen inloggen waar koppel om gevraagd heeft.",
        "This identity provider may only sign people in when koppel asked for it.",
    ),
    Refusal.REPLAYED: (
        "Dit inlogbericht is al eens gebruikt.",
        "This sign-in message has already been used.",
    ),
    Refusal.COMMENT_IN_ASSERTION: (
        "Het inlogbericht bevat commentaar in de verklaring; dat wordt nooit geaccepteerd.",
        "The sign-in message holds comments inside the assertion, which are never accepted.",
    ),
    Refusal.IDENTITY_MISSING: (
        "Het inlogbericht zegt niet om welke school of persoon het gaat.",
        "The sign-in message does not say which school or person it is about.",
    ),
}


class SamlRefused(Exception):
    """A SAML response failed a check; ``detail`` is for the log (ids only, never a name)."""

    def __init__(self, refusal: Refusal, detail: str = "") -> None:
        super().__init__(f"{refusal.value}: {detail}" if detail else refusal.value)
        self.refusal = refusal
        self.detail = detail
