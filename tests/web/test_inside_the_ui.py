"""One URL for the page: whatever a browser opens as the whole tab ends up inside the Airflow UI.

Airflow 3.3's UI serves the external view at ``/plugin/tiktok-accounts`` and deep-links into its iframe
with ``/plugin/tiktok-accounts/<path the iframe loads>``. Browsers say how they load a response in
``Sec-Fetch-Dest`` (``document``: the whole tab, ``iframe``: inside the UI); the browser test checks the
same in Chromium.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from page_flow import consent, non_target_user, start_flow

from airflow_provider_tiktok.errors import ACCOUNTS_PAGE_PATH, accounts_page_url, relink_hint
from airflow_provider_tiktok.web.settings import ui_accounts_url

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

TAB = {"Sec-Fetch-Dest": "document"}
FRAME = {"Sec-Fetch-Dest": "iframe"}


def test_every_link_given_to_users_is_the_page_inside_the_ui() -> None:
    assert ACCOUNTS_PAGE_PATH == ui_accounts_url() == "/plugin/tiktok-accounts"
    assert (
        accounts_page_url("https://airflow.example.org/")
        == "https://airflow.example.org/plugin/tiktok-accounts"
    )
    assert relink_hint("@ana").endswith("/plugin/tiktok-accounts")


def test_the_page_opened_as_a_tab_moves_into_the_ui(
    client: TestClient, app_connection: TikTokEmulator
) -> None:
    moved = client.get("/tiktok/accounts/tiktok_account_x/unlink?from=chat", headers=TAB)
    assert moved.status_code == 303
    assert (
        moved.headers["location"]
        == "/plugin/tiktok-accounts/tiktok/accounts/tiktok_account_x/unlink?from=chat"
    )
    framed = client.get("/tiktok/accounts", headers=FRAME)
    assert framed.status_code == 200
    assert "Link a TikTok account" in framed.text
    assert client.get("/tiktok/static/tiktok.css", headers=TAB).status_code == 200  # files stay files


def test_an_error_met_as_a_tab_is_shown_inside_the_ui(
    client: TestClient, app_connection: TikTokEmulator
) -> None:
    outsider = non_target_user(app_connection)
    callback = consent(start_flow(client), outsider.open_id)  # TikTok sends the whole tab back here

    moved = client.get(callback, headers=TAB)

    assert moved.status_code == 303
    location = urlsplit(moved.headers["location"])
    assert location.path == "/plugin/tiktok-accounts/tiktok/problem"
    # The UI loads the path after its route in its iframe: the same error page, status and all.
    page = client.get(f"/tiktok/problem?{location.query}", headers=FRAME)
    assert page.status_code == 403
    assert 'data-problem="non_sandbox_target"' in page.text
    assert "up to an hour" in page.text


def test_a_forged_error_page_is_not_shown(client: TestClient) -> None:
    page = client.get(
        "/tiktok/problem", params={"p": "eyJ0aXRsZSI6IkNhbGwgKzEgNTU1In0.forged"}, headers=FRAME
    )
    assert page.status_code == 404
    assert 'data-problem="problem_expired"' in page.text
    assert "Call +1 555" not in page.text


def test_success_goes_to_the_page_inside_the_ui(client: TestClient, app_connection: TikTokEmulator) -> None:
    user = next(u for u in app_connection.users if u.is_target_user)
    done = client.get(consent(start_flow(client), user.open_id), headers=TAB)
    assert done.status_code == 303
    assert done.headers["location"] == "/plugin/tiktok-accounts"
    assert "code" not in parse_qs(urlsplit(done.headers["location"]).query)
