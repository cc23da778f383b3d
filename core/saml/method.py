"""What a plugin registers to offer a login: a SAML identity provider and what it asserts.

A plugin registers login methods through the koppel_register_login_methods hook. koppel does the
SAML (AuthnRequest, every check of the response, replay and request state); the method only
says where the identity provider's metadata is and which asserted attributes name the school
and the person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Asserted:
    """What a verified assertion says about who signed in (only the signed XML was read).

    ``attributes`` maps each attribute's Name (and its FriendlyName, when given) to its values.
    """

    idp: str
    name_id: str | None
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    authn_instant: datetime | None = None

    def first(self, *names: str) -> str | None:
        """The first non-empty value of the first of ``names`` the assertion carries."""
        for name in names:
            for value in self.attributes.get(name, ()):
                if value.strip():
                    return value.strip()
        return None


@dataclass(frozen=True, slots=True)
class AssertedIdentity:
    """Who signed in, in the identity source's terms (as core.login's LoginIdentity).

    The school by its source reference (``school_ref``, Basispoort's instellingRef), its source
    id, or its ``brin`` (4 characters: the school's only linked location; 6: that location);
    the person by source user id and/or ECK iD (the user id wins, the ECK iD is the fallback).
    """

    school_ref: str | None = None
    school_id: str | None = None
    brin: str | None = None
    user_id: str | None = None
    eckid: str | None = None


@runtime_checkable
class LoginMethod(Protocol):
    """A SAML identity provider people of an identity source sign in with (no base class needed).

    Two members are optional (older methods lack them; read them with the functions below):
    ``metadata_signer()``, the PEM certificate file that must have signed the metadata (None:
    not checked), and ``sign_requests``, False when the provider wants unsigned AuthnRequests.
    A third, ``example_assertion(who: AssertedIdentity) -> Asserted``, is read only by the
    contract-test kit (koppel.testing), to sign a person in end to end.
    """

    name: str  # the {idp} in koppel's addresses (/sso/{idp}/acs), e.g. "basispoort", "entree"
    source: str  # the identity source whose synced people it signs in, e.g. "basispoort"
    unsolicited: bool  # accept sign-ins koppel did not ask for (IdP-initiated, deep links)

    def metadata(self) -> str | None:
        """The identity provider's SAML metadata: a file path or an http(s) URL; None: not set."""

    def identity(self, asserted: Asserted) -> AssertedIdentity | None:
        """The school and person the assertion names; None when it lacks what is needed."""


def metadata_signer(method: LoginMethod) -> Path | None:
    """The certificate file that must have signed ``method``'s metadata; None: no check."""
    signer = getattr(method, "metadata_signer", None)
    return signer() if signer is not None else None


def signs_requests(method: LoginMethod) -> bool:
    """Whether koppel signs its AuthnRequests to ``method`` (when it has a signing key)."""
    return bool(getattr(method, "sign_requests", True))
