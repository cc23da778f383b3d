"""Signing in through Basispoort and Entree Federatie: where their metadata is, what they assert.

koppel does the SAML; these two login methods say which asserted attributes name the school
and the person (plugins/basispoort/assumptions.py holds the names no public source confirms).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from koppel.plugin import Asserted, AssertedIdentity
from plugins.basispoort import assumptions
from plugins.basispoort.settings import BasispoortSettings, load_basispoort_settings

SOURCE = "basispoort"


class _ReadsSettings:
    @cached_property
    def settings(self) -> BasispoortSettings:
        """Read at the first sign-in and kept, as koppel keeps its own settings: reading the
        environment at every sign-in cost each login about 3 ms of CPU (bench/logins). One
        that cannot be read is not kept: the next sign-in reports it again."""
        return load_basispoort_settings()


class BasispoortLogin(_ReadsSettings):
    """Basispoort's identity provider: deep links (IdP-initiated) and koppel's AuthnRequests."""

    name = "basispoort"
    source = SOURCE
    unsolicited = assumptions.BASISPOORT_UNSOLICITED

    def __init__(self, metadata: str | None = None) -> None:
        self._metadata = metadata  # tests and embedded runs; otherwise the setting

    def metadata(self) -> str | None:
        return self._metadata or self.settings.sso_metadata

    def metadata_signer(self) -> Path | None:
        return self.settings.sso_metadata_signer

    @property
    def sign_requests(self) -> bool:
        return self.settings.sso_sign_requests

    def identity(self, asserted: Asserted) -> AssertedIdentity | None:
        school_ref = asserted.first(*assumptions.BASISPOORT_SCHOOL_REF_ATTRIBUTES)
        user_id = asserted.first(*assumptions.BASISPOORT_USER_ID_ATTRIBUTES)
        if user_id is None and assumptions.BASISPOORT_NAME_ID_IS_USER_ID:
            user_id = asserted.name_id
        eckid = asserted.first(*assumptions.BASISPOORT_ECKID_ATTRIBUTES)
        if school_ref is None or (user_id is None and eckid is None):
            return None
        return AssertedIdentity(school_ref=school_ref, user_id=user_id, eckid=eckid)

    def example_assertion(self, who: AssertedIdentity) -> Asserted:
        """What Basispoort asserts for ``who`` (koppel.testing signs it in end to end)."""
        attributes = {"instellingRef": (who.school_ref or "",), "userId": (who.user_id or "",)}
        return Asserted(self.name, who.user_id, attributes)


class EntreeLogin(_ReadsSettings):
    """Kennisnet's Entree Federatie: the school by BRIN, the person by ECK iD."""

    name = "entree"
    source = SOURCE
    unsolicited = assumptions.ENTREE_UNSOLICITED

    def __init__(self, metadata: str | None = None) -> None:
        self._metadata = metadata

    def metadata(self) -> str | None:
        return self._metadata or self.settings.entree_metadata

    def metadata_signer(self) -> Path | None:
        return self.settings.entree_metadata_signer

    @property
    def sign_requests(self) -> bool:
        return self.settings.entree_sign_requests

    def identity(self, asserted: Asserted) -> AssertedIdentity | None:
        brin = asserted.first(*assumptions.ENTREE_BRIN_ATTRIBUTES)
        eckid = asserted.first(*assumptions.ENTREE_ECKID_ATTRIBUTES)
        # Any other length would be read as a 4-character BRIN and name a school it is not.
        if brin is None or len(brin) not in (4, 6) or eckid is None:
            return None
        return AssertedIdentity(brin=brin.upper(), eckid=eckid)

    def example_assertion(self, who: AssertedIdentity) -> Asserted:
        """What Entree asserts for ``who``: its own uid, the BRIN and the ECK iD."""
        attributes = {
            "uid": ("kit-entree-uid",),
            "nlEduPersonHomeOrganizationId": ((who.brin or "")[:4],),
            "eckId": (who.eckid or "",),
        }
        return Asserted(self.name, "kit-entree-uid", attributes)
