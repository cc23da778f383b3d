"""Signed-in people: the identity goes through decide_login; the policies see the browser."""

from __future__ import annotations

import html
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.models import Group, LoginDenial, PupilSubgroup, StaffGroup
from plugins.ip_restriction.policy import NAME as IP_RESTRICTION
from plugins.ip_restriction.policy import OUTSIDE_SCHOOL
from tests.login.conftest import HOME, INSIDE, NAMES, add_pupil
from tests.sso.conftest import (
    ENTREE_ACS,
    ENTREE_ENTITY,
    SP_ENTITY,
    audit_rows,
    basispoort_assertion,
)
from tests.sso.idp import SSO_URL, Assertion


def test_a_teacher_is_let_in_and_handed_on(db, seed, koppel, idp):
    xml = idp.response_xml(basispoort_assertion(seed.school, seed.teacher))
    response = koppel.post(idp.form(xml, relay_state="deep-link-target"))
    assert response.status_code == 200
    [(who, relay_state)] = koppel.signed_in
    assert (who.source, who.idp, who.person_kind) == ("basispoort", "basispoort", "staff")
    assert (who.person_id, who.school_id, who.brin6) == (
        seed.teacher.id,
        seed.school.id,
        seed.school.brin6,
    )
    assert who.roles == ("Leerkracht",)
    assert relay_state == "deep-link-target"  # IdP-initiated: the deep link's own relay state
    assert koppel.continuations == [""]
    assert audit_rows(db, IP_RESTRICTION) == []


def test_an_unasked_for_sign_in_cannot_pick_a_continuation(db, seed, koppel, idp):
    # A deep link may carry any relay state; only a sign-in koppel started goes to "oidc:...".
    xml = idp.response_xml(basispoort_assertion(seed.school, seed.teacher))
    assert koppel.post(idp.form(xml, relay_state="oidc:someone-elses")).status_code == 200
    assert koppel.continuations == [""]
    assert [relay for _, relay in koppel.signed_in] == ["oidc:someone-elses"]


def test_a_pupil_at_home_is_refused_with_the_dutch_reason(db, seed, koppel, idp):
    xml = idp.response_xml(basispoort_assertion(seed.school, seed.pupil))
    response = koppel.post(idp.form(xml), headers={"X-Forwarded-For": HOME})
    assert response.status_code == 403
    page = html.unescape(response.text)
    assert OUTSIDE_SCHOOL[0] in page and "Inloggen niet toegestaan" in page
    assert koppel.signed_in == []
    [row] = audit_rows(db, IP_RESTRICTION)
    assert (row.person_kind, row.person_id, row.school_id) == (
        "pupil",
        seed.pupil.id,
        seed.school.id,
    )
    assert row.client_address == HOME  # the browser's own address, through the trusted proxy
    assert not any(name in row.reason for name in NAMES)


def test_the_refusal_reads_in_english_on_request(db, seed, koppel, idp):
    xml = idp.response_xml(basispoort_assertion(seed.school, seed.pupil))
    response = koppel.http.post(
        "/sso/basispoort/acs?lang=en", data=idp.form(xml), headers={"X-Forwarded-For": HOME}
    )
    assert response.status_code == 403
    assert OUTSIDE_SCHOOL[1].replace("'", "&#39;") in response.text
    assert "Sign-in not allowed" in response.text


def test_a_pupil_at_school_is_let_in(db, seed, koppel, idp):
    xml = idp.response_xml(basispoort_assertion(seed.school, seed.pupil))
    response = koppel.post(idp.form(xml), headers={"X-Forwarded-For": INSIDE})
    assert response.status_code == 200
    [(who, _)] = koppel.signed_in
    assert (who.person_kind, who.person_id, who.roles) == ("pupil", seed.pupil.id, ())


def test_a_shadowed_policy_records_but_lets_the_pupil_in(db, seed, make_koppel, idp):
    koppel = make_koppel(login_shadow_policies=[IP_RESTRICTION])
    xml = idp.response_xml(basispoort_assertion(seed.school, seed.pupil))
    assert koppel.post(idp.form(xml), headers={"X-Forwarded-For": HOME}).status_code == 200
    assert [who.person_id for who, _ in koppel.signed_in] == [seed.pupil.id]
    [row] = audit_rows(db, IP_RESTRICTION)
    assert row.shadow and row.person_id == seed.pupil.id


