"""The done-means of logins, through the real HTTP API: who gets in, from where, and the audit."""

from __future__ import annotations

import httpx
from sqlalchemy.orm import Session

from core.models import LoginDenial
from tests.login.conftest import (
    HOME,
    HOME_V6,
    INSIDE,
    INSIDE_V6,
    NAMES,
    PROXY_NET,
    MakeApi,
    Seed,
    login_body,
)
from tests.login.helpers import denials_of, evaluate


def test_pupil_from_the_school_network_is_let_in(api: httpx.Client, seed: Seed, db: Session):
    result = evaluate(api, login_body(seed.school, seed.pupil, INSIDE))
    assert result["allowed"] is True
    assert result["person"] == {"kind": "pupil", "id": seed.pupil.id}
    assert result["school"] == {"brin6": seed.school.brin6}
    assert result["denials"] == [] and result["shadow_denials"] == []
    assert result["client_address"] == INSIDE and result["client_address_via"] == "peer"
    assert denials_of(db, seed.school.id) == []  # an allow leaves no audit row


def test_the_same_pupil_from_home_is_refused_with_the_reason(
    api: httpx.Client, seed: Seed, db: Session
):
    result = evaluate(api, login_body(seed.school, seed.pupil, HOME))
    assert result["allowed"] is False
    [denial] = result["denials"]
    assert denial["policy"] == "ip_restriction"
    assert denial["reason_nl"] == "Inloggen kan alleen vanaf het netwerk van de school."
    assert denial["reason_en"] == "You can only log in from the school's network."
    [row] = denials_of(db, seed.school.id)
    assert (row.person_kind, row.person_id, row.role) == ("pupil", seed.pupil.id, "pupil")
    assert (row.policy, row.client_address, row.shadow) == ("ip_restriction", HOME, False)
    assert row.reason.startswith("Inloggen kan alleen")


def test_a_teacher_from_home_is_let_in(api: httpx.Client, seed: Seed):
    result = evaluate(api, login_body(seed.school, seed.teacher, HOME))
    assert result["allowed"] is True
    assert result["person"] == {"kind": "staff", "id": seed.teacher.id}


def test_an_unknown_person_is_told_to_try_again_tomorrow(
    api: httpx.Client, seed: Seed, db: Session
):
    result = evaluate(api, login_body(seed.school, None, INSIDE))
    assert result["allowed"] is False and result["person"] is None
    [denial] = result["denials"]
    assert denial["policy"] == "core:person_unknown"
    assert "morgen opnieuw" in denial["reason_nl"]
    assert "the night after the link is made" in denial["reason_en"]
    assert "try again tomorrow" in denial["reason_en"].lower()
    [row] = denials_of(db, seed.school.id)
    assert row.person_id is None and row.policy == "core:person_unknown"


def test_a_person_who_left_is_refused(api: httpx.Client, seed: Seed):
    result = evaluate(api, login_body(seed.school, seed.left_pupil, INSIDE))
    assert result["allowed"] is False
    assert [d["policy"] for d in result["denials"]] == ["core:person_left"]
    assert result["person"] == {"kind": "pupil", "id": seed.left_pupil.id}


def test_a_school_without_consent_is_refused(api: httpx.Client, seed: Seed):
    result = evaluate(api, login_body(seed.closed_school, seed.closed_pupil, INSIDE))
    assert result["allowed"] is False
    assert [d["policy"] for d in result["denials"]] == ["core:school_no_consent"]


def test_an_unlinked_school_is_refused(api: httpx.Client, seed: Seed):
    body = login_body(seed.school, seed.pupil, INSIDE, school_ref="ref-never-linked")
    result = evaluate(api, body)
    assert result["allowed"] is False and result["school"] is None
    assert [d["policy"] for d in result["denials"]] == ["core:school_unknown"]


