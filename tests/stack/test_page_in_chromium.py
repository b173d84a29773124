"""Link and relink an account through the accounts page in headless Chromium, signed in with the FAB auth
manager's own login form, on the Celery/PostgreSQL stack. The later runs report the new account and refresh
its tokens (test_postgres_restart.py checks every account of the registry refreshes)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, _accounts_frame, _consent_as, _text

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import FrameLocator, Locator, Page

    from airflow_provider_tiktok.testing.emulator import EmulatedUser
    from tests.stack.stack_support import Deployment

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def page(deployment: Deployment) -> Iterator[Page]:
    """A Chromium tab signed in through FAB's login form as the Admin user."""
    from playwright.sync_api import sync_playwright

    stack = deployment.stack
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(ignore_https_errors=True, viewport={"width": 1440, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(60_000)
        tab.goto(f"{stack.api_url}/")
        tab.wait_for_url(re.compile(r"/auth/login"))
        tab.fill("input[name=username]", "admin")
        tab.fill("input[name=password]", stack.passwords["admin"])
        tab.keyboard.press("Enter")
        tab.wait_for_url(lambda url: "/auth/login" not in url)
        yield tab
        browser.close()


def _consent_through(page: Page, button: Locator, person: EmulatedUser) -> FrameLocator:
    """Press a link/relink ``button``, consent on TikTok (the emulator) as ``person``, back to the page."""
    button.click()
    _consent_as(page, person.username)
    page.wait_for_url(re.compile(r"/plugin/tiktok-accounts"))
    frame = _accounts_frame(page)
    frame.locator(".tt-flash").wait_for()
    return frame


def test_link_and_relink_through_the_page_with_a_fab_login(deployment: Deployment, page: Page) -> None:
    stack = deployment.stack
    person = deployment.emulator.target_users[-1]  # the one target user the fixture left unlinked
    before = deployment.registry()

    page.goto(f"{stack.api_url}/plugin/tiktok-accounts")
    frame = _consent_through(
        page, _accounts_frame(page).get_by_role("button", name="Link a TikTok account"), person
    )
    assert "Linked TikTok account" in _text(frame)
    row = frame.locator("tr[data-conn-id]", has_text=person.open_id)
    conn_id = row.get_attribute("data-conn-id")
    assert conn_id, _text(frame)

    frame = _consent_through(page, row.get_by_role("button", name="Regenerate token"), person)
    assert "Regenerated the token of" in _text(frame)
    assert frame.locator("tr[data-conn-id]").count() == len(before) + 1
    assert deployment.registry() == [*before, conn_id]
    html = frame.locator("html").inner_html() + page.content()
    assert "act." not in html
    assert "rft." not in html
