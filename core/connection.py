"""The connection check ("Verbinding instellen/controleren"): outcomes and their sentences."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from core.snapshot import SchoolInfo


class ConnectionStatus(StrEnum):
    """What the check found; the value is stable and used in JSON output."""

    CONNECTED = "connected"
    NOT_FOUND = "not_found"
    NO_CONSENT = "no_consent"
    INACTIVE = "inactive"
    MERGED = "merged"
    ERROR = "error"


# One sentence per outcome, Dutch first (what the school admin reads), then English. These
# name no source: a source that knows what its schools should do says it in its own words
# (``connection_sentences`` on the source, core/sources.py), as the Basispoort plugin does.
SENTENCES: dict[ConnectionStatus, tuple[str, str]] = {
    ConnectionStatus.CONNECTED: (
        "School gevonden en heeft toestemming verleend.",
        "School found and has granted permission.",
    ),
    ConnectionStatus.NOT_FOUND: (
        "School niet gevonden. Controleer de BRIN- en vestigingscode (bijvoorbeeld 12AB00) "
        "en of de school bekend is in het systeem waaruit haar gegevens komen.",
        "School not found. Check the BRIN and location code (for example 12AB00) and whether "
        "the school is known to the system its data come from.",
    ),
    ConnectionStatus.NO_CONSENT: (
        "School gevonden, maar heeft nog geen toestemming verleend. Geef deze uitgever "
        "toestemming in het systeem waaruit de gegevens van de school komen, en controleer "
        "opnieuw.",
        "School found, but it has not granted permission yet. Give this publisher permission "
        "in the system the school's data come from, and check again.",
    ),
    ConnectionStatus.INACTIVE: (
        "School gevonden, maar staat op inactief in het systeem waaruit haar gegevens komen. "
        "Vraag de beheerder daarvan de school te activeren.",
        "School found, but it is inactive in the system its data come from. Ask that system's "
        "administrator to activate it.",
    ),
    ConnectionStatus.MERGED: (
        "School gevonden, maar is gefuseerd met een andere school. Controleer de verbinding "
        "met de BRIN- en vestigingscode van de nieuwe school.",
        "School found, but it has merged into another school. Check the connection with the "
        "new school's BRIN and location code.",
    ),
    ConnectionStatus.ERROR: (
        "De verbinding met het systeem waaruit de gegevens van de school komen kon niet worden "
        "gecontroleerd. Probeer het later opnieuw; blijft dit gebeuren, neem dan contact op "
        "met de helpdesk.",
        "The connection to the system the school's data come from could not be checked. Try "
        "again later; if this keeps happening, contact the helpdesk.",
    ),
}

# Exit codes of 'koppel check'.
EXIT_CODES: dict[ConnectionStatus, int] = {
    ConnectionStatus.CONNECTED: 0,
    ConnectionStatus.NOT_FOUND: 3,
    ConnectionStatus.NO_CONSENT: 4,
    ConnectionStatus.INACTIVE: 5,
    ConnectionStatus.MERGED: 5,
    ConnectionStatus.ERROR: 1,
}


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    """What an identity source answers for one BRIN6."""

    status: ConnectionStatus
    school: SchoolInfo | None = None  # set whenever the school was found
    detail: str | None = None  # for the operator (why ERROR), never shown to the school as-is
    # The source's own words for this outcome (Dutch, English); None: core's (SENTENCES).
    sentences: tuple[str, str] | None = None

    @property
    def sentence_nl(self) -> str:
        return (self.sentences or SENTENCES[self.status])[0]

    @property
    def sentence_en(self) -> str:
        return (self.sentences or SENTENCES[self.status])[1]

    def in_words_of(self, sentences: Mapping[ConnectionStatus, tuple[str, str]]) -> ConnectionCheck:
        """This outcome with the sentence ``sentences`` give for it, if any."""
        said = sentences.get(self.status)
        return replace(self, sentences=said) if said is not None else self

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]
