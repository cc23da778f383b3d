"""Helpers of the school tab's tests."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from core.models import School, SchoolNetwork
from tests.web.conftest import Tab


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def open_tab(page: Page, tab: Tab, brin6: str) -> None:
    """As the LVS does: mint a one-time link for its administrator and open it."""
    page.goto(tab.url + tab.admin_link(brin6))
    expect(page.get_by_role("heading", level=1)).to_contain_text(brin6)


def admin_networks(tab: Tab, school: School) -> list[str]:
    """The networks the school's administrator entered, as stored."""
    with tab.session() as session:
        return list(
            session.scalars(
                select(SchoolNetwork.network).where(
                    SchoolNetwork.school_id == school.id, SchoolNetwork.origin == "admin"
                )
            )
        )
