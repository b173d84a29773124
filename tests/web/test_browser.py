"""The accounts page in a real browser, inside a real ``airflow standalone`` with its API server on HTTPS.

Chromium (Debian's, never downloaded) signs in through SimpleAuthManager's login page, opens
"TikTok accounts" from the Airflow navigation, links an account through the emulator's consent page,
regenerates its token, is refused a non-target user, and checks the list. Screenshots go to docs/img/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from airflow_provider_tiktok.testing.airflow_stack import AirflowStack
from airflow_provider_tiktok.testing.connections import app_connection
from airflow_provider_tiktok.testing.emulator import EmulatorConfig, TikTokEmulator
from airflow_provider_tiktok.testing.ports import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import FrameLocator, Page

REPO = Path(__file__).resolve().parents[2]
IMG = REPO / "docs" / "img"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--ignore-certificate-errors",
]

pytestmark = pytest.mark.timeout(420)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AirflowStack, TikTokEmulator]]:
    """Emulator + Airflow on HTTPS with the app connection pointing at the emulator."""
    port = free_port()
    callback = f"https://127.0.0.1:{port}/users/auth/tiktok/callback"
    dags = tmp_path_factory.mktemp("dags")
    with TikTokEmulator(EmulatorConfig(redirect_uris=(callback,), non_target_users=1)) as emulator:
        env = {"AIRFLOW_CONN_TIKTOK_DEFAULT": json.dumps(app_connection(emulator, redirect_uri=callback))}
        airflow = AirflowStack(dags, https=True, api_port=port, env=env, standalone=True)
        with airflow:
            yield airflow, emulator


@pytest.fixture(scope="module")
def page(stack: tuple[AirflowStack, TikTokEmulator]) -> Iterator[Page]:
    """A Chromium page signed in to Airflow through the login form."""
    from playwright.sync_api import sync_playwright

    airflow, _ = stack
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(ignore_https_errors=True, viewport={"width": 1440, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        tab.goto(f"{airflow.api_url}/")
        tab.fill("input[name=username]", "admin")
        tab.fill("input[name=password]", airflow.passwords["admin"])
        tab.keyboard.press("Enter")
        tab.wait_for_url(re.compile(r"^https://127\.0\.0\.1:\d+/(dags|home)?/?$|.*/$"))
        yield tab
        browser.close()


def _open_accounts_from_nav(tab: Page) -> FrameLocator:
    link = tab.get_by_role("link", name="TikTok accounts")
    if not link.count() or not link.first.is_visible():
        tab.get_by_role("button", name=re.compile("Admin")).click()
        link = tab.get_by_role("menuitem", name="TikTok accounts")
    link.first.click()
    tab.wait_for_url(re.compile(r"/plugin/tiktok-accounts"))
    return _accounts_frame(tab)


def _accounts_frame(tab: Page) -> FrameLocator:
    """The accounts page inside the Airflow UI's iframe (re-located on every use: React re-renders it)."""
    frame = tab.frame_locator("iframe[title='TikTok accounts']")
    frame.locator("h1").wait_for()
    return frame


def _text(frame: FrameLocator) -> str:
    return frame.locator("body").inner_text()


def _consent_as(tab: Page, username: str) -> None:
    tab.wait_for_selector("#authorize")
    tab.check(f"[id='user-{username}']")  # usernames hold dots: no #id selector
    tab.click("#authorize")


def test_link_relink_refuse_and_list_in_the_airflow_ui(
    stack: tuple[AirflowStack, TikTokEmulator], page: Page
) -> None:
    airflow, emulator = stack
    target = next(u for u in emulator.users if u.is_target_user)
    outsider = next(u for u in emulator.users if not u.is_target_user)

    frame = _open_accounts_from_nav(page)
    assert "No TikTok account is linked yet" in _text(frame)

    # Link: the form leaves the iframe, the whole tab goes to TikTok's (emulated) consent page.
    frame.get_by_role("button", name="Link a TikTok account").click()
    _consent_as(page, target.username)
    page.wait_for_url(re.compile(r"/plugin/tiktok-accounts"))
    frame = _accounts_frame(page)
    frame.locator("tr[data-conn-id]").first.wait_for()
    assert "Linked TikTok account" in _text(frame)
    assert target.open_id in _text(frame)

    # Regenerate token: same flow, same user.
    frame.get_by_role("button", name="Regenerate token").click()
    _consent_as(page, target.username)
    page.wait_for_url(re.compile(r"/plugin/tiktok-accounts"))
    frame = _accounts_frame(page)
    frame.locator(".tt-flash").wait_for()
    assert "Regenerated the token of" in _text(frame)
    assert frame.locator("tr[data-conn-id]").count() == 1
    assert frame.locator("tr[data-status='ok']").count() == 1
    IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMG / "accounts-list.png"))

    # A user who is not a sandbox target: the callback page says how to add target users.
    frame.get_by_role("button", name="Link a TikTok account").click()
    _consent_as(page, outsider.username)
    page.wait_for_selector("[data-problem='non_sandbox_target']")
    assert "up to an hour" in page.content()
    page.screenshot(path=str(IMG / "error-non-target-user.png"))

    # Back to the list: still one account, and no token anywhere in the page.
    page.click("text=Back to TikTok accounts")
    page.wait_for_url(re.compile(r"/plugin/tiktok-accounts"))
    frame = _accounts_frame(page)
    frame.locator("tr[data-conn-id]").first.wait_for()
    assert frame.locator("tr[data-conn-id]").count() == 1
    rows = airflow.api("GET", "/connections", params={"connection_id_pattern": "tiktok_account"}).json()
    assert rows["total_entries"] == 1
    html = frame.locator("html").inner_html() + page.content()
    assert "act." not in html
    assert "rft." not in html
