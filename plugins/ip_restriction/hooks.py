"""Registers the IP restriction login policy (entry point 'ip_restriction')."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from koppel.plugin import hookimpl
from plugins.ip_restriction.policy import IpRestriction
from plugins.ip_restriction.settings import IpRestrictionSettings, load_ip_restriction_settings


@hookimpl
def koppel_register_login_policies(register: Callable[[Any], None]) -> None:
    register(IpRestriction(load_ip_restriction_settings().roles))


@hookimpl
def koppel_register_settings(register: Callable[[type], None]) -> None:
    register(IpRestrictionSettings)