def test_a_school_without_networks_refuses_pupils_and_says_what_to_do(
    api: httpx.Client, seed: Seed
):
    result = evaluate(api, login_body(seed.bare_school, seed.bare_pupil, INSIDE))
    assert result["allowed"] is False
    [denial] = result["denials"]
    assert denial["policy"] == "ip_restriction"
    assert "IP-adressen van haar toetslocaties" in denial["reason_nl"]
    assert "register" in denial["reason_en"]


def test_shadow_mode_lets_in_and_records(make_api: MakeApi, seed: Seed, db: Session):
    api = make_api(login_shadow_policies=["ip_restriction"])
    result = evaluate(api, login_body(seed.school, seed.pupil, HOME))
    assert result["allowed"] is True
    assert result["denials"] == []
    assert [d["policy"] for d in result["shadow_denials"]] == ["ip_restriction"]
    [row] = denials_of(db, seed.school.id)
    assert row.shadow is True and row.policy == "ip_restriction" and row.client_address == HOME


def test_the_pupil_can_log_in_by_eckid_and_school_id(api: httpx.Client, seed: Seed):
    body = {
        "school_id": int(seed.school.source_school_id),  # Basispoort ids are numbers
        "eckid": seed.pupil.eckid,
        "peer_address": INSIDE,
    }
    result = evaluate(api, body)
    assert result["allowed"] is True and result["person"]["id"] == seed.pupil.id


# --- the client address ---------------------------------------------------------------------


def test_a_forged_x_forwarded_for_from_an_untrusted_peer_changes_nothing(
    make_api: MakeApi, seed: Seed
):
    for api in (make_api(), make_api(trusted_proxies=[PROXY_NET])):
        body = login_body(seed.school, seed.pupil, HOME, headers={"X-Forwarded-For": INSIDE})
        result = evaluate(api, body)
        assert result["allowed"] is False
        assert result["client_address"] == HOME and result["client_address_via"] == "peer"


def test_a_trusted_proxy_chain_gives_the_client_behind_it(make_api: MakeApi, seed: Seed):
    api = make_api(trusted_proxies=[PROXY_NET])
    headers = {"x-forwarded-for": f"{INSIDE}, 10.1.2.3"}
    result = evaluate(api, login_body(seed.school, seed.pupil, "10.0.0.2", headers=headers))
    assert result["allowed"] is True
    assert result["client_address"] == INSIDE
    assert result["client_address_via"] == "x-forwarded-for"


def test_a_forged_hop_left_of_the_proxy_entry_does_not_count(make_api: MakeApi, seed: Seed):
    api = make_api(trusted_proxies=[PROXY_NET])
    # The pupil at home sends X-Forwarded-For: <school address>; our proxy appends the real one.
    headers = {"X-Forwarded-For": [f"{INSIDE}", f"{HOME}"]}
    result = evaluate(api, login_body(seed.school, seed.pupil, "10.0.0.2", headers=headers))
    assert result["allowed"] is False
    assert result["client_address"] == HOME


def test_ipv4_mapped_ipv6_peers_and_proxies_are_unwrapped(make_api: MakeApi, seed: Seed):
    api = make_api(trusted_proxies=[PROXY_NET])
    result = evaluate(api, login_body(seed.school, seed.pupil, f"::ffff:{INSIDE}"))
    assert result["allowed"] is True and result["client_address"] == INSIDE
    headers = {"x-forwarded-for": f"::ffff:{INSIDE}"}
    result = evaluate(api, login_body(seed.school, seed.pupil, "::ffff:10.0.0.2", headers=headers))
    assert result["allowed"] is True and result["client_address"] == INSIDE
    result = evaluate(api, login_body(seed.school, seed.pupil, f"::ffff:{HOME}"))
    assert result["allowed"] is False and result["client_address"] == HOME


