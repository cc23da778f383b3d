"""The login-method hook: plugins register SAML identity providers, checked like sources."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import ConfigError
from core.hookspecs import hookimpl
from core.plugins import Plugins, make_plugin_manager
from koppel.plugin import Asserted, AssertedIdentity
from plugins.basispoort.sso import BasispoortLogin, EntreeLogin


class _Plugin:
    def __init__(self, *methods: Any) -> None:
        self.methods = methods

    @hookimpl
    def koppel_register_login_methods(self, register: Any) -> None:
        for method in self.methods:
            register(method)


def test_the_basispoort_plugin_offers_basispoort_and_entree_through_its_entry_point():
    methods = Plugins(make_plugin_manager()).login_methods
    assert {name: m.source for name, m in methods.items()} == {
        "basispoort": "basispoort",
        "entree": "basispoort",
    }


def test_two_login_methods_with_one_name_are_refused():
    pm = make_plugin_manager(
        entry_points=False, extra=[_Plugin(BasispoortLogin()), _Plugin(BasispoortLogin())]
    )
    with pytest.raises(ConfigError, match="two plugins registered a login method"):
        _ = Plugins(pm).login_methods


def test_a_login_method_without_identity_is_refused_naming_it():
    class Half:
        name, source, unsolicited = "half", "basispoort", False

        def metadata(self) -> str | None:
            return None

    pm = make_plugin_manager(entry_points=False, extra=[_Plugin(Half())])
    with pytest.raises(ConfigError, match=r"'half'.*has no identity"):
        _ = Plugins(pm).login_methods


def test_basispoort_reads_the_school_ref_user_id_and_eck_id():
    asserted = Asserted(
        "basispoort",
        name_id="ignored-when-userId-is-given",
        attributes={"instellingRef": ("ref-1",), "userId": ("42",), "eckId": ("eck",)},
    )
    assert BasispoortLogin().identity(asserted) == AssertedIdentity(
        school_ref="ref-1", user_id="42", eckid="eck"
    )
    bare = Asserted("basispoort", name_id="43", attributes={"instellingRef": ("ref-1",)})
    assert BasispoortLogin().identity(bare) == AssertedIdentity(school_ref="ref-1", user_id="43")
    assert BasispoortLogin().identity(Asserted("basispoort", name_id="43")) is None


def test_entree_needs_the_brin_and_the_eck_id():
    attributes = {"uid": ("u1",), "nlEduPersonHomeOrganizationId": ("12ab",)}
    assert EntreeLogin().identity(Asserted("entree", None, attributes)) is None
    with_eck = {**attributes, "eckId": ("eck",)}
    assert EntreeLogin().identity(Asserted("entree", None, with_eck)) == AssertedIdentity(
        brin="12AB", eckid="eck"
    )
