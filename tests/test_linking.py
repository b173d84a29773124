"""Domain logic of linking (shared by the page and ``make demo``): real emulator, real metadata DB."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import delete, select

from airflow_provider_tiktok.account_status import list_accounts
from airflow_provider_tiktok.hooks.tiktok import TikTokHook
from airflow_provider_tiktok.linking import WrongAccountError, link_account, unlink_account
from airflow_provider_tiktok.testing.connections import app_connection

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from airflow_provider_tiktok.linking import LinkResult
    from airflow_provider_tiktok.testing.emulator import EmulatedUser, TikTokEmulator

REDIRECT = "https://localhost:8443/users/auth/tiktok/callback"


@pytest.fixture
def emu(tiktok_emulator_factory: Callable[..., TikTokEmulator], airflow_db: Path) -> TikTokEmulator:
    from airflow.models.connection import Connection
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    emulator = tiktok_emulator_factory(redirect_uris=(REDIRECT,))
    app = app_connection(
        emulator,
        redirect_uri=REDIRECT,
        scopes="user.info.basic,user.info.profile,user.info.stats,video.list",
    )
    with create_session() as session:
        session.execute(delete(Connection).where(Connection.conn_type == "tiktok"))
        session.execute(delete(Variable).where(Variable.key.startswith("tiktok_")))
        session.add(
            Connection(
                conn_id="tiktok_default",
                conn_type=app["conn_type"],
                login=app["login"],
                password=app["password"],
                extra=json.dumps(app["extra"]),
            )
        )
    return emulator


def _link(emu: TikTokEmulator, user: EmulatedUser, **kw: Any) -> LinkResult:
    verifier, challenge = TikTokHook.new_pkce_pair()
    code = emu.authorize_code(
        user.open_id,
        redirect_uri=REDIRECT,
        scopes="user.info.basic,user.info.profile,user.info.stats,video.list",
        code_challenge=challenge,
    )
    return link_account(
        app_conn_id="tiktok_default",
        code=code,
        code_verifier=verifier,
        redirect_uri=REDIRECT,
        linked_by="demo",
        **kw,
    )


def _variable(key: str) -> Any:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalar(select(Variable).where(Variable.key == key))
        return None if row is None else row.get_val()


def test_link_list_relink_unlink(emu: TikTokEmulator) -> None:
    alice, bob = [u for u in emu.users if u.is_target_user][:2]
    first = _link(emu, alice)
    second = _link(emu, bob)
    assert first.created
    assert second.created
    assert first.account.username == alice.username
    assert first.account.conn_id.startswith("tiktok_account_")
    assert first.account.conn_id != second.account.conn_id
    assert sorted(json.loads(_variable("tiktok_accounts"))) == sorted(
        [first.account.conn_id, second.account.conn_id]
    )

    again = _link(emu, alice, expected_open_id=alice.open_id)
    assert not again.created
    assert again.account.conn_id == first.account.conn_id

    statuses = list_accounts()
    assert {s.conn_id for s in statuses} == {first.account.conn_id, second.account.conn_id}
    assert [s.status for s in statuses] == ["ok", "ok"]
    assert all(179 < (s.refresh_days_left or 0) <= 180 for s in statuses)  # TikTok: 180 days

    assert unlink_account(first.account.conn_id) is None
    assert emu.count(path="/v2/oauth/revoke/") == 1
    assert json.loads(_variable("tiktok_accounts")) == [second.account.conn_id]
    assert [s.conn_id for s in list_accounts()] == [second.account.conn_id]


def test_wrong_user_on_relink_writes_nothing(emu: TikTokEmulator) -> None:
    alice, bob = [u for u in emu.users if u.is_target_user][:2]
    first = _link(emu, alice)
    with pytest.raises(WrongAccountError, match="consented"):
        _link(emu, bob, expected_open_id=alice.open_id, expected_label=first.account.label)
    assert json.loads(_variable("tiktok_accounts")) == [first.account.conn_id]


def test_unlink_still_removes_the_account_when_tiktok_refuses_the_revoke(emu: TikTokEmulator) -> None:
    alice = next(u for u in emu.users if u.is_target_user)
    result = _link(emu, alice)
    emu.revoke_all(alice.open_id)
    problem = unlink_account(result.account.conn_id)
    assert json.loads(_variable("tiktok_accounts")) == []
    assert problem is not None
    assert "invalid_grant" in problem
    assert "log_id" in problem
