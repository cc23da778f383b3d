"""Expired pending sign-ins, codes and tokens leave with the daily history prune."""

from __future__ import annotations

from datetime import timedelta

from core.models import OidcAccessToken, OidcCode, OidcPendingAuthorization, utcnow
from core.prune import prune_history
from core.settings import load_settings
from tests.oidc.conftest import Koppel, Lvs
from tests.oidc.helpers import stored

MODELS = (OidcPendingAuthorization, OidcCode, OidcAccessToken)


def oidc_counts(report) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {k: v for k, v in report.deleted.items() if k.startswith("oidc_")}


def test_only_what_has_expired_is_pruned(koppel: Koppel):
    settings = load_settings()
    lvs = Lvs(koppel, koppel.register())
    lvs.sign_in(koppel.teacher)  # a redeemed code and its access token
    koppel.ask(lvs.start().url)  # a sign-in never finished

    young = prune_history(koppel.db, settings, utcnow())
    assert oidc_counts(young) == {"oidc_pending_sign_ins": 0, "oidc_tokens": 0, "oidc_codes": 0}
    assert [stored(koppel, model) for model in MODELS] == [1, 1, 1]

    old = prune_history(koppel.db, settings, utcnow() + timedelta(hours=1))

    assert oidc_counts(old) == {"oidc_pending_sign_ins": 1, "oidc_tokens": 1, "oidc_codes": 1}
    assert [stored(koppel, model) for model in MODELS] == [0, 0, 0]
