"""Helpers of the OpenID Connect tests."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.oidc.conftest import Koppel


def stored(koppel: Koppel, model: type) -> int:
    koppel.db.expire_all()
    return koppel.db.scalar(select(func.count()).select_from(model)) or 0
