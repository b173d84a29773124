"""Hostile or malformed values from TikTok never crash a link after the code exchange with a live token left
at TikTok, and a malformed refresh answer never loses the rotated refresh token (real emulator, real DB)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import delete, select

from airflow_provider_tiktok.connections import AccountInfo
from airflow_provider_tiktok.errors import TikTokApiError
from airflow_provider_tiktok.hooks.tiktok import TikTokHook
from airflow_provider_tiktok.linking import WrongAccountError, link_account
from airflow_provider_tiktok.testing.connections import account_connection, app_connection
from airflow_provider_tiktok.tokens import TokenSet, TokenStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from airflow_provider_tiktok.testing.emulator import EmulatedUser, TikTokEmulator

REDIRECT = "https://localhost:8443/users/auth/tiktok/callback"
SCOPES = "user.info.basic,user.info.profile,user.info.stats,video.list"
REVOKE_PATH = "/v2/oauth/revoke/"


@pytest.fixture
def emu(tiktok_emulator_factory: Callable[..., TikTokEmulator], airflow_db: Path) -> Iterator[TikTokEmulator]:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    emulator = tiktok_emulator_factory(redirect_uris=(REDIRECT,), users=2, videos=2, non_target_users=0)
    app = app_connection(emulator, redirect_uri=REDIRECT, scopes=SCOPES)
    with create_session() as session:
        session.execute(delete(Connection).where(Connection.conn_type == "tiktok"))
        session.add(
            Connection(
                conn_id="tiktok_default",
                conn_type=app["conn_type"],
                login=app["login"],
                password=app["password"],
                extra=json.dumps(app["extra"]),
            )
        )
    yield emulator
    from airflow.models.variable import Variable

    with create_session() as session:
        session.execute(delete(Connection).where(Connection.conn_type == "tiktok"))
        session.execute(delete(Variable).where(Variable.key.startswith("tiktok_")))


def link(emu: TikTokEmulator, user: EmulatedUser, **kwargs: Any) -> Any:
    verifier, challenge = TikTokHook.new_pkce_pair()
    code = emu.authorize_code(user.open_id, redirect_uri=REDIRECT, scopes=SCOPES, code_challenge=challenge)
    return link_account(
        app_conn_id="tiktok_default",
        code=code,
        code_verifier=verifier,
        redirect_uri=REDIRECT,
        linked_by="tests",
        **kwargs,
    )


def account_connections() -> list[str]:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        ids = session.scalars(select(Connection.conn_id).where(Connection.conn_id.like("tiktok_account_%")))
        return list(ids)


def live_tokens(emu: TikTokEmulator, user: EmulatedUser) -> int:
    """How many tokens of ``user`` TikTok still honours (revoking them all reports the count)."""
    return emu.revoke_all(user.open_id)


@pytest.mark.parametrize("username", [12345, {"nested": "object"}, ["a"], "x" * 10_000])
def test_a_hostile_username_refuses_the_link_and_revokes_the_new_token(
    emu: TikTokEmulator, username: Any
) -> None:
    user = emu.target_users[0]
    user.username = username  # what a broken or hostile TikTok could send
    with pytest.raises(TikTokApiError, match=r"unusable 'username'.*not linked.*revoked"):
        link(emu, user)
    assert account_connections() == []
    assert emu.count(REVOKE_PATH) == 1
    assert live_tokens(emu, user) == 0


def test_an_absurd_lifetime_refuses_the_link_and_revokes_the_new_token(emu: TikTokEmulator) -> None:
    emu.configure(access_ttl=10**12)
    user = emu.target_users[0]
    with pytest.raises(TikTokApiError, match=r"unusable token response.*'expires_in'"):
        link(emu, user)
    assert account_connections() == []
    assert emu.count(REVOKE_PATH) == 1
    assert live_tokens(emu, user) == 0


def test_a_relink_consented_by_the_wrong_user_revokes_that_users_token(emu: TikTokEmulator) -> None:
    owner, stranger = emu.target_users
    first = link(emu, owner)
    with pytest.raises(WrongAccountError):
        link(emu, stranger, expected_open_id=owner.open_id, expected_label=first.account.label)
    assert account_connections() == [first.account.conn_id]
    assert live_tokens(emu, stranger) == 0
    assert live_tokens(emu, owner) == 2  # the owner's linked access and refresh tokens are untouched


def test_a_malformed_refresh_answer_keeps_the_rotated_refresh_token(
    emu: TikTokEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = emu.target_users[0]
    now = datetime.fromtimestamp(emu.clock.now(), tz=timezone.utc)
    linked = TokenSet.from_token_response(
        emu.issue_tokens(user.open_id, scopes=SCOPES), now=now, linked_at=now
    )
    info = AccountInfo("tiktok_account_hostile", "tiktok_default", user.open_id, user.display_name, None, now)
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_ACCOUNT_HOSTILE", json.dumps(account_connection(info, linked)))
    emu.configure(access_ttl=10**12)  # TikTok rotates, but its answer's expires_in is garbage
    later = now + timedelta(minutes=1)
    with TikTokHook(info.conn_id, clock=lambda: later) as hook:
        kept = hook.keeper.renew(linked)
    assert kept.refresh_token != linked.refresh_token
    assert kept.access_token_expires_at <= later  # treated as expired: the next use refreshes it
    assert TokenStore().load(info.conn_id)[1] == kept  # persisted before anything else
    emu.configure(access_ttl=7200)
    with TikTokHook(info.conn_id, clock=lambda: later + timedelta(minutes=1)) as hook:
        assert hook.valid_tokens().refresh_token != kept.refresh_token  # the kept token still refreshes
