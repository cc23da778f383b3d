"""What a school administrator reads after checking the connection with Basispoort."""

from __future__ import annotations

from koppel.plugin import ConnectionStatus

# Dutch first (what the administrator reads), then English. Outcomes not here (connected,
# merged) get core's sentences, which say the same for every source.
CONNECTION_SENTENCES: dict[ConnectionStatus, tuple[str, str]] = {
    ConnectionStatus.NOT_FOUND: (
        "School niet gevonden. Controleer de BRIN- en vestigingscode (bijvoorbeeld 12AB00) "
        "en of de school een Basispoort-account heeft.",
        "School not found. Check the BRIN and location code (for example 12AB00) and whether "
        "the school has a Basispoort account.",
    ),
    ConnectionStatus.NO_CONSENT: (
        "School gevonden, maar heeft nog geen toestemming verleend. Zet in Basispoort bij "
        "Beheer → Uitgeverijen een vinkje bij deze uitgever, sla op en controleer opnieuw.",
        "School found, but it has not granted permission yet. In Basispoort, tick this "
        "publisher under Beheer → Uitgeverijen, save, and check again.",
    ),
    ConnectionStatus.INACTIVE: (
        "School gevonden, maar staat in Basispoort op inactief. Neem contact op met "
        "Basispoort om de school te activeren.",
        "School found, but it is inactive in Basispoort. Contact Basispoort to activate it.",
    ),
    ConnectionStatus.ERROR: (
        "De verbinding met Basispoort kon niet worden gecontroleerd. Probeer het later opnieuw; "
        "blijft dit gebeuren, neem dan contact op met de helpdesk.",
        "The connection to Basispoort could not be checked. Try again later; if this keeps "
        "happening, contact the helpdesk.",
    ),
}
