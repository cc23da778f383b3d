"""The school's Basispoort tab in a real browser: the seed's steps 2 and 6, and a held plan."""

from __future__ import annotations

import os
from ipaddress import ip_address, ip_network
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from api.web.times import readable_time
from core.models import HeldPlan, Pupil, School, SchoolNetwork
from core.sync.engine import sync_school
from tests.safety.conftest import link, unlink
from tests.web.conftest import Tab
from tests.web.helpers import admin_networks, open_tab

pytestmark = pytest.mark.browser

CHECK = "Verbinding instellen/controleren"
CONNECTED = "School gevonden en heeft toestemming verleend."
TEST_LOCATION = "203.0.113.0/24"  # where the school holds its tests (a documentation range)
PUPIL_THERE = "203.0.113.77"
SCREENSHOT = Path(__file__).parents[2] / "docs" / "img" / "school-tab.png"


def check_connection(page: Page, button: str = CHECK) -> str:
    page.get_by_role("button", name=button).click()
    outcome = page.locator("#check-outcome")
    expect(outcome).to_be_visible()
    return outcome.inner_text()


def synced(tab: Tab, kind: str) -> School:
    with tab.session() as session:
        school = link(session, tab.world, kind)
        assert sync_school(session, school.id, plugins=tab.plugins).outcome == "succeeded"
        session.refresh(school)
        return school


def test_seed_step_2_a_connected_school_reads_the_sentence(tab: Tab, page: Page) -> None:
    school = synced(tab, "consented")
    # The Content Security Policy forbids inline scripts and styles: a page using one would
    # show a console error here.
    console_errors: list[str] = []
    page.on(
        "console",
        lambda m: (
            console_errors.append(m.text)
            if m.type == "error" and not m.location["url"].endswith("/favicon.ico")
            else None
        ),
    )
    open_tab(page, tab, school.brin6)

    assert check_connection(page) == CONNECTED

    expect(page.locator(".facts").first).to_contain_text("Toestemming verleend")
    page.get_by_role("link", name="English").click()
    # By keyboard this time.
    page.get_by_role("button", name="Set up/check connection").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#check-outcome")).to_have_text("School found and has granted permission.")
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    expect(page.locator(".outcome-succeeded").first).to_have_text("succeeded")
    assert console_errors == []


def test_seed_step_2_a_school_without_consent_then_with_it(tab: Tab, page: Page) -> None:
    waiting = tab.world.find("no_consent")
    with tab.session() as session:
        unlink(session, tab.world, waiting)
    brin6 = tab.world.school(waiting).brin6
    open_tab(page, tab, brin6)
    expect(page.get_by_text("Deze school is nog niet gekoppeld.")).to_be_visible()

    sentence = check_connection(page)

    assert sentence.startswith("School gevonden, maar heeft nog geen toestemming verleend.")
    assert "Beheer → Uitgeverijen" in sentence
    assert tab.school(brin6) is None  # nothing linked without consent

    tab.world.set_consent(waiting, True)  # step 1: the administrator ticks the box
    assert check_connection(page) == CONNECTED
    linked = tab.school(brin6)
    assert linked is not None and linked.consent == "granted"
    since = readable_time(linked.consent_changed_at)
    expect(page.locator(".facts").first).to_contain_text(f"verleend, sinds {since}")
    expect(
        page.get_by_role("heading", name="Netwerken waar leerlingen mogen inloggen")
    ).to_be_visible()


