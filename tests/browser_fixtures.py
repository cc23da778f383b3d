"""A real headless Chromium (Debian's package, driven by Playwright) for the page tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.servers import chromium_path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One browser per test module; each test gets its own context (cookies, storage).

    Not per session: Playwright's sync API keeps an event loop running in the main thread while
    it is open, and later modules' asyncio.run() would find it.
    """
    executable = chromium_path()
    with sync_playwright() as playwright:
        # As root the sandbox must be off; the pages are our own.
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(locale="nl-NL", timezone_id="Europe/Amsterdam")
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