def test_an_unknown_person_is_known_from_tomorrow(db, seed, koppel, idp):
    spec = basispoort_assertion(seed.school, seed.teacher)
    spec.attributes = {"instellingRef": seed.school.source_ref, "userId": "404404404"}
    response = koppel.post(idp.form(idp.response_xml(spec)))
    assert response.status_code == 403
    page = html.unescape(response.text)
    assert "Je bent morgen bekend" in page and "Probeer het morgen opnieuw." in page
    assert koppel.signed_in == []
    [row] = audit_rows(db, "core:person_unknown")
    assert row.school_id == seed.school.id and row.person_id is None


def test_an_entree_assertion_is_mapped_by_brin_and_eck_id(db, seed, koppel, idp):
    pupil = add_pupil(db, seed.bare_school)  # a school without networks: the IP rule lets no one in
    teacher_attributes = {
        "uid": "s.devries@school.example",  # Entree's own id: not a Basispoort id
        "eduPersonAffiliation": "employee",
        "nlEduPersonHomeOrganizationId": seed.school.brin,
        "eckId": seed.teacher.eckid,
    }
    spec = Assertion(acs_url=ENTREE_ACS, audience=ENTREE_ENTITY, attributes=teacher_attributes)
    assert koppel.post(idp.form(idp.response_xml(spec)), idp="entree").status_code == 200
    [(who, _)] = koppel.signed_in
    assert (who.idp, who.source, who.person_id) == ("entree", "basispoort", seed.teacher.id)

    # BRIN6 names the location; the pupil is found by ECK iD and judged like any other.
    spec = Assertion(
        acs_url=ENTREE_ACS,
        audience=ENTREE_ENTITY,
        attributes={
            "uid": "leerling17",
            "eduPersonAffiliation": "student",
            "nlEduPersonHomeOrganizationId": seed.bare_school.brin6,
            "eckId": pupil.eckid,
        },
    )
    response = koppel.post(idp.form(idp.response_xml(spec)), idp="entree")
    assert response.status_code == 403
    [row] = audit_rows(db, IP_RESTRICTION)
    assert row.person_id == pupil.id


