"""The accounts list: every column, statuses (ok / expiring / expired / broken) and their order."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.connections import AccountInfo, account_connection_extra
from airflow_provider_tiktok.storage import OrmBackend
from airflow_provider_tiktok.tokens import TokenSet, TokenStore

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
    assert "in 12 days" in text  # 12 days less a few seconds: rounded, not truncated
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
    assert "in 90 days" in page.text


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


def _row(text: str, conn_id: str) -> str:
    start = text.index(f'data-conn-id="{conn_id}"')
    return text[start : text.index("</tr>", start)]


def _run(*, ok: bool, at: datetime, needs_relink: bool = False, error: str | None = None) -> dict[str, Any]:
    return {
        "report_date": "2026-11-27",
        "at": at.isoformat(),
        "ok": ok,
        "error": error,
        "needs_relink": needs_relink,
    }


def _report(last_run: dict[str, Any]) -> dict[str, Any]:
    return {
        "report_date": "2026-11-27",
        "newest_report_date": "2026-12-01",
        "rows": 3,
        "keys": ["k"],
        "bucket": "b",
        "written_at": (NOW - timedelta(hours=1)).isoformat(),
        "last_run": last_run,
    }


def test_a_report_refused_for_want_of_a_relink_makes_the_account_broken(
    client: TestClient, app_connection: TikTokEmulator
) -> None:
    # The tokens were issued 4 hours ago; the report failed an hour ago: only a relink fixes it.
    _account("tiktok_account_dead", "dead", 300)
    error = "access_token_invalid: the access token is invalid"
    _set_variable(
        "tiktok_report__tiktok_account_dead",
        _report(_run(ok=False, at=NOW - timedelta(hours=1), needs_relink=True, error=error)),
    )
    row = _row(client.get("/tiktok/accounts").text, "tiktok_account_dead")
    assert 'data-status="broken"' in row
    assert "Broken — relink" in row
    assert "last report failed at" in row
    assert "access_token_invalid" in row
    assert "Regenerate the token, then clear the failed report task" in row
    assert "newest <strong>2026-12-01</strong>" in row  # newest date, not the last one written


def test_a_relink_refusal_older_than_the_tokens_no_longer_makes_it_broken(
    client: TestClient, app_connection: TikTokEmulator
) -> None:
    _account("tiktok_account_fixed", "fixed", 300)  # tokens issued 4 hours ago, by a relink
    _set_variable(
        "tiktok_report__tiktok_account_fixed",
        _report(_run(ok=False, at=NOW - timedelta(hours=5), needs_relink=True, error="revoked")),
    )
    row = _row(client.get("/tiktok/accounts").text, "tiktok_account_fixed")
    assert 'data-status="ok"' in row
    assert "The token was regenerated since: clear the failed report task" in row


def test_a_report_that_failed_otherwise_says_when_why_and_how_to_retry(
    client: TestClient, app_connection: TikTokEmulator
) -> None:
    _account("tiktok_account_flaky", "flaky", 300)
    _set_variable(
        "tiktok_report__tiktok_account_flaky",
        _report(_run(ok=False, at=NOW - timedelta(hours=1), error="TikTok kept answering 503")),
    )
    row = _row(client.get("/tiktok/accounts").text, "tiktok_account_flaky")
    assert 'data-status="report_failed"' in row
    assert "Report failed" in row
    assert "TikTok kept answering 503" in row
    assert "Clear the failed report task in Airflow to retry" in row


def test_newest_report_date_and_last_run_are_shown_separately(
    client: TestClient, app_connection: TikTokEmulator
) -> None:
    # A backfill of Nov 27 ran last, after Dec 1 was written: the newest date is still Dec 1.
    _account("tiktok_account_back", "back", 300)
    _set_variable(
        "tiktok_report__tiktok_account_back",
        _report(_run(ok=True, at=datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc))),
    )
    row = _row(client.get("/tiktok/accounts").text, "tiktok_account_back")
    assert 'data-status="ok"' in row
    assert "newest <strong>2026-12-01</strong>" in row
    assert "last run 2026-11-27: written 2026-12-01 09:30 UTC" in row


def test_a_current_refresh_failure_makes_the_account_broken(
    client: TestClient, app_connection: TikTokEmulator
) -> None:
    _account("tiktok_account_norefresh", "norefresh", 300)
    TokenStore(backend=OrmBackend()).record_refresh_failure(
        "tiktok_account_norefresh", "invalid_grant: refresh token revoked"
    )
    row = _row(client.get("/tiktok/accounts").text, "tiktok_account_norefresh")
    assert 'data-status="broken"' in row
    assert "Broken — relink" in row
    assert "refresh token revoked" in row
