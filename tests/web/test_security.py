"""Security of the accounts page: sign-in, permissions, CSRF, OAuth state, and no secret in any page."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import pytest
from itsdangerous import URLSafeTimedSerializer
from page_flow import (
    consent,
    csrf_of,
    link_as,
    start_flow,
    stored_extra,
    target_users,
    variable,
    write_app_connection,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi.testclient import TestClient

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

PAGES = ["/tiktok/accounts", "/tiktok/accounts/tiktok_account_x/unlink", "/users/auth/tiktok/callback"]


@pytest.mark.parametrize("path", PAGES)
def test_not_signed_in_goes_to_the_login_page(make_client: Callable[..., TestClient], path: str) -> None:
    response = make_client(None).get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/auth/login")
    assert "next=" in response.headers["location"]


def test_api_client_without_valid_token_gets_401_or_403(make_client: Callable[..., TestClient]) -> None:
    anonymous = make_client(None)
    bad = anonymous.get("/tiktok/accounts", headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 403
    assert anonymous.post("/tiktok/accounts/link", headers={"Authorization": "Basic x"}).status_code == 401


def test_bearer_token_is_accepted(make_client: Callable[..., TestClient]) -> None:
    from tests.web.conftest import jwt_for

    response = make_client(None).get("/tiktok/accounts", headers={"Authorization": f"Bearer {jwt_for('op')}"})
    assert response.status_code == 200


def test_viewer_without_connection_permission_gets_403_with_a_plain_message(
    make_client: Callable[..., TestClient], app_connection: TikTokEmulator
) -> None:
    viewer = make_client("viewer")
    page = viewer.get("/tiktok/accounts")
    assert page.status_code == 403
    assert "signed in as viewer" in page.text
    assert "permission to view connections" in page.text
    assert viewer.post("/tiktok/accounts/link", data={"csrf": "x"}).status_code == 403
    assert viewer.post("/tiktok/accounts/tiktok_account_x/unlink", data={"csrf": "x"}).status_code == 403
    assert variable_keys_with_prefix("tiktok_oauth_pending") == []


def test_post_without_or_with_another_users_csrf_token_is_refused(
    make_client: Callable[..., TestClient], app_connection: TikTokEmulator
) -> None:
    op, admin = make_client("op"), make_client("admin")
    assert op.post("/tiktok/accounts/link").status_code == 403
    refused = op.post("/tiktok/accounts/link", data={"csrf": csrf_of(admin)})
    assert refused.status_code == 403
    assert 'data-problem="csrf"' in refused.text
    assert variable_keys_with_prefix("tiktok_oauth_pending") == []


def test_forged_state_is_refused(client: TestClient, app_connection: TikTokEmulator) -> None:
    callback = consent(start_flow(client), target_users(app_connection)[0].open_id)
    forged = callback.replace("state=", "state=x", 1)
    page = client.get(forged)
    assert page.status_code == 400
    assert 'data-problem="state_forged"' in page.text
    assert json.loads(variable("tiktok_accounts") or "[]") == []


def test_state_signed_with_another_key_is_refused(client: TestClient, app_connection: TikTokEmulator) -> None:
    callback = consent(start_flow(client), target_users(app_connection)[0].open_id)
    other = URLSafeTimedSerializer("attacker-key", salt="airflow-provider-tiktok.oauth-state")
    fake = other.dumps({"nonce": "n", "user": "op", "app_conn_id": "tiktok_default", "redirect_uri": "x"})
    page = client.get(callback.split("state=")[0] + f"state={fake}")
    assert 'data-problem="state_forged"' in page.text


def test_replayed_callback_is_refused(client: TestClient, app_connection: TikTokEmulator) -> None:
    callback = consent(start_flow(client), target_users(app_connection)[0].open_id)
    assert client.get(callback).status_code == 303
    again = client.get(callback)
    assert again.status_code == 400
    assert 'data-problem="state_replayed"' in again.text


def test_callback_with_another_users_state_is_refused(
    make_client: Callable[..., TestClient], app_connection: TikTokEmulator
) -> None:
    op, admin = make_client("op"), make_client("admin")
    callback = consent(start_flow(op), target_users(app_connection)[0].open_id)
    page = admin.get(callback)
    assert page.status_code == 403
    assert 'data-problem="state_other_user"' in page.text
    assert "started by op" in page.text
    assert json.loads(variable("tiktok_accounts") or "[]") == []


def test_expired_state_is_refused(
    client: TestClient, app_connection: TikTokEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    authorize_url = start_flow(client)
    callback = consent(authorize_url, target_users(app_connection)[0].open_id)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 11 * 60)
    page = client.get(callback)
    monkeypatch.undo()
    assert page.status_code == 400
    assert 'data-problem="state_expired"' in page.text


def test_missing_state_is_refused(client: TestClient, app_connection: TikTokEmulator) -> None:
    page = client.get("/users/auth/tiktok/callback?code=abc")
    assert page.status_code == 400
    assert 'data-problem="state_missing"' in page.text


def test_http_redirect_uri_is_refused_before_any_flow_starts(
    client: TestClient, emulator: TikTokEmulator
) -> None:
    write_app_connection(emulator, redirect_uri="http://testserver/users/auth/tiktok/callback")
    page = client.get("/tiktok/accounts")
    assert 'data-problem="app_connection_invalid"' in page.text
    assert "https://testserver/users/auth/tiktok/callback" in page.text
    assert "disabled" in page.text
    refused = client.post("/tiktok/accounts/link", data={"csrf": csrf_of(client)})
    assert refused.status_code == 409
    assert variable_keys_with_prefix("tiktok_oauth_pending") == []


def test_server_reached_over_http_refuses_to_start(
    make_client: Callable[..., TestClient], emulator: TikTokEmulator
) -> None:
    write_app_connection(emulator)
    plain = make_client("op", base_url="http://testserver")
    refused = plain.post("/tiktok/accounts/link", data={"csrf": csrf_of(plain)})
    assert refused.status_code == 409
    assert 'data-problem="redirect_not_https"' in refused.text


def test_redirect_uri_of_another_server_shows_the_uri_to_register(
    client: TestClient, emulator: TikTokEmulator
) -> None:
    write_app_connection(emulator, redirect_uri="https://reports.example.org/users/auth/tiktok/callback")
    refused = client.post("/tiktok/accounts/link", data={"csrf": csrf_of(client)})
    assert refused.status_code == 409
    assert 'data-problem="redirect_mismatch"' in refused.text
    assert "<code>https://testserver/users/auth/tiktok/callback</code>" in refused.text


def test_missing_app_connection_says_how_to_create_it(client: TestClient) -> None:
    page = client.get("/tiktok/accounts")
    assert 'data-problem="app_connection_missing"' in page.text
    assert "client key" in page.text
    assert client.post("/tiktok/accounts/link", data={"csrf": csrf_of(client)}).status_code == 409


def test_no_token_or_secret_in_any_rendered_page(client: TestClient, app_connection: TikTokEmulator) -> None:
    first, second = target_users(app_connection)[:2]
    pages = [link_as(client, first.open_id), client.get("/tiktok/accounts")]
    conn_id = next(line.split('"')[1] for line in pages[-1].text.splitlines() if "data-conn-id=" in line)
    pages.append(link_as(client, second.open_id, f"/tiktok/accounts/{conn_id}/relink"))
    pages.append(client.get(f"/tiktok/accounts/{conn_id}/unlink"))
    pages.append(client.get("/tiktok/accounts"))
    extra = stored_extra(conn_id)
    secrets = [extra["access_token"], extra["refresh_token"], app_connection.client_secret]
    for page in pages:
        for secret in secrets:
            assert secret not in page.text
            assert secret not in json.dumps(dict(page.headers))
        assert "Traceback" not in page.text


def test_pending_flow_keeps_the_verifier_server_side_and_encrypted(
    client: TestClient, app_connection: TikTokEmulator
) -> None:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    authorize_url = start_flow(client)
    with create_session() as session:
        rows = session.scalars(select(Variable).where(Variable.key.startswith("tiktok_oauth_pending"))).all()
        assert len(rows) == 1
        verifier = json.loads(rows[0].get_val())["code_verifier"]
        assert rows[0].is_encrypted
        assert verifier not in rows[0]._val
    assert verifier not in authorize_url


def variable_keys_with_prefix(prefix: str) -> list[str]:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return list(session.scalars(select(Variable.key).where(Variable.key.startswith(prefix))).all())
