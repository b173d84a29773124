"""The accounts page in a real browser, inside a real ``airflow standalone`` with its API server on HTTPS.

Chromium (Debian's, never downloaded) signs in through SimpleAuthManager's login page, opens
"TikTok accounts" from the Airflow navigation, links an account through the emulator's consent page,
regenerates its token, is refused a non-target user, and checks the list; then the states the tasks
record (Variables written directly, as the tasks write them), the layout at 1024 px, and that every link
a user is given opens the page inside the UI. Screenshots are written to docs/img/ only with
UPDATE_SCREENSHOTS=1 (else into a temporary folder, still checked to be PNGs).
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from airflow_provider_tiktok.connections import AccountInfo
from airflow_provider_tiktok.errors import accounts_page_url
from airflow_provider_tiktok.testing.connections import account_connection, app_connection
from airflow_provider_tiktok.testing.emulator import EmulatorConfig, TikTokEmulator
from airflow_provider_tiktok.tokens import TokenSet
from dev.airflow_stack import AirflowStack
from dev.ports import free_port

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

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytestmark = [pytest.mark.scheduler, pytest.mark.browser, pytest.mark.timeout(420)]


def _screenshot(tab: Page, name: str, tmp_path: Path) -> None:
    """Screenshot into docs/img/ when UPDATE_SCREENSHOTS=1, else into ``tmp_path`` (tracked files stay)."""
    folder = IMG if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(folder / name))
    assert (folder / name).read_bytes()[:8] == PNG_MAGIC


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


def _inside_the_ui(tab: Page) -> None:
    """The page is shown by the Airflow UI (navigation around its iframe), not as the whole tab."""
    assert re.search(r"/plugin/tiktok-accounts(/|$)", tab.url), tab.url
    assert tab.locator("iframe[title='TikTok accounts']").count() == 1
    assert tab.locator("nav").count() >= 1 or tab.get_by_role("button", name=re.compile("Admin")).count() >= 1


def test_link_relink_refuse_and_list_in_the_airflow_ui(
    stack: tuple[AirflowStack, TikTokEmulator], page: Page, tmp_path: Path
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
    assert "in 180 days" in _text(frame)  # the emulator's (TikTok's) 180-day refresh token, just issued
    _screenshot(page, "accounts-list.png", tmp_path)

    # A user who is not a sandbox target: the error says how to add target users, inside the UI.
    frame.get_by_role("button", name="Link a TikTok account").click()
    _consent_as(page, outsider.username)
    page.wait_for_url(re.compile(r"/plugin/tiktok-accounts/tiktok/problem"))
    frame = _accounts_frame(page)
    frame.locator("[data-problem='non_sandbox_target']").wait_for()
    assert "up to an hour" in _text(frame)
    _inside_the_ui(page)
    _screenshot(page, "error-non-target-user.png", tmp_path)

    # Back to the list: still one account, and no token anywhere in the page.
    frame.get_by_role("link", name="Back to TikTok accounts").click()
    page.wait_for_url(re.compile(r"/plugin/tiktok-accounts(/tiktok/accounts)?$"))
    frame = _accounts_frame(page)
    frame.locator("tr[data-conn-id]").first.wait_for()
    assert frame.locator("tr[data-conn-id]").count() == 1
    rows = airflow.api("GET", "/connections", params={"connection_id_pattern": "tiktok_account"}).json()
    assert rows["total_entries"] == 1
    html = frame.locator("html").inner_html() + page.content()
    assert "act." not in html
    assert "rft." not in html


NOW = datetime.now(timezone.utc)
STATE_ACCOUNTS = (
    "tiktok_account_st_dead",
    "tiktok_account_st_flaky",
    "tiktok_account_st_back",
    "tiktok_account_st_norefresh",
)


def _run(
    ok: bool, *, hours_ago: float, error: str | None = None, needs_relink: bool = False
) -> dict[str, object]:
    at = (NOW - timedelta(hours=hours_ago)).isoformat()
    return {"report_date": "2026-11-27", "at": at, "ok": ok, "error": error, "needs_relink": needs_relink}


@pytest.fixture(scope="module")
def state_accounts(stack: tuple[AirflowStack, TikTokEmulator]) -> Iterator[AirflowStack]:
    """Four accounts whose Variables say what their last tasks learned, written through the REST API."""
    airflow, _ = stack
    records: dict[str, dict[str, object]] = {
        "tiktok_account_st_dead": {  # the report was refused an hour ago, after the tokens were issued
            "report_date": "2026-11-27",
            "newest_report_date": "2026-12-01",
            "rows": 3,
            "keys": [],
            "bucket": "b",
            "written_at": (NOW - timedelta(days=1)).isoformat(),
            "last_run": _run(
                False, hours_ago=1, error="access_token_invalid: revoked at TikTok", needs_relink=True
            ),
        },
        "tiktok_account_st_flaky": {
            "report_date": "2026-11-30",
            "newest_report_date": "2026-11-30",
            "rows": 3,
            "keys": [],
            "bucket": "b",
            "written_at": (NOW - timedelta(days=1)).isoformat(),
            "last_run": _run(False, hours_ago=1, error="TikTok kept answering 503"),
        },
        "tiktok_account_st_back": {  # a backfill of Nov 27 ran last; Dec 1 is the newest date written
            "report_date": "2026-11-27",
            "newest_report_date": "2026-12-01",
            "rows": 3,
            "keys": [],
            "bucket": "b",
            "written_at": NOW.isoformat(),
            "last_run": _run(True, hours_ago=0.5),
        },
        "tiktok_account_st_norefresh": {  # an older record: report_date and written_at only
            "report_date": "2026-11-29",
            "rows": 3,
            "keys": [],
            "bucket": "b",
            "written_at": NOW.isoformat(),
        },
    }
    for conn_id in STATE_ACCOUNTS:
        name = conn_id.removeprefix("tiktok_account_st_")
        info = AccountInfo(
            conn_id=conn_id,
            app_conn_id="tiktok_default",
            open_id=f"oid-{name}",
            display_name=name.title(),
            username=f"st.{name}",
            linked_at=NOW - timedelta(days=10),
            linked_by="admin",
        )
        tokens = TokenSet(
            open_id=f"oid-{name}",
            scope=("user.info.basic", "video.list"),
            access_token=f"act.st-{name}",
            access_token_expires_at=NOW + timedelta(hours=2),
            refresh_token=f"rft.st-{name}",
            refresh_token_expires_at=NOW + timedelta(days=300),
            issued_at=NOW - timedelta(hours=4),
        )
        conn = account_connection(info, tokens)
        body = {"connection_id": conn_id, "conn_type": conn["conn_type"], "extra": json.dumps(conn["extra"])}
        airflow.api("POST", "/connections", json=body).raise_for_status()
        airflow.api(
            "POST",
            "/variables",
            json={"key": f"tiktok_report__{conn_id}", "value": json.dumps(records[conn_id])},
        ).raise_for_status()
    failure = {
        "failed_at": NOW.isoformat(),
        "message": "invalid_grant: refresh token revoked",
        "error": "TikTokAuthError",
    }
    key = "tiktok_refresh_failure__tiktok_account_st_norefresh"
    airflow.api("POST", "/variables", json={"key": key, "value": json.dumps(failure)}).raise_for_status()
    yield airflow
    for conn_id in STATE_ACCOUNTS:
        airflow.api("DELETE", f"/connections/{conn_id}")
        airflow.api("DELETE", f"/variables/tiktok_report__{conn_id}")
    airflow.api("DELETE", f"/variables/{key}")


def _row_text(frame: FrameLocator, conn_id: str) -> str:
    return frame.locator(f"tr[data-conn-id='{conn_id}']").inner_text()


def test_the_page_shows_what_the_last_tasks_learned(state_accounts: AirflowStack, page: Page) -> None:
    page.goto(accounts_page_url(state_accounts.api_url))
    frame = _accounts_frame(page)
    frame.locator("tr[data-conn-id='tiktok_account_st_back']").wait_for()
    _inside_the_ui(page)

    dead = _row_text(frame, "tiktok_account_st_dead")
    assert "Broken — relink" in dead
    assert "last report failed at" in dead
    assert "access_token_invalid: revoked at TikTok" in dead
    assert "Regenerate the token, then clear the failed report task" in dead
    assert "newest 2026-12-01" in dead

    flaky = _row_text(frame, "tiktok_account_st_flaky")
    assert "Report failed" in flaky
    assert "TikTok kept answering 503" in flaky
    assert "Clear the failed report task in Airflow to retry" in flaky

    back = _row_text(frame, "tiktok_account_st_back")
    assert "OK" in back
    assert "newest 2026-12-01" in back
    assert "last run 2026-11-27: written" in back

    norefresh = _row_text(frame, "tiktok_account_st_norefresh")
    assert "Broken — relink" in norefresh
    assert "refresh token revoked" in norefresh
    assert "newest 2026-11-29" in norefresh  # an older record: its date is the newest known

    statuses = frame.locator("tr[data-conn-id]").evaluate_all("rows => rows.map(r => r.dataset.status)")
    assert statuses.index("broken") < statuses.index("report_failed") < statuses.index("ok")
    html = frame.locator("html").inner_html()
    assert "act.st-" not in html
    assert "rft.st-" not in html


def test_actions_stay_inside_the_viewport_at_1024_px(state_accounts: AirflowStack, page: Page) -> None:
    page.set_viewport_size({"width": 1024, "height": 768})
    try:
        page.goto(accounts_page_url(state_accounts.api_url))
        frame = _accounts_frame(page)
        frame.locator("tr[data-conn-id='tiktok_account_st_back']").wait_for()
        actions = [
            frame.get_by_role("button", name="Regenerate token"),
            frame.get_by_role("link", name="Unlink…"),
        ]
        for locator in actions:
            assert locator.count() >= len(STATE_ACCOUNTS)
            for index in range(locator.count()):
                control = locator.nth(index)
                # Scroll the page vertically only: a horizontal scroll of the table would hide the bug.
                control.evaluate("el => window.scrollBy(0, el.getBoundingClientRect().top - innerHeight / 2)")
                box = control.bounding_box()
                assert box is not None
                assert box["x"] >= 0, (index, box)
                assert box["x"] + box["width"] <= 1024, (index, box)
                # Painted where it is, not clipped by the table's scroll box: a click there hits it.
                hit = control.evaluate(
                    "el => { const r = el.getBoundingClientRect();"
                    " const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
                    " return at === el || el.contains(at); }"
                )
                assert hit, (index, box)
        assert frame.locator(".tt-table-wrap").evaluate("el => el.scrollLeft") == 0
    finally:
        page.set_viewport_size({"width": 1440, "height": 900})


def test_links_given_to_users_open_the_page_inside_the_ui(state_accounts: AirflowStack, page: Page) -> None:
    # An old bookmark of the bare page, and a stale unlink link, both land inside the UI.
    page.goto(f"{state_accounts.api_url}/tiktok/accounts")
    page.wait_for_url(re.compile(r"/plugin/tiktok-accounts/tiktok/accounts$"))
    _accounts_frame(page).locator("tr[data-conn-id]").first.wait_for()
    _inside_the_ui(page)

    page.goto(f"{state_accounts.api_url}/tiktok/accounts/tiktok_account_st_gone/unlink")
    page.wait_for_url(re.compile(r"/plugin/tiktok-accounts/tiktok/accounts/tiktok_account_st_gone/unlink$"))
    frame = _accounts_frame(page)
    frame.locator("[data-problem='account_not_found']").wait_for()
    assert "no longer exists" in _text(frame)
    assert frame.get_by_role("checkbox").count() == 0  # no confirmation for an account that is gone
    _inside_the_ui(page)

    # The confirmation of a real account keeps the navigation too.
    page.goto(accounts_page_url(state_accounts.api_url))
    frame = _accounts_frame(page)
    frame.locator("tr[data-conn-id='tiktok_account_st_back'] a", has_text="Unlink").click()
    frame.get_by_role("checkbox").wait_for()
    assert "Unlink @st.back?" in _text(frame)
    _inside_the_ui(page)
