"""Every check of the assertion consumer refuses with a page and an audit line, letting nobody in.

The responses are pysaml2's, signed by xmlsec1; koppel verifies with signxml. Each test breaks
one thing and sees: the refusal's page (status, Dutch sentence), its audit row (no person, no
school), the continuation never reached, and nothing written for the person.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import re

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import LoginDenial, Pupil, Staff
from core.saml.refusals import Refusal
from tests.login.conftest import NAMES, Seed
from tests.sso.conftest import PUBLIC, Koppel, audit_rows, basispoort_assertion
from tests.sso.idp import TestIdp


def people(db: Session) -> set[tuple]:
    """Every synced person's stored row (read past the session's identity map)."""
    rows: set[tuple] = set()
    for model in (Pupil, Staff):
        columns = (model.id, model.updated_at, model.row_hash, model.left_at, model.purged_at)
        rows.update(tuple(row) for row in db.execute(select(*columns)))
    return rows


@pytest.fixture(autouse=True)
def people_before(db: Session, seed: Seed) -> None:
    seed.people_before = people(db)  # type: ignore[attr-defined]


def assert_refused(
    db: Session, seed: Seed, koppel: Koppel, response: httpx.Response, refusal: Refusal
) -> None:
    status = 413 if refusal is Refusal.TOO_LARGE else 400
    assert response.status_code == status, response.text
    page = html.unescape(response.text)
    assert refusal.reason[0] in page  # Dutch by default
    assert "Inloggen geweigerd" in page
    assert koppel.signed_in == []  # continue_after_sign_in was not reached: nothing issued
    rows = audit_rows(db, refusal.policy)
    assert len(rows) == 1
    row = rows[0]
    assert (row.school_id, row.person_id, row.person_kind) == (None, None, None)
    assert row.client_address == "127.0.0.1"
    assert not any(name in row.reason for name in NAMES)
    # Nothing written for the person: no audit row names them, their row is as seeded.
    assert (
        db.scalars(select(LoginDenial).where(LoginDenial.person_id == seed.teacher.id)).all() == []
    )
    teacher = db.get(Staff, seed.teacher.id)
    assert teacher is not None and teacher.updated_at == seed.teacher.updated_at


def post(koppel: Koppel, idp: TestIdp, xml: str) -> httpx.Response:
    return koppel.post(idp.form(xml))


@pytest.mark.parametrize("signed", ["assertion", "response", "both"])
def test_a_valid_response_is_let_in_first(db, seed, koppel, idp, signed):
    # The baseline every refusal below changes one thing of; either part may carry the signature.
    spec = basispoort_assertion(seed.school, seed.teacher, sign=signed)
    response = post(koppel, idp, idp.response_xml(spec))
    assert response.status_code == 200, response.text
    assert [who.person_id for who, _ in koppel.signed_in] == [seed.teacher.id]


def test_unsigned_is_refused(db, seed, koppel, idp):
    xml = idp.response_xml(basispoort_assertion(seed.school, seed.teacher, sign="none"))
    assert_refused(db, seed, koppel, post(koppel, idp, xml), Refusal.UNSIGNED)


def test_a_changed_signed_assertion_is_refused(db, seed, koppel, idp):
    other = seed.pupil.source_id

    def change(xml: str) -> str:  # another person's id inside the signed assertion
        return xml.replace(f">{seed.teacher.source_id}<", f">{other}<")

    xml = idp.response_xml(basispoort_assertion(seed.school, seed.teacher), tamper=change)
    assert_refused(db, seed, koppel, post(koppel, idp, xml), Refusal.SIGNATURE_INVALID)


def test_a_signature_by_another_key_is_refused(db, seed, koppel, tmp_path):
    stranger = TestIdp(tmp_path)  # same entity id, its own key: not the metadata's certificate
    xml = stranger.response_xml(basispoort_assertion(seed.school, seed.teacher))
    assert_refused(db, seed, koppel, post(koppel, stranger, xml), Refusal.SIGNATURE_INVALID)


def _evil_copy(xml: str, original_id: str, person_id: str, victim_id: str) -> str:
    start = xml.index("<ns1:Assertion")
    end = xml.index("</ns1:Assertion>") + len("</ns1:Assertion>")
    evil = re.sub(r"<ns2:Signature.*?</ns2:Signature>", "", xml[start:end], flags=re.S)
    return evil.replace(original_id, "_evil").replace(f">{person_id}<", f">{victim_id}<")


@pytest.mark.parametrize("where", ["beside", "original_in_extensions"])
def test_signature_wrapping_is_refused(db, seed, koppel, idp, where):
    spec = basispoort_assertion(seed.school, seed.teacher)

    def wrap(xml: str) -> str:
        start = xml.index("<ns1:Assertion")
        end = xml.index("</ns1:Assertion>") + len("</ns1:Assertion>")
        original = xml[start:end]
        evil = _evil_copy(xml, spec.assertion_id, seed.teacher.source_id, seed.pupil.source_id)
        if where == "beside":  # the unsigned evil one first, the signed original after it
            return xml[:start] + evil + original + xml[end:]
        # The signed original hidden in Extensions, the evil one where an assertion belongs.
        hidden = f"<ns0:Extensions>{original}</ns0:Extensions>"
        status = xml.index("<ns0:Status")
        return xml[:status] + hidden + xml[status:start] + evil + xml[end:]

    xml = idp.response_xml(spec, tamper=wrap)
    assert_refused(db, seed, koppel, post(koppel, idp, xml), Refusal.SIGNATURE_WRAPPING)


def test_a_wrong_issuer_is_refused(db, seed, koppel, idp):
    spec = basispoort_assertion(seed.school, seed.teacher, issuer="https://evil.example/idp")
    assert_refused(
        db, seed, koppel, post(koppel, idp, idp.response_xml(spec)), Refusal.WRONG_ISSUER
    )


def test_a_wrong_audience_is_refused(db, seed, koppel, idp):
    spec = basispoort_assertion(
        seed.school, seed.teacher, audience="https://another-sp.example/metadata"
    )
    assert_refused(
        db, seed, koppel, post(koppel, idp, idp.response_xml(spec)), Refusal.WRONG_AUDIENCE
    )


@pytest.mark.parametrize("field", ["recipient", "destination"])
def test_a_wrong_recipient_or_destination_is_refused(db, seed, koppel, idp, field):
    spec = basispoort_assertion(seed.school, seed.teacher, **{field: "https://evil.example/acs"})
    assert_refused(
        db, seed, koppel, post(koppel, idp, idp.response_xml(spec)), Refusal.WRONG_RECIPIENT
    )


def test_a_response_not_yet_valid_is_refused(db, seed, koppel, idp):
    # Ten minutes ahead: far beyond the allowed clock skew (KOPPEL_SSO_CLOCK_SKEW_SECONDS=60).
    spec = basispoort_assertion(
        seed.school,
        seed.teacher,
        not_before=dt.timedelta(minutes=10),
        not_on_or_after=dt.timedelta(minutes=15),
    )
    assert_refused(
        db, seed, koppel, post(koppel, idp, idp.response_xml(spec)), Refusal.NOT_YET_VALID
    )


def test_an_expired_response_is_refused(db, seed, koppel, idp):
    spec = basispoort_assertion(
        seed.school,
        seed.teacher,
        not_before=dt.timedelta(minutes=-10),
        not_on_or_after=dt.timedelta(minutes=-5),
    )
    assert_refused(db, seed, koppel, post(koppel, idp, idp.response_xml(spec)), Refusal.EXPIRED)


def test_an_idp_clock_within_the_skew_is_accepted(db, seed, make_koppel, idp):
    koppel = make_koppel(sso_clock_skew_seconds=120)
    spec = basispoort_assertion(
        seed.school,
        seed.teacher,
        not_before=dt.timedelta(seconds=60),  # the IdP's clock a minute ahead
        not_on_or_after=dt.timedelta(seconds=-30),  # ... or its validity half a minute over
    )
    assert post(koppel, idp, idp.response_xml(spec)).status_code == 200
    assert len(koppel.signed_in) == 1


def test_an_in_response_to_koppel_did_not_send_is_refused(db, seed, koppel, idp):
    spec = basispoort_assertion(seed.school, seed.teacher, in_response_to="_never_sent_by_koppel")
    assert_refused(
        db, seed, koppel, post(koppel, idp, idp.response_xml(spec)), Refusal.UNKNOWN_REQUEST
    )


def test_an_unasked_for_response_to_a_strict_method_is_refused(db, seed, koppel, idp):
    spec = basispoort_assertion(
        seed.school,
        seed.teacher,
        acs_url=f"{PUBLIC}/sso/strict/acs",
        audience=f"{PUBLIC}/sso/strict/metadata",
    )
    response = koppel.post(idp.form(idp.response_xml(spec)), idp="strict")
    assert_refused(db, seed, koppel, response, Refusal.UNSOLICITED)


def test_a_replayed_assertion_is_refused_by_another_replica(db, seed, make_koppel, idp):
    first, second = make_koppel(), make_koppel()  # two API replicas, one database
    form = idp.form(idp.response_xml(basispoort_assertion(seed.school, seed.teacher)))
    assert first.post(form).status_code == 200
    assert len(first.signed_in) == 1
    assert_refused(db, seed, second, second.post(form), Refusal.REPLAYED)
    assert len(first.signed_in) == 1


def test_a_comment_inside_the_name_id_is_refused(db, seed, koppel, idp):
    # The classic truncation: the signature ignores comments, a naive reader stops at one.
    spec = basispoort_assertion(seed.school, seed.teacher, name_id="teacher@school.nl.evil.nl")
    xml = idp.response_xml(
        spec,
        tamper=lambda x: x.replace("teacher@school.nl.evil.nl", "teacher@school.nl<!---->.evil.nl"),
    )
    assert "<!---->" in xml
    assert_refused(db, seed, koppel, post(koppel, idp, xml), Refusal.COMMENT_IN_ASSERTION)


XXE = '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
LAUGHS = (
    '<!DOCTYPE r [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
)


@pytest.mark.parametrize("dtd", [XXE, LAUGHS], ids=["xxe", "billion_laughs"])
def test_a_dtd_or_entities_are_refused(db, seed, koppel, idp, dtd):
    spec = basispoort_assertion(seed.school, seed.teacher)

    def add_dtd(xml: str) -> str:
        xml = xml.replace('<?xml version="1.0"?>', "")
        return dtd + xml.replace(f">{seed.teacher.source_id}<", ">&x;<" if dtd == XXE else ">&d;<")

    xml = idp.response_xml(spec, tamper=add_dtd)
    assert_refused(db, seed, koppel, post(koppel, idp, xml), Refusal.DTD)


def test_an_oversized_post_is_refused_before_parsing(db, seed, make_koppel, idp):
    koppel = make_koppel(sso_max_post_bytes=8192)
    xml = idp.response_xml(basispoort_assertion(seed.school, seed.teacher))
    padded = xml.replace("<ns0:Status", "<!--" + "x" * 10000 + "--><ns0:Status")
    response = koppel.post(idp.form(padded))
    assert_refused(db, seed, koppel, response, Refusal.TOO_LARGE)


def test_a_post_that_is_not_a_saml_response_is_refused(db, seed, koppel):
    response = koppel.post({"SAMLResponse": base64.b64encode(b"<html>hello</html>").decode()})
    assert_refused(db, seed, koppel, response, Refusal.MALFORMED)


def test_an_assertion_without_the_school_is_refused(db, seed, koppel, idp):
    spec = basispoort_assertion(seed.school, seed.teacher)
    spec.attributes = {"userId": seed.teacher.source_id}
    assert_refused(
        db, seed, koppel, post(koppel, idp, idp.response_xml(spec)), Refusal.IDENTITY_MISSING
    )
