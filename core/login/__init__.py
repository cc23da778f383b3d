"""Login checks: who may log in to the LVS, from where; the policy contract lives here.

A login policy plugin needs only ``Denial`` (and reads ``LoginAttempt``); see core.hookspecs.
"""

from core.login.attempt import LoginAttempt
from core.login.client_address import ClientAddress
from core.login.decision import Decision, Denial, LoginPolicy
from core.login.facts import LoginPerson, LoginSchool, PersonKind

__all__ = [
    "ClientAddress",
    "Decision",
    "Denial",
    "LoginAttempt",
    "LoginPerson",
    "LoginPolicy",
    "LoginSchool",
    "PersonKind",
]
