"""The operator's console in a real browser: sign-in, lock-out, the nights chart, plans, CSRF."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.models import HeldPlan, Operator, OperatorAction, Pupil, utcnow
from core.operators import remove_operator
from core.sync.engine import sync_school
from tests.console.conftest import NAME, PASSWORD, Console, sign_in
from tests.console.seed import add_run, add_school, night_start
from tests.safety.conftest import budget, link, observer, sim_plugins  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

REFUSED = "Aanmelden is niet gelukt"


def audit(sessions: sessionmaker[Session]) -> list[tuple[str, str, str, str | None]]:
    with sessions() as s:
        rows = s.scalars(select(OperatorAction).order_by(OperatorAction.id))
        return [(a.operator, a.action, a.outcome, a.target) for a in rows]


def test_a_page_asked_for_without_signing_in_goes_to_the_sign_in_page_and_back(
    page: Page, console: Console, sessions: sessionmaker[Session]
) -> None:
    page.goto(f"{console.url}/console/schools?q=eik")
    assert re.search(r"/console/sign-in\?next=%2Fconsole%2Fschools%3Fq%3Deik$", page.url)
    page.get_by_label("Naam").fill(NAME)
    page.get_by_label("Naam").press("Tab")  # the keyboard reaches the password field
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Scholen met toestemming")).to_be_visible()
    assert page.url == f"{console.url}/console/schools?q=eik"  # the page asked for, search kept
    page.get_by_role("button", name="Afmelden").click()
    expect(page.get_by_role("heading", name="Aanmelden bij de console")).to_be_visible()
    page.goto(f"{console.url}/console/audit")
    assert "/console/sign-in" in page.url  # signed out means out
    assert audit(sessions) == [(NAME, "sign_in", "done", None), (NAME, "sign_out", "done", None)]


def test_the_front_page_draws_the_last_30_nights(
    page: Page, console: Console, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s:
        school, other = add_school(s), add_school(s, name="De Ander")
        # Five nights with runs, oldest first (ids grow with time, as in a real night): both
        # schools, one failure last night. (After noon "last night" is the night ahead, as on
        # the chart: core.nights.)
        for ago in reversed(range(5)):
            add_run(s, school, "succeeded", night_start(ago), minutes=10 + ago)
            outcome = "failed" if ago == 0 else "unchanged"
            add_run(s, other, outcome, night_start(ago) + timedelta(minutes=30), error="boom 7")
        add_run(s, school, "succeeded", night_start(40))  # older than the chart
        s.commit()
    sign_in(page, console.url)
    chart = page.locator("svg.nights")
    expect(chart).to_be_visible()
    assert chart.locator("g.night").count() == 30  # one per night, runs or not
    assert chart.locator("circle.duration-point").count() == 5  # one per night with runs
    assert chart.locator("rect.o-failed").count() == 1
    assert chart.locator("rect.o-succeeded").count() == 5
    last = chart.locator("g.night").last.locator("title").text_content() or ""
    assert "1 succeeded" in last and "1 failed" in last and "31 min" in last
    expect(page.get_by_text("boom 7")).to_be_visible()  # last night's failure and its reason


def test_an_over_long_name_or_password_is_refused_like_any_wrong_one(
    page: Page, console: Console
) -> None:
    sign_in(page, console.url, name="x" * 5000)
    expect(page.get_by_role("alert")).to_contain_text(REFUSED)
    sign_in(page, console.url, password="p" * 5000)
    expect(page.get_by_role("alert")).to_contain_text(REFUSED)


def test_a_wrong_password_and_an_unknown_name_are_answered_alike(
    page: Page, console: Console, sessions: sessionmaker[Session]
) -> None:
    sign_in(page, console.url, password="not the password")
    wrong = page.get_by_role("alert").inner_text()
    sign_in(page, console.url, name="nobody")
    unknown = page.get_by_role("alert").inner_text()
    assert REFUSED in wrong and wrong == unknown
    assert "/console/sign-in" in page.url
    assert [row[:3] for row in audit(sessions)] == [
        (NAME, "sign_in", "refused"),
        ("nobody", "sign_in", "refused"),
    ]
    page.goto(f"{console.url}/console")  # still not signed in
    assert "/console/sign-in" in page.url


def test_after_too_many_failures_even_the_right_password_is_refused_until_the_lock_ends(
    page: Page, console: Console, sessions: sessionmaker[Session]
) -> None:
    for _ in range(console.settings.operator_max_failures):
        sign_in(page, console.url, password="guess")
        expect(page.get_by_role("alert")).to_contain_text(REFUSED)
    sign_in(page, console.url)  # the right password, while locked
    expect(page.get_by_role("alert")).to_contain_text(REFUSED)
    assert "/console/sign-in" in page.url
    with sessions() as s:
        operator = s.scalars(select(Operator).where(Operator.name == NAME)).one()
        assert operator.locked_until is not None and operator.locked_until > utcnow()
        operator.locked_until = utcnow() - timedelta(seconds=1)  # the lock-out's minutes pass
        s.commit()
    sign_in(page, console.url)
    expect(page.get_by_role("heading", name="Afgelopen nacht")).to_be_visible()


def test_a_form_without_its_csrf_token_is_refused(page: Page, console: Console) -> None:
    sign_in(page, console.url)
    answer = page.request.post(f"{console.url}/console/plans/1/reject", form={"x": "1"})
    assert answer.status == 403 and "Laad de pagina opnieuw" in answer.text()
    answer = page.request.post(
        f"{console.url}/console/sign-in", form={"name": NAME, "password": PASSWORD}
    )
    assert answer.status == 403


def test_schools_are_searched_by_brin6_or_name_and_filtered_by_outcome(
    page: Page, console: Console, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s:
        oak, elm = add_school(s, name="De Eik"), add_school(s, name="De Iep")
        add_school(s, name="Zonder toestemming", consent="none")
        add_run(s, oak, "failed", night_start(0), error="source down")
        add_run(s, elm, "succeeded", night_start(0))
        s.commit()
        oak_brin6, elm_brin6 = oak.brin6, elm.brin6
    sign_in(page, console.url)
    page.get_by_role("link", name="Scholen", exact=True).click()
    rows = page.locator("table.schools tbody tr")
    expect(rows).to_have_count(2)  # the school without consent is not listed
    page.get_by_label("Zoek op BRIN6 of naam").fill("eik")
    page.get_by_label("Zoek op BRIN6 of naam").press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(oak_brin6)
    expect(rows.first).to_contain_text("source down")
    page.get_by_label("Zoek op BRIN6 of naam").fill(elm_brin6.lower())
    page.get_by_label("Laatste uitkomst").select_option("succeeded")
    page.get_by_role("button", name="Filteren").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("De Iep")


def test_sync_now_without_a_broker_says_what_to_do(
    page: Page, console: Console, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s:
        school = add_school(s)
        add_run(s, school, "failed", night_start(0), error="the source timed out")
        s.commit()
        brin6 = school.brin6
    sign_in(page, console.url)
    page.get_by_role("link", name="Mislukt", exact=True).click()
    expect(page.get_by_text("the source timed out")).to_be_visible()
    page.get_by_role("button", name=f"{brin6} nu synchroniseren").click()
    expect(page.get_by_role("status")).to_contain_text("KOPPEL_BROKER_URL")
    assert audit(sessions)[-1] == (NAME, "sync_now", "failed", f"school {brin6}")
    page.get_by_role("link", name="Dead letters").click()
    expect(page.get_by_role("alert")).to_contain_text("KOPPEL_BROKER_URL is not set")


def test_an_operator_approves_a_held_plan_and_the_people_are_marked_as_left(
    page: Page,
    serve_console,
    sessions: sessionmaker[Session],
    sim_world,
    sim_plugins,  # noqa: F811
) -> None:
    with sessions() as s:
        school = link(s, sim_world, "quiet")
        assert sync_school(s, school.id, plugins=sim_plugins).outcome == "succeeded"
        sim_world.empty_school(int(school.source_school_id))
        run = sync_school(s, school.id, plugins=sim_plugins)
        assert run.outcome == "held"
        plan = s.scalars(select(HeldPlan).where(HeldPlan.run_id == run.id)).one()
        plan_id, school_id, pupils = plan.id, school.id, plan.counts["pupils_left"]
    console = serve_console(plugins=sim_plugins)
    sign_in(page, console.url)
    page.get_by_role("link", name="Vastgehouden plannen", exact=True).click()
    row = page.locator(f"#plan-{plan_id}")
    expect(row).to_contain_text(f"pupils_left {pupils}")
    row.get_by_role("button", name=f"Plan {plan_id} goedkeuren").click()
    expect(page.get_by_role("status")).to_contain_text(f"Plan {plan_id} is uitgevoerd")
    expect(page.locator(f"#plan-{plan_id}")).to_have_count(0)
    with sessions() as s:
        held = s.get(HeldPlan, plan_id)
        assert held is not None and (held.status, held.decided_by) == ("approved", NAME)
        left = s.scalars(select(Pupil).where(Pupil.school_id == school_id)).all()
        assert len(left) == pupils and all(p.left_at is not None for p in left)
    assert audit(sessions)[-1] == (NAME, "approve", "done", f"plan {plan_id}")


def test_screenshot_of_the_front_page(
    page: Page, console: Console, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """A month of nights renders as a picture; KOPPEL_CONSOLE_SCREENSHOT=docs/img/console.png
    keeps it for the README."""
    picture = Path(os.environ.get("KOPPEL_CONSOLE_SCREENSHOT") or tmp_path / "console.png")
    outcomes = ["succeeded"] * 6 + ["unchanged"] * 30
    with sessions() as s:
        schools = [add_school(s, name=f"School {n}") for n in range(len(outcomes) + 3)]
        for ago in range(30):
            for n, school in enumerate(schools):
                outcome = outcomes[n] if n < len(outcomes) else "held" if ago % 7 == 6 else "failed"
                if ago == 0 and n == len(schools) - 1:
                    outcome = "held"
                if ago % 11 == 3 and n < 4:
                    outcome = "failed"
                minutes = 2 + (n * 37 + ago * 13) % 9 + (ago % 5)
                start = night_start(ago) + timedelta(minutes=n * 1.5)
                error = "Basispoort did not answer within 30 s (SourceUnavailable)"
                run = add_run(s, school, outcome, start, minutes=minutes, error=error)
        held = HeldPlan(
            school_id=schools[-1].id,
            run_id=run.id,
            plan_hash="0" * 64,
            reasons=["23 of 180 pupils (13%) would leave, over the 10% budget"],
            counts={"pupils_left": 23},
        )
        s.add(held)
        s.commit()
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, console.url)
    assert page.locator("svg g.night").count() == 30
    page.screenshot(path=str(picture))
    assert picture.read_bytes().startswith(b"\x89PNG")


def test_removing_an_operator_ends_their_session(
    page: Page, console: Console, sessions: sessionmaker[Session]
) -> None:
    sign_in(page, console.url)
    expect(page.get_by_role("heading", name="Afgelopen nacht")).to_be_visible()
    with sessions() as s:
        remove_operator(s, NAME)  # what 'koppel operators remove anna' does
    page.reload()
    assert "/console/sign-in" in page.url
