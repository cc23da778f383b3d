"""The "briefly unavailable" page in a real browser: the tab's own PostgreSQL stopped under it.

A private PostgreSQL (never the shared one) is stopped while an administrator has the school's
tab open; the reload and a form posted meanwhile get the page saying so, in the visitor's
language, with a way to try again that works once the database is back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Response, expect

from api.errors import RETRY_AFTER_SECONDS
from core.db import make_engine
from core.plugins import Plugins
from plugins.basispoort.simulator import World
from tests.chaos.servers import PrivateServers
from tests.conftest import migrated_database
from tests.live_server import serve
from tests.safety.conftest import link
from tests.web.conftest import Tab, make_tab_app
from tests.web.helpers import admin_networks, open_tab

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

AWAY_NL = "koppel kan zijn database nu niet bereiken; er is niets opgeslagen of veranderd."
AWAY_EN = "koppel cannot reach its database right now; nothing was saved or changed."
# What a visitor must never read: a traceback, the driver's or SQLAlchemy's words, a statement.
INTERNALS = re.compile(
    r"Traceback|psycopg|sqlalchemy|OperationalError|SELECT|INSERT|connection refused", re.I
)
NETWORK = "203.0.113.0/24"


@pytest.fixture
def away_tab(
    private_postgres: PrivateServers, tab_plugins: Plugins, sim_world: World, tmp_path: Path
) -> Iterator[Tab]:
    """The tab served on a database of its own on the private PostgreSQL, a school linked."""
    engine = make_engine(migrated_database("postgres", tmp_path))
    try:
        with serve(make_tab_app(engine, tab_plugins, sim_world)) as url:
            tab = Tab(url, engine, sim_world, tab_plugins, None)  # type: ignore[arg-type]
            with tab.session() as session:
                link(session, sim_world, "consented")
            yield tab
    finally:
        engine.dispose()


def the_unavailable_page(page: Page, answer: Response | None, lang: str) -> None:
    """What every visitor must get: 503, Retry-After, words in their language, no internals."""
    assert answer is not None
    assert answer.status == 503
    assert answer.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    heading = "Briefly unavailable" if lang == "en" else "Even niet beschikbaar"
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.get_by_role("status")).to_have_text(AWAY_EN if lang == "en" else AWAY_NL)
    visible = page.locator("body").inner_text()
    assert not INTERNALS.search(visible), visible


def test_the_tab_reloaded_while_the_database_is_away_says_so_and_comes_back(
    away_tab: Tab, private_postgres: PrivateServers, browser: Browser
) -> None:
    brin6 = away_tab.world.school(away_tab.world.find("consented")).brin6
    # An English browser whose visitor chose English on the tab (koppel's pages follow the
    # visitor's choice, not the browser's language: api/web/i18n.py).
    context = browser.new_context(locale="en-GB", timezone_id="Europe/Amsterdam")
    try:
        page = context.new_page()
        open_tab(page, away_tab, brin6)
        page.get_by_role("link", name="English").click()
        expect(page.get_by_role("button", name="Set up/check connection")).to_be_visible()

        private_postgres.stop_postgres("fast")
        the_unavailable_page(page, page.reload(), "en")
        # The language switch works on this page too.
        with page.expect_navigation() as dutch:
            page.get_by_role("link", name="Nederlands").click()
        the_unavailable_page(page, dutch.value, "nl")

        private_postgres.start_postgres()
        with page.expect_navigation() as again:
            page.get_by_role("link", name="Probeer opnieuw").click()
        assert again.value is not None and again.value.status == 200
        expect(page.get_by_role("heading", level=1)).to_contain_text(brin6)
        expect(page.get_by_role("button", name="Verbinding instellen/controleren")).to_be_visible()
    finally:
        context.close()


def test_a_network_added_while_the_database_is_away_is_not_stored_and_can_be_added_after(
    away_tab: Tab, private_postgres: PrivateServers, page: Page
) -> None:
    school = away_tab.school(away_tab.world.school(away_tab.world.find("consented")).brin6)
    assert school is not None
    open_tab(page, away_tab, school.brin6)
    page.get_by_label("IP-adres of netwerk").fill(NETWORK)

    private_postgres.stop_postgres("fast")
    with page.expect_navigation() as posted:
        page.get_by_role("button", name="Netwerk toevoegen").click()
    the_unavailable_page(page, posted.value, "nl")
    # Switching language must not turn the form's address into a GET of a form-only path.
    with page.expect_navigation() as english:
        page.get_by_role("link", name="English").click()
    the_unavailable_page(page, english.value, "en")

    private_postgres.start_postgres()
    assert admin_networks(away_tab, school) == []  # nothing was stored
    with page.expect_navigation() as again:
        page.get_by_role("link", name="Try again").click()
    assert again.value is not None and again.value.status == 200
    page.get_by_label("IP address or network").fill(NETWORK)
    page.get_by_role("button", name="Add network").click()
    expect(page.get_by_role("status")).to_have_text(f"{NETWORK} was added.")
    assert admin_networks(away_tab, school) == [NETWORK]
