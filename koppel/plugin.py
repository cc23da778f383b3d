"""The stable plugin API: everything an identity source, login method or policy needs, in one place.

A plugin imports only from here (``from koppel.plugin import hookimpl, SchoolSnapshot``); the
modules behind it (core.*) may move between releases, these names will not, the way pytest
fronts _pytest. The hooks a plugin may implement (when each is called, what it gets, how answers
combine) are specified in core/hookspecs.py and explained in docs/plugins.md.
"""

from __future__ import annotations

from core.brin import InvalidBrin, parse_brin6
from core.connection import ConnectionCheck, ConnectionStatus
from core.errors import (
    ConfigError,
    KoppelError,
    SourceDataError,
    SourceError,
    SourceRefused,
    SourceUnavailable,
)
from core.hookspecs import PROJECT, hookimpl
from core.login import Denial, LoginAttempt, LoginPerson, LoginPolicy, LoginSchool, PersonKind
from core.login.networks import allowed_networks
from core.saml.method import Asserted, AssertedIdentity, LoginMethod
from core.settings import read_settings
from core.snapshot import (
    ConsentChanges,
    GroupKind,
    GroupRecord,
    PupilRecord,
    SchoolInfo,
    SchoolSnapshot,
    SourceCapabilities,
    StaffRecord,
)
from core.sources import IdentitySource

__all__ = [
    "PROJECT",
    "Asserted",
    "AssertedIdentity",
    "ConfigError",
    "ConnectionCheck",
    "ConnectionStatus",
    "ConsentChanges",
    "Denial",
    "GroupKind",
    "GroupRecord",
    "IdentitySource",
    "InvalidBrin",
    "KoppelError",
    "LoginAttempt",
    "LoginMethod",
    "LoginPerson",
    "LoginPolicy",
    "LoginSchool",
    "PersonKind",
    "PupilRecord",
    "SchoolInfo",
    "SchoolSnapshot",
    "SourceCapabilities",
    "SourceDataError",
    "SourceError",
    "SourceRefused",
    "SourceUnavailable",
    "StaffRecord",
    "allowed_networks",
    "hookimpl",
    "parse_brin6",
    "read_settings",
]
