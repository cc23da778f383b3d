"""Every run outcome has its words on the tab and its place in the console's chart."""

from __future__ import annotations

from api.console.chart import ORDER
from api.web.school.words import RUN_OUTCOMES
from core.models import Outcome


def test_every_outcome_has_dutch_and_english_words_on_the_tab() -> None:
    assert set(RUN_OUTCOMES) == set(Outcome)
    assert all(nl and en for nl, en in RUN_OUTCOMES.values())


def test_every_outcome_is_stacked_once_in_the_console_chart() -> None:
    assert sorted(ORDER) == sorted(Outcome)
