"""A teacher signs in as a person would: the simulator IdP's login page, koppel's ACS, signed in."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from core.models import Staff
from tests.sso.simulator import serve_koppel, sync_simulator_school


@pytest.mark.browser
def test_a_teacher_clicks_through_the_simulator_into_koppel(db, sim_http_server, monkeypatch, page):
    synced = sync_simulator_school(db, sim_http_server, monkeypatch)
    with serve_koppel(db, synced.plugins) as koppel:
        url = koppel.url
        query = urlencode(
            {"TARGET": f"{url}/sso/basispoort/acs", "INSTELLING_REF": synced.school.source_ref}
        )
        page.goto(f"{sim_http_server.url}login/leerlingen/snelkoppelaar?{query}")
        teacher = page.locator("button", has_text="Leerkracht").first
        person_id = teacher.get_attribute("value")
        teacher.click()  # the simulator signs, the browser posts the assertion on to koppel
        page.wait_for_url(f"{url}/sso/basispoort/acs")
        heading = page.locator("#who").text_content()

    staff = db.scalars(select(Staff).where(Staff.source_id == person_id)).one()
    assert heading == f"staff {staff.id}"
    assert [(w.person_id, w.idp, w.brin6) for w, _ in koppel.signed_in] == [
        (staff.id, "basispoort", synced.school.brin6)
    ]
