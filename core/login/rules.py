"""Core's own login rules: a known person who has not left, at a linked, active, consenting school.

Checked before any policy plugin; they are not plugins, so no configuration can shadow them.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.login.attempt import LoginAttempt
from core.login.decision import Denial
from core.login.identity import IdentityProblem

# Staff end dates are Dutch calendar days.
SCHOOL_TIMEZONE = ZoneInfo("Europe/Amsterdam")

SCHOOL_UNKNOWN = Denial(
    "core:school_unknown",
    "Deze school is nog niet gekoppeld. De beheerder van de school stelt de verbinding in "
    "(Verbinding instellen/controleren); de gegevens komen de nacht daarna binnen.",
    "This school is not linked yet. The school's administrator sets up the connection "
    "(Verbinding instellen/controleren); the data arrives the night after.",
)
SCHOOL_NO_CONSENT = Denial(
    "core:school_no_consent",
    "De school heeft geen toestemming (meer) gegeven om gegevens met deze uitgever te delen. "
    "De beheerder van de school kan toestemming geven en daarna de verbinding controleren.",
    "The school has not granted (or has revoked) permission to share its data with this "
    "publisher. The school's administrator can grant it and then check the connection.",
)
SCHOOL_INACTIVE = Denial(
    "core:school_inactive",
    "Deze school staat op inactief, dus inloggen is niet mogelijk. Neem contact op met de "
    "beheerder van de school.",
    "This school is inactive, so logging in is not possible. Contact the school's administrator.",
)
SCHOOL_MERGED = Denial(
    "core:school_merged",
    "Deze school is gefuseerd met een andere school. Log in via de nieuwe school; de beheerder "
    "daarvan controleert de verbinding.",
    "This school has merged into another school. Log in through the new school; its "
    "administrator checks the connection.",
)
PERSON_UNKNOWN = Denial(
    "core:person_unknown",
    "Je bent nog niet bekend: de gegevens komen binnen in de nacht nadat de koppeling is "
    "gemaakt. Probeer het morgen opnieuw.",
    "You are not known yet: the data arrives the night after the link is made. Try again tomorrow.",
)
PERSON_AMBIGUOUS = Denial(
    "core:person_ambiguous",
    "We kunnen niet vaststellen wie je bent: meer dan één persoon past bij deze inlog. Neem "
    "contact op met de helpdesk.",
    "We cannot tell who you are: more than one person matches this login. Contact the helpdesk.",
)
PERSON_LEFT = Denial(
    "core:person_left",
    "Je staat niet meer ingeschreven bij deze school. Klopt dat niet, neem dan contact op met "
    "de school.",
    "You are no longer registered at this school. If that is wrong, contact the school.",
)


def core_denials(attempt: LoginAttempt) -> list[Denial]:
    """What core's own rules object to; an empty list lets the policies judge."""
    school = attempt.school
    if school is None or attempt.problem is IdentityProblem.UNKNOWN_SCHOOL:
        return [SCHOOL_UNKNOWN]
    # A school that cannot send data makes "try again tomorrow" a false promise: stop here.
    denials = []
    if school.consent != "granted":
        denials.append(SCHOOL_NO_CONSENT)
    if not school.active:
        denials.append(SCHOOL_INACTIVE)
    if school.merged_into_source_id is not None:
        denials.append(SCHOOL_MERGED)
    if denials:
        return denials
    if attempt.problem is IdentityProblem.AMBIGUOUS_PERSON:
        return [PERSON_AMBIGUOUS]
    if attempt.person is None:
        return [PERSON_UNKNOWN]
    if has_left(attempt):
        return [PERSON_LEFT]
    return []


def has_left(attempt: LoginAttempt) -> bool:
    """Tombstoned or purged by the sync, or a staff member past their end date."""
    person = attempt.person
    if person is None:
        return False
    if person.left_at is not None or person.purged_at is not None:
        return True
    return person.end_date is not None and person.end_date < _school_day(attempt.at)


def _school_day(at: datetime) -> date:
    return at.astimezone(SCHOOL_TIMEZONE).date()
