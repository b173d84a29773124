"""Link, relink and unlink through the real routes, with the emulator as TikTok and a real metadata DB."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from markupsafe import escape
from page_flow import (
    consent,
    csrf_of,
    link_as,
    non_target_user,
    start_flow,
    stored_extra,
    target_users,
    variable,
)

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator


def _linked_conn_id(client: TestClient) -> str:
    page = client.get("/tiktok/accounts")
    ids = [line.split('"')[1] for line in page.text.splitlines() if "data-conn-id=" in line]
    assert len(ids) == 1, page.text
    return ids[0]


def test_link_writes_connection_registry_and_shows_the_account(
    client: TestClient, app_connection: TikTokEmulator
) -> None:
    user = target_users(app_connection)[0]
    # A stale rotation Variable from an earlier link must be removed by linking.
    authorize_url = start_flow(client)
    query = parse_qs(urlsplit(authorize_url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == ["https://testserver/users/auth/tiktok/callback"]
    assert "code_verifier" not in authorize_url

    done = client.get(consent(authorize_url, user.open_id))

    assert done.status_code == 303
    assert done.headers["location"] == "/plugin/tiktok-accounts"
    conn_id = _linked_conn_id(client)
    extra = stored_extra(conn_id)
    assert extra["open_id"] == user.open_id
    assert extra["display_name"] == user.display_name
    assert extra["linked_by"] == "op"
    assert extra["app_conn_id"] == "tiktok_default"
    assert json.loads(variable("tiktok_accounts") or "[]") == [conn_id]


def test_success_message_is_shown_once(client: TestClient, app_connection: TikTokEmulator) -> None:
    user = target_users(app_connection)[0]
    link_as(client, user.open_id)
    first = client.get("/tiktok/accounts")
    assert "Linked TikTok account" in first.text
    assert str(escape(user.display_name)) in first.text
    assert "Linked TikTok account" not in client.get("/tiktok/accounts").text


def test_relink_same_user_updates_tokens_and_deletes_rotation_variable(
    client: TestClient, app_connection: TikTokEmulator
) -> None:
    user = target_users(app_connection)[0]
    link_as(client, user.open_id)
    conn_id = _linked_conn_id(client)
    before = stored_extra(conn_id)
    from airflow.models.variable import Variable

    Variable.set(f"tiktok_token__{conn_id}", json.dumps({"stale": True}))
    app_connection.clock.advance(3600)

    done = link_as(client, user.open_id, f"/tiktok/accounts/{conn_id}/relink")

    assert done.status_code == 303, done.text
    after = stored_extra(conn_id)
    assert after["refresh_token"] != before["refresh_token"]
    assert variable(f"tiktok_token__{conn_id}") is None
    assert "Regenerated the token of" in client.get("/tiktok/accounts").text


def test_relink_by_another_tiktok_user_changes_nothing_and_names_the_expected_user(
    client: TestClient, app_connection: TikTokEmulator
) -> None:
    first, second = target_users(app_connection)[:2]
    link_as(client, first.open_id)
    conn_id = _linked_conn_id(client)
    before = stored_extra(conn_id)

    page = link_as(client, second.open_id, f"/tiktok/accounts/{conn_id}/relink")

    assert page.status_code == 409
    assert 'data-problem="wrong_account"' in page.text
    assert f"Expected TikTok user {escape(first.display_name)}" in page.text
    assert str(escape(second.display_name)) in page.text
    assert stored_extra(conn_id) == before
    assert json.loads(variable("tiktok_accounts") or "[]") == [conn_id]
    assert "use Link a TikTok account instead" in page.text  # the second user is not linked yet


def test_wrong_user_page_does_not_offer_to_link_an_account_already_linked(
    client: TestClient, app_connection: TikTokEmulator
) -> None:
    first, second = target_users(app_connection)[:2]
    link_as(client, first.open_id)
    first_id = _linked_conn_id(client)
    link_as(client, second.open_id)
    second_id = json.loads(variable("tiktok_accounts") or "[]")
    second_id.remove(first_id)

    page = link_as(client, second.open_id, f"/tiktok/accounts/{first_id}/relink")

    assert 'data-problem="wrong_account"' in page.text
    assert "Link a TikTok account instead" not in page.text
    assert f"is already linked (connection {second_id[0]})" in page.text


def test_success_message_counts_the_days_left_like_the_list(
    client: TestClient, app_connection: TikTokEmulator
) -> None:
    # The emulator issues TikTok's 180-day refresh tokens: just linked, 180 days, not 179.99 truncated.
    link_as(client, target_users(app_connection)[0].open_id)
    page = client.get("/tiktok/accounts").text
    assert "valid for 180 more days" in page
    assert "in 180 days" in page


def test_non_target_user_is_told_how_to_add_target_users(
    client: TestClient, app_connection: TikTokEmulator
) -> None:
    outsider = non_target_user(app_connection)
    page = link_as(client, outsider.open_id)
    assert page.status_code == 403
    assert 'data-problem="non_sandbox_target"' in page.text
    assert "Target users" in page.text
    assert "up to an hour" in page.text
    assert json.loads(variable("tiktok_accounts") or "[]") == []


def test_consent_denied(client: TestClient, app_connection: TikTokEmulator) -> None:
    page = client.get(consent(start_flow(client), None, deny=True))
    assert page.status_code == 400
    assert 'data-problem="access_denied"' in page.text
    assert "Authorize" in page.text


def test_token_error_shows_tiktok_log_id(client: TestClient, app_connection: TikTokEmulator) -> None:
    callback = consent(start_flow(client), target_users(app_connection)[0].open_id)
    forged_code = callback.replace("code=", "code=x", 1)
    page = client.get(forged_code)
    assert page.status_code == 502
    assert 'data-problem="token_invalid_grant"' in page.text
    assert "TikTok log_id" in page.text
    assert "not given" not in page.text


def test_unlink_revokes_and_removes_connection_and_registry_entry(
    client: TestClient, app_connection: TikTokEmulator
) -> None:
    link_as(client, target_users(app_connection)[0].open_id)
    conn_id = _linked_conn_id(client)
    confirm = client.get(f"/tiktok/accounts/{conn_id}/unlink")
    assert confirm.status_code == 200
    assert "S3" in confirm.text
    app_connection.reset_requests()

    done = client.post(f"/tiktok/accounts/{conn_id}/unlink", data={"csrf": csrf_of(client), "confirm": "yes"})

    assert done.status_code == 303
    assert app_connection.count(path="/v2/oauth/revoke/") == 1
    assert json.loads(variable("tiktok_accounts") or "[]") == []
    page = client.get("/tiktok/accounts")
    assert f"Unlinked {conn_id}" in page.text
    assert "No TikTok account is linked yet" in page.text


def test_unlink_of_unknown_account_is_404(client: TestClient, app_connection: TikTokEmulator) -> None:
    page = client.post("/tiktok/accounts/tiktok_account_nobody/unlink", data={"csrf": csrf_of(client)})
    assert page.status_code == 404
    assert "no longer exists" in page.text


def test_stale_unlink_link_says_the_account_no_longer_exists(
    client: TestClient, app_connection: TikTokEmulator
) -> None:
    user = target_users(app_connection)[0]
    link_as(client, user.open_id)
    conn_id = _linked_conn_id(client)
    confirm = client.get(f"/tiktok/accounts/{conn_id}/unlink")
    assert confirm.status_code == 200
    assert "I want to unlink this account" in confirm.text
    client.post(f"/tiktok/accounts/{conn_id}/unlink", data={"csrf": csrf_of(client), "confirm": "yes"})

    stale = client.get(f"/tiktok/accounts/{conn_id}/unlink")  # the same URL, from history or a chat

    assert stale.status_code == 404
    assert 'data-problem="account_not_found"' in stale.text
    assert "no longer exists" in stale.text
    assert "I want to unlink this account" not in stale.text