def test_sp_initiated_sign_in_answers_the_request_koppel_sent(db, seed, koppel, idp):
    start = koppel.http.get("/sso/basispoort/login", params={"relay_state": "oidc:abc123"})
    assert start.status_code == 303
    target = urlsplit(start.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == SSO_URL
    query = parse_qs(target.query)
    request = idp.read_authn_request(query["SAMLRequest"][0])  # pysaml2 reads koppel's request
    assert request.assertion_consumer_service_url.endswith("/sso/basispoort/acs")
    assert request.issuer.text == SP_ENTITY
    assert query["RelayState"] == ["oidc:abc123"]

    spec = basispoort_assertion(seed.school, seed.teacher, in_response_to=request.id)
    # The relay state koppel stored with its request wins over a posted one.
    form = idp.form(idp.response_xml(spec), relay_state="oidc:forged")
    assert koppel.post(form).status_code == 200
    [(who, relay_state)] = koppel.signed_in
    assert who.person_id == seed.teacher.id and relay_state == "abc123"
    assert koppel.continuations == ["oidc"]

    # The request is used up: a second answer to it is refused.
    again = basispoort_assertion(seed.school, seed.teacher, in_response_to=request.id)
    assert koppel.post(idp.form(idp.response_xml(again))).status_code == 400
    assert len(audit_rows(db, "sso:unknown_request")) == 1


def test_koppel_serves_its_service_provider_metadata(koppel):
    response = koppel.http.get("/sso/entree/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/samlmetadata+xml")
    assert f'entityID="{ENTREE_ENTITY}"' in response.text
    assert f'Location="{ENTREE_ACS}"' in response.text
    assert koppel.http.get("/sso/nobody/metadata").status_code == 404


@pytest.mark.parametrize("metadata", [None, "/nonexistent/idp.xml", "not-xml"])
def test_an_unconfigured_identity_provider_says_so(
    db, seed, make_koppel, monkeypatch, tmp_path, metadata
):
    if metadata is None:
        monkeypatch.delenv("KOPPEL_BASISPOORT_SSO_METADATA", raising=False)
    elif metadata == "not-xml":
        (tmp_path / "idp.xml").write_text("<EntityDescriptor")
        monkeypatch.setenv("KOPPEL_BASISPOORT_SSO_METADATA", str(tmp_path / "idp.xml"))
    else:
        monkeypatch.setenv("KOPPEL_BASISPOORT_SSO_METADATA", metadata)
    koppel = make_koppel(configured=False)  # the plugin reads its setting
    for response in (
        koppel.http.get("/sso/basispoort/login"),
        koppel.post({"SAMLResponse": "PHNhbWwvPg=="}),
    ):
        assert response.status_code == 503
        assert "Inloggen tijdelijk niet mogelijk" in html.unescape(response.text)
    assert koppel.signed_in == []
    assert db.scalars(select(LoginDenial)).all() == []


def test_the_metadata_setting_is_read_at_the_first_sign_in_not_at_every_one(
    db, seed, make_koppel, monkeypatch, idp
):
    # Reading the environment again cost every login ~3 ms of CPU (bench/logins); settings are
    # read once per process, as koppel's own are: a changed setting needs a restart.
    monkeypatch.setenv("KOPPEL_BASISPOORT_SSO_METADATA", str(idp.metadata_file))
    koppel = make_koppel(configured=False)  # the plugin reads its setting
    first = idp.response_xml(basispoort_assertion(seed.school, seed.teacher))
    assert koppel.post(idp.form(first)).status_code == 200
    monkeypatch.setenv("KOPPEL_BASISPOORT_SSO_METADATA", "/nonexistent/idp.xml")
    second = idp.response_xml(basispoort_assertion(seed.school, seed.teacher))
    assert koppel.post(idp.form(second)).status_code == 200
    assert len(koppel.signed_in) == 2


def test_the_pages_language_switch_shows_the_same_refusal_in_english(db, seed, make_koppel, idp):
    # The switch on every page is a GET of the same address: the outcome is kept in the signed
    # session cookie (Secure, so an https client: httpx sends none over plain http).
    koppel = make_koppel()
    xml = idp.response_xml(basispoort_assertion(seed.school, seed.pupil))
    with TestClient(koppel.app, base_url="https://testserver") as browser:
        refused = browser.post(
            "/sso/basispoort/acs", data=idp.form(xml), headers={"X-Forwarded-For": HOME}
        )
        assert refused.status_code == 403
        english = browser.get("/sso/basispoort/acs?lang=en")
    assert english.status_code == 403
    assert "Sign-in not allowed" in english.text
    assert html.unescape(english.text).count("the school's network") == 1
    assert koppel.signed_in == []


def _group(db, school, kind, name, left=False):
    from datetime import UTC, datetime

    group = Group(
        school_id=school.id,
        source="basispoort",
        kind=kind,
        source_key=f"{kind}-{name}",
        name=name,
        row_hash="0" * 32,
        left_at=datetime(2026, 11, 1, tzinfo=UTC) if left else None,
    )
    db.add(group)
    db.flush()
    return group


def test_the_signed_in_person_carries_their_current_groups_by_name(db, seed, koppel, idp):
    group = _group(db, seed.school, "group", "Groep 6B")
    reading = _group(db, seed.school, "subgroup", "Leesclub")
    gone = _group(db, seed.school, "subgroup", "Schaakclub", left=True)
    pupil = add_pupil(db, seed.school, group_id=group.id)
    db.add_all([PupilSubgroup(pupil_id=pupil.id, group_id=g.id) for g in (reading, gone)])
    db.add(StaffGroup(staff_id=seed.teacher.id, group_id=group.id))
    db.commit()

    for person in (pupil, seed.teacher):
        xml = idp.response_xml(basispoort_assertion(seed.school, person))
        assert koppel.post(idp.form(xml), headers={"X-Forwarded-For": INSIDE}).status_code == 200
    [(as_pupil, _), (as_teacher, _)] = koppel.signed_in
    assert as_pupil.groups == ("Groep 6B", "Leesclub")  # sorted; a group left is not carried
    assert as_teacher.groups == ("Groep 6B",)
