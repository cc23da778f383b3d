"""The tab's button gives every outcome of the connection check its sentence, in both languages."""

from __future__ import annotations

import pytest
from markupsafe import escape
from starlette.testclient import TestClient

from core.connection import SENTENCES, ConnectionStatus
from plugins.basispoort.sentences import CONNECTION_SENTENCES
from plugins.basispoort.simulator import SimulatorServer
from tests.safety.conftest import unlink
from tests.web.conftest import Tab, make_tab_app
from tests.web.helpers import csrf

NOT_AT_BASISPOORT = "99ZZ99"


@pytest.mark.parametrize(
    ("kind", "outcome"),
    [
        ("consented", ConnectionStatus.CONNECTED),
        ("no_consent", ConnectionStatus.NO_CONSENT),
        ("inactive", ConnectionStatus.INACTIVE),
        ("merged", ConnectionStatus.MERGED),
        (None, ConnectionStatus.NOT_FOUND),
        ("unreachable", ConnectionStatus.ERROR),
    ],
)
def test_the_button_reads_each_outcomes_sentence(
    tab: Tab, sim_server: SimulatorServer, kind: str | None, outcome: ConnectionStatus
) -> None:
    if kind is None:
        brin6 = NOT_AT_BASISPOORT
    else:
        school_id = tab.world.find("consented" if kind == "unreachable" else kind)
        with tab.session() as session:
            unlink(session, tab.world, school_id)
        brin6 = tab.world.school(school_id).brin6
    if kind == "unreachable":
        sim_server.faults.add(".", "5xx", times=100)
    with TestClient(
        make_tab_app(tab.engine, tab.plugins, tab.world), base_url="https://testserver"
    ) as browser:
        page = browser.get(tab.admin_link(brin6)).text

        answer = browser.post(
            f"/school/{brin6}/basispoort/check",
            data={"csrf_token": csrf(page)},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        # Basispoort's own words where the plugin has them, core's (which name no source) else.
        dutch_words, english_words = CONNECTION_SENTENCES.get(outcome, SENTENCES[outcome])
        english = browser.get(answer.headers["location"] + "?lang=en").text
        assert str(escape(english_words)) in english
        assert dutch_words not in english

        browser.post(
            f"/school/{brin6}/basispoort/check",
            data={"csrf_token": csrf(page)},
            follow_redirects=False,
        )
        dutch = browser.get(f"/school/{brin6}/basispoort?lang=nl").text
        assert str(escape(dutch_words)) in dutch
        again = browser.get(f"/school/{brin6}/basispoort").text
        assert str(escape(dutch_words)) not in again  # said once
