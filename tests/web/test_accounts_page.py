"""The accounts list: every column, statuses (ok / expiring / expired / broken) and their order."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.connections import AccountInfo, account_connection_extra
from airflow_provider_tiktok.tokens import OrmBackend, TokenSet, TokenStore

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

NOW = datetime.now(timezone.utc)


def _account(conn_id: str, name: str, refresh_days: float, **kw: Any) -> None:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    info = AccountInfo(
        conn_id=conn_id,
        app_conn_id="tiktok_default",
        open_id=f"oid-{name}",
        display_name=name.title(),
        username=name,
        linked_at=NOW - timedelta(days=10),
        linked_by="alice",
    )
    tokens = TokenSet(
        open_id=f"oid-{name}",
        scope=("user.info.basic", "video.list"),
        access_token=f"act.secret-{name}",
        access_token_expires_at=NOW + timedelta(hours=20),
        refresh_token=f"rft.secret-{name}",
        refresh_token_expires_at=NOW + timedelta(days=refresh_days),
        issued_at=NOW - timedelta(hours=4),
        **kw,
    )
    with create_session() as session:
        session.add(
            Connection(
                conn_id=conn_id, conn_type="tiktok", extra=json.dumps(account_connection_extra(info, tokens))
            )
        )


def _set_variable(key: str, value: object) -> None:
    from airflow.models.variable import Variable

    Variable.set(key, json.dumps(value))


def test_columns_statuses_and_order(client: TestClient, app_connection: TikTokEmulator) -> None:
    _account("tiktok_account_fine", "fine", 300)
    _account("tiktok_account_soon", "soon", 12)
    _account("tiktok_account_gone", "gone", -2)
    _account("tiktok_account_broke", "broke", 200)
    _set_variable(
        "tiktok_accounts",
        ["tiktok_account_fine", "tiktok_account_soon", "tiktok_account_gone", "tiktok_account_broke"],
    )
    TokenStore(backend=OrmBackend()).record_refresh_failure(
        "tiktok_account_broke", "TikTok rejected the refresh token (invalid_grant)"
    )
    _set_variable(
        "tiktok_report__tiktok_account_fine",
        {"report_date": "2026-01-31", "rows": 50, "keys": ["k"], "written_at": "2026-02-01T00:05:00+00:00"},
    )

    page = client.get("/tiktok/accounts")

    assert page.status_code == 200
    order = [line.split('"')[1] for line in page.text.splitlines() if "data-conn-id=" in line]
    assert order == [
        "tiktok_account_broke",
        "tiktok_account_gone",
        "tiktok_account_soon",
        "tiktok_account_fine",
    ]
    text = page.text
    assert 'data-status="broken"' in text
    assert "invalid_grant" in text
    assert 'data-status="expired"' in text
    assert "expired 2 days ago" in text
    assert 'data-status="expiring"' in text
    assert "in 11 days" in text
    assert "@fine" in text
    assert "oid-fine" in text
    assert "by alice" in text
    assert "<code>video.list</code>" in text
    assert "2026-01-31" in text
    assert "written 2026-02-01 00:05 UTC" in text
    assert "secret-" not in text


def test_rotation_variable_newer_than_connection_is_what_the_page_shows(
    client: TestClient, app_connection: TikTokEmulator
) -> None:
    _account("tiktok_account_rot", "rot", 5)
    rotated = TokenSet(
        open_id="oid-rot",
        scope=("user.info.basic",),
        access_token="act.new",
        refresh_token="rft.new",
        access_token_expires_at=NOW + timedelta(hours=23),
        refresh_token_expires_at=NOW + timedelta(days=90),
        issued_at=NOW,
    )
    _set_variable("tiktok_token__tiktok_account_rot", rotated.to_dict())
    page = client.get("/tiktok/accounts")
    assert 'data-status="ok"' in page.text
    assert "in 89 days" in page.text


def test_unreadable_account_is_shown_as_broken_not_an_error(
    client: TestClient, app_connection: TikTokEmulator
) -> None:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        session.add(
            Connection(conn_id="tiktok_account_bad", conn_type="tiktok", extra='{"app_conn_id": "x"}')
        )
    page = client.get("/tiktok/accounts")
    assert page.status_code == 200
    assert 'data-conn-id="tiktok_account_bad" data-status="broken"' in page.text
    assert "open_id" in page.text


def test_assumed_refresh_expiry_is_labelled(client: TestClient, app_connection: TikTokEmulator) -> None:
    _account("tiktok_account_assumed", "assumed", 200, refresh_expiry_assumed=True)
    assert "assumed: TikTok sent no lifetime" in client.get("/tiktok/accounts").text


def test_stylesheet_has_light_and_dark(client: TestClient) -> None:
    css = client.get("/tiktok/static/tiktok.css")
    assert css.status_code == 200
    assert "prefers-color-scheme: dark" in css.text
