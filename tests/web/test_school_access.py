"""Who gets a school's Basispoort tab: a one-time link, staff via Basispoort; no other school."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from api.signin import sign_in_url
from core.admin_links import mint_admin_link
from core.models import HeldPlan, SchoolNetwork, utcnow
from tests.safety.conftest import link
from tests.web.conftest import SCOPED_TOKEN, TOKEN, Tab, make_tab_app
from tests.web.helpers import csrf

UNKNOWN_SCHOOL = "99ZZ99"


@pytest.fixture
def browser_like(tab: Tab) -> Iterator[TestClient]:
    """A client that keeps the Secure session cookie (https), on the same app and database."""
    with TestClient(
        make_tab_app(tab.engine, tab.plugins, tab.world), base_url="https://testserver"
    ) as client:
        yield client


def two_schools(tab: Tab) -> tuple[str, str]:
    """Two linked simulator schools: the one signed in for, and another one."""
    with tab.session() as session:
        mine = link(session, tab.world, "consented")
        other = link(session, tab.world, "quiet")
        return mine.brin6, other.brin6


def sign_in_by_link(client: TestClient, tab: Tab, brin6: str) -> str:
    answer = client.get(tab.admin_link(brin6), follow_redirects=True)
    assert answer.status_code == 200
    assert "Verbinding instellen/controleren" in answer.text
    return answer.text


def test_a_one_time_admin_link_works_once(tab: Tab, browser_like: TestClient) -> None:
    mine, _ = two_schools(tab)
    path = tab.admin_link(mine)

    first = browser_like.get(path, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == f"/school/{mine}/basispoort"
    assert mine in browser_like.get(first.headers["location"]).text

    with TestClient(browser_like.app, base_url="https://testserver") as someone_else:
        again = someone_else.get(path)
        assert again.status_code == 410
        assert "Deze link is al gebruikt" in again.text
        # The second browser got no session from it.
        assert someone_else.get(f"/school/{mine}/basispoort").status_code == 404


def test_a_link_older_than_a_minute_and_an_unknown_one_are_refused(
    tab: Tab, browser_like: TestClient
) -> None:
    mine, _ = two_schools(tab)
    with tab.session() as session:
        token = mint_admin_link(session, mine, now=utcnow() - timedelta(seconds=61))
        session.commit()
    late = browser_like.get(f"/school/link/{token}")
    assert late.status_code == 410 and "verlopen" in late.text
    unknown = browser_like.get("/school/link/not-a-token")
    assert unknown.status_code == 404 and "niet (meer) geldig" in unknown.text
    assert browser_like.get(f"/school/{mine}/basispoort").status_code == 404


def test_a_scoped_token_mints_links_for_its_own_schools_only(tab: Tab) -> None:
    mine, other = two_schools(tab)
    assert tab.admin_link(mine, SCOPED_TOKEN).startswith("/school/link/")
    with tab.api(SCOPED_TOKEN) as api:
        refused = api.post(f"/v1/schools/{other}/admin-link")
    assert refused.status_code == 404
    with tab.api("no-such-token-0123456789") as api:
        assert api.post(f"/v1/schools/{mine}/admin-link").status_code == 401


def test_an_administrator_never_reaches_another_school(tab: Tab, browser_like: TestClient) -> None:
    mine, other = two_schools(tab)
    with tab.session() as session:
        other_school = link(session, tab.world, "quiet")
        other = other_school.brin6
        network = SchoolNetwork(
            school_id=other_school.id, network="198.51.100.0/24", origin="admin"
        )
        plan = HeldPlan(school_id=other_school.id, plan_hash="0" * 64, reasons=[], counts={})
        session.add_all([network, plan])
        session.commit()
        network_id, plan_id = network.id, plan.id
    token = csrf(sign_in_by_link(browser_like, tab, mine))
    nowhere = browser_like.get(f"/school/{UNKNOWN_SCHOOL}/basispoort")
    assert nowhere.status_code == 404

    for path in (f"/school/{other}/basispoort", f"/school/{other.lower()}/basispoort"):
        answer = browser_like.get(path)
        # The same answer as for a school that does not exist: nothing about it is revealed.
        assert answer.status_code == 404 and answer.text == nowhere.text
    posts = [
        f"/school/{other}/basispoort/check",
        f"/school/{other}/basispoort/networks",
        f"/school/{other}/basispoort/networks/{network_id}/remove",
        f"/school/{other}/basispoort/plans/{plan_id}/approve",
        # Another school's network and plan, asked for under my own school's address:
        f"/school/{mine}/basispoort/networks/{network_id}/remove",
        f"/school/{mine}/basispoort/plans/{plan_id}/approve",
        f"/school/{mine}/basispoort/plans/{plan_id}/reject",
        f"/school/{mine}/basispoort/plans/999999999/approve",
    ]
    for path in posts:
        answer = browser_like.post(path, data={"csrf_token": token, "network": "203.0.113.0/24"})
        assert answer.status_code == 404, path
        assert "Deze pagina bestaat niet" in answer.text
    with tab.session() as session:
        assert session.get(SchoolNetwork, network_id) is not None
        assert session.get(HeldPlan, plan_id).status == "held"  # type: ignore[union-attr]


def test_a_form_posted_without_its_csrf_token_is_refused(
    tab: Tab, browser_like: TestClient
) -> None:
    mine, _ = two_schools(tab)
    sign_in_by_link(browser_like, tab, mine)
    for data in ({"network": "203.0.113.0/24"}, {"network": "203.0.113.0/24", "csrf_token": "x"}):
        answer = browser_like.post(f"/school/{mine}/basispoort/networks", data=data)
        assert answer.status_code == 403
        assert "Laad de pagina opnieuw" in answer.text
    school = tab.school(mine)
    with tab.session() as session:
        stored = session.scalars(
            select(SchoolNetwork.network).where(SchoolNetwork.school_id == school.id)  # type: ignore[union-attr]
        ).all()
    assert "203.0.113.0/24" not in stored


def test_staff_with_an_administrator_role_signed_in_through_basispoort_get_their_tab(
    tab: Tab, browser_like: TestClient
) -> None:
    mine, other = two_schools(tab)
    login = browser_like.get(f"/school/{mine}/login")
    assert sign_in_url("basispoort", f"school:{mine}").replace("&", "&amp;") in login.text
    assert "Inloggen via Basispoort" in login.text

    def sign_in(brin6: str, relay: str, kind: str, roles: str) -> int:
        query = {"brin6": brin6, "relay_state": relay, "kind": kind, "roles": roles}
        answer = browser_like.get("/test/sign-in", params=query, follow_redirects=False)
        return answer.status_code

    assert sign_in(mine, f"school:{mine}", "staff", "Leerkracht") == 403
    assert sign_in(mine, f"school:{mine}", "pupil", "") == 403
    # An administrator of one school asking for another school's tab:
    assert sign_in(mine, f"school:{other}", "staff", "ICTCoordinator") == 403
    assert browser_like.get(f"/school/{other}/basispoort").status_code == 404
    assert browser_like.get(f"/school/{mine}/basispoort").status_code == 404

    assert sign_in(mine, f"school:{mine}", "staff", "Leerkracht,ictcoordinator") == 303
    assert "Verbinding instellen/controleren" in browser_like.get(f"/school/{mine}/basispoort").text
    assert browser_like.get(f"/school/{other}/basispoort").status_code == 404


def test_the_administrator_roles_are_a_setting(tab: Tab) -> None:
    from core.settings import load_settings

    assert load_settings().web_admin_roles == ["ICTCoordinator", "Directeur"]
    assert load_settings(web_admin_roles=["Leerkracht"]).web_admin_roles == ["Leerkracht"]
    assert TOKEN  # the app under test uses the default