def test_malformed_addresses_are_denied_never_allowed(make_api: MakeApi, seed: Seed):
    api = make_api(trusted_proxies=[PROXY_NET])
    cases = [
        ("not-an-ip", {}),
        ("", {}),
        ("192.0.2.300", {}),
        ("192.0.2.55:99999", {}),
        ("10.0.0.2", {"x-forwarded-for": "garbage"}),
        ("10.0.0.2", {"x-forwarded-for": "unknown"}),
        ("10.0.0.2", {"x-forwarded-for": f"{INSIDE}, "}),
    ]
    for peer, headers in cases:
        result = evaluate(api, login_body(seed.school, seed.pupil, peer, headers=headers))
        assert result["allowed"] is False, (peer, headers)
        assert result["client_address"] is None, (peer, headers)
        assert "kon niet worden vastgesteld" in result["denials"][0]["reason_nl"]
    # Only restricted roles care: a teacher with an unreadable address still gets in.
    result = evaluate(api, login_body(seed.school, seed.teacher, "not-an-ip"))
    assert result["allowed"] is True


def test_ipv6_networks(api: httpx.Client, seed: Seed):
    assert evaluate(api, login_body(seed.school, seed.pupil, INSIDE_V6))["allowed"] is True
    bracketed = f"[{INSIDE_V6}]:443"
    assert evaluate(api, login_body(seed.school, seed.pupil, bracketed))["allowed"] is True
    assert evaluate(api, login_body(seed.school, seed.pupil, HOME_V6))["allowed"] is False


def test_the_forwarded_header_when_the_proxies_write_it(make_api: MakeApi, seed: Seed):
    api = make_api(trusted_proxies=[PROXY_NET], proxy_header="forwarded")
    headers = {"Forwarded": f'for="[{INSIDE_V6}]:4711";proto=https, for=10.1.2.3'}
    result = evaluate(api, login_body(seed.school, seed.pupil, "10.0.0.2", headers=headers))
    assert result["allowed"] is True
    assert result["client_address"] == INSIDE_V6 and result["client_address_via"] == "forwarded"
    # With Forwarded configured, an X-Forwarded-For can only come from the client: ignored.
    headers = {"forwarded": f"for={HOME}", "x-forwarded-for": INSIDE}
    result = evaluate(api, login_body(seed.school, seed.pupil, "10.0.0.2", headers=headers))
    assert result["allowed"] is False and result["client_address"] == HOME
    # A Forwarded header that does not parse cannot be believed at all.
    headers = {"forwarded": f'for="{INSIDE}'}
    result = evaluate(api, login_body(seed.school, seed.pupil, "10.0.0.2", headers=headers))
    assert result["allowed"] is False and result["client_address"] is None


def test_a_forged_forwarded_header_is_ignored_when_proxies_write_x_forwarded_for(
    make_api: MakeApi, seed: Seed
):
    api = make_api(trusted_proxies=[PROXY_NET])
    headers = {"forwarded": f"for={INSIDE}", "x-forwarded-for": HOME}
    result = evaluate(api, login_body(seed.school, seed.pupil, "10.0.0.2", headers=headers))
    assert result["allowed"] is False and result["client_address"] == HOME


# --- the audit ------------------------------------------------------------------------------


def test_audit_rows_hold_no_names_or_eck_ids(make_api: MakeApi, seed: Seed, db: Session):
    api = make_api(login_shadow_policies=["ip_restriction"])
    evaluate(api, login_body(seed.school, seed.pupil, HOME))
    evaluate(api, login_body(seed.school, seed.left_pupil, HOME))
    evaluate(api, login_body(seed.school, None, HOME))
    rows = denials_of(db, seed.school.id)
    assert len(rows) == 3
    secrets_ = [*NAMES, seed.pupil.eckid, seed.left_pupil.eckid, seed.pupil.source_id]
    for row in rows:
        text = " ".join(str(getattr(row, c.key)) for c in LoginDenial.__table__.columns)
        for secret in secrets_:
            assert secret not in text, (secret, row.policy)
