"""tiktok-import-accounts against the emulator and the real metadata DB: tokens from the system being
replaced become account connections, each checked with /v2/user/info/, nothing refreshed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_tiktok.connections import REGISTRY_VARIABLE
from airflow_provider_tiktok.hooks.tiktok import TOKEN_PATH, USER_INFO_PATH, TikTokHook
from airflow_provider_tiktok.import_accounts import main
from airflow_provider_tiktok.storage import OrmBackend
from airflow_provider_tiktok.testing.connections import app_connection
from airflow_provider_tiktok.tokens import TokenStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

SCOPES = "user.info.basic,user.info.profile,video.list"


@pytest.fixture
def emu(
    tiktok_emulator_factory: Callable[..., TikTokEmulator], monkeypatch: pytest.MonkeyPatch
) -> TikTokEmulator:
    emulator = tiktok_emulator_factory(users=3, videos=3, non_target_users=0)
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_DEFAULT", json.dumps(app_connection(emulator)))
    return emulator


@pytest.fixture(autouse=True)
def _clean_db() -> Iterator[None]:
    yield
    from airflow.models import Connection, Variable
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(Variable).where(Variable.key.like("tiktok%")))
        session.execute(delete(Connection).where(Connection.conn_id.like("tiktok_account_%")))


def iso(moment: datetime) -> str:
    return moment.isoformat()


def old_system_export(emu: TikTokEmulator) -> list[dict[str, Any]]:
    """What the old integration stored: two live accounts and one whose access token has expired."""
    now = datetime.now(timezone.utc)
    stale_user, *live_users = emu.target_users
    stale = emu.issue_tokens(stale_user.open_id, scopes=SCOPES)
    emu.clock.advance(3 * 3600)  # the stale account's access token has expired at TikTok
    entries = [
        {
            "open_id": stale_user.open_id,
            "access_token": stale["access_token"],
            "refresh_token": stale["refresh_token"],
            "scope": SCOPES,
            "access_token_expires_at": iso(now - timedelta(hours=1)),
            "refresh_token_expires_at": iso(now + timedelta(days=100)),
        }
    ]
    for user in live_users:
        body = emu.issue_tokens(user.open_id, scopes=SCOPES)
        entries.append(
            {
                "open_id": user.open_id,
                "access_token": body["access_token"],
                "refresh_token": body["refresh_token"],
                "scope": SCOPES,
                "expires_in": body["expires_in"],
                "refresh_expires_in": body["refresh_expires_in"],
            }
        )
    return entries


def write(tmp_path: Path, data: Any) -> str:
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_imports_checked_accounts_without_refreshing(
    emu: TikTokEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = old_system_export(emu)
    emu.reset_requests()

    assert main([write(tmp_path, {"accounts": entries}), "--linked-by", "migration"]) == 0

    output = capsys.readouterr().out
    for entry in entries:
        assert entry["access_token"] not in output
        assert entry["refresh_token"] not in output
    assert output.count(": imported - ") == 2
    assert output.count(": imported-unchecked - ") == 1
    assert emu.count(TOKEN_PATH) == 0  # nothing refreshed: no token rotated
    assert emu.count(USER_INFO_PATH) == 3
    registry = json.loads(OrmBackend().get_variable(REGISTRY_VARIABLE) or "[]")
    assert len(registry) == 3
    for conn_id in registry:
        info, tokens = TokenStore(backend=OrmBackend()).load(conn_id)
        assert info.linked_by == "migration"
        entry = next(e for e in entries if e["open_id"] == info.open_id)
        assert tokens.refresh_token == entry["refresh_token"]


def test_an_imported_account_with_an_expired_access_token_is_refreshed_by_the_first_task(
    emu: TikTokEmulator, tmp_path: Path
) -> None:
    entries = old_system_export(emu)
    assert main([write(tmp_path, entries[:1])]) == 0
    (conn_id,) = json.loads(OrmBackend().get_variable(REGISTRY_VARIABLE) or "[]")
    with TikTokHook(conn_id) as hook:
        assert hook.get_user_info(fields=["open_id"])["open_id"] == entries[0]["open_id"]
    assert emu.count(TOKEN_PATH) == 1


def test_bad_entries_are_refused_with_the_reason_and_the_rest_imported(
    emu: TikTokEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, first, second = old_system_export(emu)
    swapped = {**first, "open_id": second["open_id"]}  # first's token under another open_id
    no_refresh = {k: v for k, v in second.items() if k != "refresh_token"}
    no_expiry = {k: v for k, v in first.items() if k != "expires_in"}

    assert main([write(tmp_path, [swapped, no_refresh, no_expiry, second])]) == 1

    output = capsys.readouterr().out.splitlines()
    assert f"belongs to open_id {first['open_id']}" in output[0]
    assert "field 'refresh_token' is missing" in output[1]
    assert "give 'access_token_expires_at' (ISO-8601) or 'expires_in'" in output[2]
    assert ": imported - " in output[3]
    assert len(json.loads(OrmBackend().get_variable(REGISTRY_VARIABLE) or "[]")) == 1


def test_dry_run_writes_nothing(
    emu: TikTokEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([write(tmp_path, old_system_export(emu)[1:]), "--dry-run"]) == 0
    assert capsys.readouterr().out.count(": checked - ") == 2
    assert OrmBackend().get_variable(REGISTRY_VARIABLE) is None


def test_a_file_that_is_not_a_list_of_accounts_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([write(tmp_path, {"accounts": "nope"})]) == 2
    assert "expected a JSON list of accounts" in capsys.readouterr().err
