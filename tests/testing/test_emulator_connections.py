"""``testing.connections``: the emulator app and account connections work as ``AIRFLOW_CONN_*``."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from airflow_provider_tiktok.connections import AccountInfo
from airflow_provider_tiktok.hooks.tiktok import TikTokHook
from airflow_provider_tiktok.testing.connections import account_connection, app_connection
from airflow_provider_tiktok.tokens import TokenSet

if TYPE_CHECKING:
    import pytest

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

SCOPES = "user.info.basic,user.info.profile,video.list"
REDIRECT = "https://airflow.example.com/users/auth/tiktok/callback"


def test_app_connection_passes_the_connection_test(
    tiktok_emulator: TikTokEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_DEFAULT", json.dumps(app_connection(tiktok_emulator)))

    hook = TikTokHook("tiktok_default")
    ok, message = hook.test_connection()

    assert ok, message
    assert hook.app.client_key == tiktok_emulator.client_key
    assert hook.app.redirect_uri == tiktok_emulator.redirect_uri
    assert hook.app.api_base_url == hook.app.auth_base_url == tiktok_emulator.base_url


def test_overrides_land_in_extra(tiktok_emulator: TikTokEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = app_connection(tiktok_emulator, redirect_uri=REDIRECT, scopes=SCOPES)
    assert conn["extra"]["redirect_uri"] == REDIRECT
    assert conn["extra"]["scopes"] == SCOPES
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_OVERRIDDEN", json.dumps(conn))

    app = TikTokHook("tiktok_overridden").app

    assert app.redirect_uri == REDIRECT
    assert app.scopes == ("user.info.basic", "user.info.profile", "video.list")


def test_account_connection_passes_the_connection_test(
    tiktok_emulator: TikTokEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_DEFAULT", json.dumps(app_connection(tiktok_emulator)))
    user = tiktok_emulator.target_users[0]
    now = datetime.fromtimestamp(tiktok_emulator.clock.now(), tz=timezone.utc)
    response = tiktok_emulator.issue_tokens(user.open_id, scopes="user.info.basic,video.list")
    tokens = TokenSet.from_token_response(response, now=now, linked_at=now)
    info = AccountInfo("tiktok_account_conn_helper", "tiktok_default", user.open_id, user.display_name)
    monkeypatch.setenv(
        "AIRFLOW_CONN_TIKTOK_ACCOUNT_CONN_HELPER", json.dumps(account_connection(info, tokens))
    )

    ok, message = TikTokHook(info.conn_id).test_connection()

    assert ok, message