def evaluate(tab: Tab, school: School, pupil: Pupil, address: str) -> dict:
    body = {
        "source": "basispoort",
        "school_id": school.source_school_id,
        "user_id": pupil.source_id,
        "peer_address": address,
    }
    with tab.api() as api:
        answer = api.post("/v1/logins/evaluate", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_seed_step_6_a_network_added_on_the_page_lets_the_refused_pupil_in(
    tab: Tab, page: Page
) -> None:
    school = synced(tab, "consented")
    with tab.session() as session:
        pupil = session.scalars(
            select(Pupil).where(Pupil.school_id == school.id, Pupil.left_at.is_(None))
        ).first()
        from_source = [row.network for row in session.scalars(
            select(SchoolNetwork).where(SchoolNetwork.school_id == school.id)
        )]  # fmt: skip
    assert pupil is not None
    assert not any(ip_address(PUPIL_THERE) in ip_network(n) for n in from_source)
    refused = evaluate(tab, school, pupil, PUPIL_THERE)
    assert refused["allowed"] is False

    open_tab(page, tab, school.brin6)
    # Why the pupil was refused: the page names them, where from, and the reason.
    refusals = page.get_by_role("table").filter(has_text=PUPIL_THERE)
    expect(refusals).to_contain_text(pupil.first_name or "")
    expect(refusals).to_contain_text(refused["denials"][0]["reason_nl"])
    # The source's networks are listed with their origin.
    expect(page.get_by_role("row").filter(has_text=from_source[0])).to_contain_text("Basispoort")

    field = page.get_by_label("IP-adres of netwerk")
    for typed, explained in (
        ("203.0.113.0/33", "is geen IP-adres of netwerk"),
        ("203.0.113.77/24", f"schrijf dan {TEST_LOCATION}"),
        ("192.168.1.0/24", "is een privé-netwerk"),
        ("10.0.0.0/7", "is te groot"),
    ):
        field.fill(typed)
        page.get_by_role("button", name="Netwerk toevoegen").click()
        expect(page.get_by_role("alert")).to_contain_text(explained)
        expect(field).to_have_value(typed)  # kept, to correct
        expect(field).to_have_attribute("aria-invalid", "true")
    assert admin_networks(tab, school) == []  # nothing stored

    field.fill(TEST_LOCATION)
    page.get_by_label("Omschrijving (niet verplicht)").fill("lokaal 12")
    page.get_by_role("button", name="Netwerk toevoegen").click()
    expect(page.get_by_role("status")).to_have_text(f"{TEST_LOCATION} is toegevoegd.")
    expect(page.get_by_role("row").filter(has_text=TEST_LOCATION)).to_contain_text("de school")
    assert admin_networks(tab, school) == [TEST_LOCATION]

    allowed = evaluate(tab, school, pupil, PUPIL_THERE)
    assert allowed["allowed"] is True, allowed

    page.get_by_role("button", name=f"Verwijderen {TEST_LOCATION}").click()
    expect(page.get_by_role("status")).to_have_text(f"{TEST_LOCATION} is verwijderd.")
    assert admin_networks(tab, school) == []
    assert evaluate(tab, school, pupil, PUPIL_THERE)["allowed"] is False


def hold_a_plan(tab: Tab) -> tuple[School, set[str]]:
    """A quiet school synced, then 60% of its pupils gone at the source: the sync is held."""
    school = synced(tab, "quiet")
    gone = {str(i) for i in tab.world.remove_pupils(int(school.source_school_id), 0.6)}
    with tab.session() as session:
        assert sync_school(session, school.id, plugins=tab.plugins).outcome == "held"
    return school, gone


def test_approving_a_held_plan_on_the_page_marks_the_pupils_left(tab: Tab, page: Page) -> None:
    school, gone = hold_a_plan(tab)
    with tab.session() as session:
        leaving = session.scalars(
            select(Pupil).where(Pupil.school_id == school.id, Pupil.source_id.in_(gone))
        ).all()
    open_tab(page, tab, school.brin6)
    plans = page.get_by_role("region", name="Tegengehouden wijzigingen")
    summary = plans.get_by_text(f"Vertrekken: {len(gone)} leerlingen")
    summary.click()  # opens the list of who would leave
    first = leaving[0]
    expect(plans).to_contain_text(
        " ".join(p for p in (first.first_name, first.prefix, first.last_name) if p)
    )

    plans.get_by_role("button", name="Goedkeuren").click()

    expect(page.get_by_role("status")).to_contain_text(f"leerlingen: {len(gone)} vertrokken")
    expect(page.get_by_role("region", name="Tegengehouden wijzigingen")).to_have_count(0)
    with tab.session() as session:
        left = set(
            session.scalars(
                select(Pupil.source_id).where(
                    Pupil.school_id == school.id, Pupil.left_at.is_not(None)
                )
            )
        )
        decided = session.scalars(select(HeldPlan).where(HeldPlan.school_id == school.id)).one()
    assert left == gone
    assert decided.status == "approved"
    assert decided.decided_by.startswith(f"school {school.brin6}, LVS link ")
    assert decided.decided_by.endswith("for LVS admin lvs-user-7")
    expect(page.locator(".outcome-succeeded").first).to_be_visible()


def test_screenshot_of_the_tab_for_the_readme(tab: Tab, page: Page, tmp_path: Path) -> None:
    """The whole tab renders as a picture; KOPPEL_WRITE_SCREENSHOTS=1 keeps it for the README."""
    picture = SCREENSHOT if os.environ.get("KOPPEL_WRITE_SCREENSHOTS") else tmp_path / "tab.png"
    school, _ = hold_a_plan(tab)
    with tab.session() as session:
        pupil = session.scalars(
            select(Pupil).where(Pupil.school_id == school.id, Pupil.left_at.is_(None))
        ).first()
    assert pupil is not None
    evaluate(tab, school, pupil, PUPIL_THERE)
    page.set_viewport_size({"width": 1280, "height": 900})
    open_tab(page, tab, school.brin6)
    check_connection(page)
    picture.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(picture), full_page=False)
    assert picture.read_bytes().startswith(b"\x89PNG")


def test_a_form_whose_token_went_stale_gets_a_page_saying_what_to_do(tab: Tab, page: Page) -> None:
    school = synced(tab, "consented")
    open_tab(page, tab, school.brin6)
    # As after a long pause or a form kept open in another tab: the token no longer matches.
    page.evaluate(
        "document.querySelectorAll('input[name=csrf_token]')"
        ".forEach(input => { input.value = 'stale'; })"
    )
    page.get_by_role("button", name=CHECK).click()
    expect(page.locator("body")).to_contain_text("Laad de pagina opnieuw en probeer het nog eens.")
    expect(page.locator("#check-outcome")).to_have_count(0)  # nothing was checked or saved


def test_the_language_switch_after_a_refused_network_stays_on_the_tab(tab: Tab, page: Page) -> None:
    school = synced(tab, "consented")
    open_tab(page, tab, school.brin6)
    page.get_by_label("IP-adres of netwerk").fill("203.0.113.0/33")
    page.get_by_role("button", name="Netwerk toevoegen").click()
    expect(page.get_by_role("alert")).to_contain_text("is geen IP-adres of netwerk")

    # The refusal is the tab answered to the form's address, which takes no GET: the switch
    # must reload the tab, not ask that address.
    with page.expect_navigation() as english:
        page.get_by_role("link", name="English").click()
    assert english.value is not None and english.value.status == 200
    expect(page.get_by_role("button", name="Add network")).to_be_visible()
