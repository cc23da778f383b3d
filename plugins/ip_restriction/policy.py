"""The IP restriction login policy: restricted roles only from one of the school's networks."""

from __future__ import annotations

from collections.abc import Iterable

from koppel.plugin import Denial, LoginAttempt, allowed_networks

NAME = "ip_restriction"

NO_NETWORKS = (
    "Inloggen is geweigerd: deze school heeft nog geen IP-adressen van haar toetslocaties "
    "geregistreerd. School: laat de beheerder de IP-adressen (netwerken) van de school "
    "registreren; daarna kunnen leerlingen vanaf die netwerken inloggen.",
    "Login refused: this school has not registered the IP addresses of its test locations yet. "
    "School: have the administrator register the school's IP addresses (networks); pupils can "
    "then log in from those networks.",
)
OUTSIDE_SCHOOL = (
    "Inloggen kan alleen vanaf het netwerk van de school.",
    "You can only log in from the school's network.",
)
ADDRESS_UNKNOWN = (
    "Inloggen kan alleen vanaf het netwerk van de school, en het adres waarvan je inlogt kon niet "
    "worden vastgesteld.",
    "You can only log in from the school's network, and the address you are logging in from "
    "could not be determined.",
)


class IpRestriction:
    """Deny a restricted role unless the client address lies in one of the school's networks.

    All origins count (the administrator's and any identity source's). A school without
    networks, or a client address that could not be determined, is a deny, never an allow.
    """

    name = NAME

    def __init__(self, roles: Iterable[str]) -> None:
        self.roles = frozenset(role.casefold() for role in roles)

    def applies_to(self, attempt: LoginAttempt) -> bool:
        return any(role.casefold() in self.roles for role in attempt.roles)

    def judge(self, attempt: LoginAttempt) -> Denial | None:
        if attempt.school is None or not self.applies_to(attempt):
            return None
        networks = allowed_networks(attempt.session, attempt.school.id)
        if not networks:
            return Denial(self.name, *NO_NETWORKS)
        ip = attempt.client_ip
        if ip is None:
            return Denial(self.name, *ADDRESS_UNKNOWN)
        if any(ip in network for network in networks):
            return None
        return Denial(self.name, *OUTSIDE_SCHOOL)
