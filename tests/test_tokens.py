"""Token lifecycle against the emulator and the real metadata DB: newest set wins, refresh only when needed,
rotated sets persisted at once, expired refresh tokens never sent, failures recorded (the storage backends'
own tests are test_storage.py)."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from airflow.models import Variable

from airflow_provider_tiktok.connections import (
    AccountInfo,
    refresh_failure_variable_key,
    rotation_variable_key,
)
from airflow_provider_tiktok.errors import TikTokAuthError, TikTokConfigError, TikTokTokenPersistError
from airflow_provider_tiktok.hooks.tiktok import TOKEN_PATH, TikTokHook
from airflow_provider_tiktok.ratelimit import SlidingWindowRateLimiter
from airflow_provider_tiktok.testing.connections import account_connection, app_connection
from airflow_provider_tiktok.tokens import TokenSet, TokenStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

SCOPES = "user.info.basic,user.info.stats,video.list"
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture
def emu(tiktok_emulator_factory: Callable[..., TikTokEmulator]) -> TikTokEmulator:
    return tiktok_emulator_factory(users=2, videos=5, non_target_users=0)


def emu_now(emu: TikTokEmulator, offset: timedelta = timedelta(0)) -> datetime:
    return datetime.fromtimestamp(emu.clock.now(), tz=timezone.utc) + offset


@pytest.fixture
def link(emu: TikTokEmulator, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Write the app connection and (re)link an emulator user as ``tiktok_account_u<n>`` (env var)."""
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_DEFAULT", json.dumps(app_connection(emu)))

    def _link(user: int = 0) -> str:
        person, now = emu.target_users[user], emu_now(emu)
        tokens = TokenSet.from_token_response(
            emu.issue_tokens(person.open_id, scopes=SCOPES), now=now, linked_at=now
        )
        info = AccountInfo(
            f"tiktok_account_u{user}", "tiktok_default", person.open_id, person.display_name, None, now
        )
        monkeypatch.setenv(
            f"AIRFLOW_CONN_TIKTOK_ACCOUNT_U{user}", json.dumps(account_connection(info, tokens))
        )
        return info.conn_id

    return _link


@pytest.fixture
def hook_for(emu: TikTokEmulator) -> Iterator[Callable[..., TikTokHook]]:
    hooks: list[TikTokHook] = []

    def _hook(conn_id: str, offset: timedelta = timedelta(0), **kwargs: Any) -> TikTokHook:
        hook = TikTokHook(
            conn_id,
            backoff_base=0.01,
            limiter=SlidingWindowRateLimiter(600),
            clock=lambda: emu_now(emu, offset),
            token_store=kwargs.pop("token_store", TokenStore(persist_backoff=0.0)),
            **kwargs,
        )
        hooks.append(hook)
        return hook

    yield _hook
    for hook in hooks:
        hook.close()


@pytest.fixture(autouse=True)
def _clean_variables() -> Iterator[None]:
    yield
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(Variable).where(Variable.key.like("tiktok%")))


def make_set(
    issued: datetime, *, access: str = "act.a", refresh: str = "rft.r", open_id: str = "o1"
) -> TokenSet:
    return TokenSet(
        open_id=open_id,
        scope=("user.info.basic",),
        access_token=access,
        access_token_expires_at=issued + timedelta(hours=2),
        refresh_token=refresh,
        refresh_token_expires_at=issued + timedelta(days=180),
        issued_at=issued,
    )


# ----------------------------------------------------------------------------- TokenSet


def test_token_set_lifetimes_come_from_the_response() -> None:
    resp = {
        "access_token": "act.1",
        "refresh_token": "rft.1",
        "open_id": "o",
        "scope": "a,b",
        "expires_in": 7200,
    }
    tokens = TokenSet.from_token_response({**resp, "refresh_expires_in": 15552000}, now=T0, linked_at=None)
    assert tokens.access_token_expires_at == T0 + timedelta(hours=2)
    assert tokens.refresh_token_expires_at == T0 + timedelta(days=180)
    assert tokens.refresh_expiry_assumed is False
    assert tokens.scope == ("a", "b")
    assumed = TokenSet.from_token_response(resp, now=T0 + timedelta(days=3), linked_at=T0)
    assert assumed.refresh_expiry_assumed is True
    assert assumed.refresh_token_expires_at == T0 + timedelta(days=180)


def test_needs_refresh_margin_and_days_left() -> None:
    tokens = make_set(T0)  # TikTok's 2-hour access token
    assert not tokens.needs_refresh(T0 + timedelta(minutes=89))
    assert tokens.needs_refresh(T0 + timedelta(minutes=90))  # the refresh task's 30 minutes before expiry
    assert not tokens.needs_refresh(T0 + timedelta(minutes=114), margin=timedelta(minutes=5))
    assert tokens.needs_refresh(T0 + timedelta(minutes=115), margin=timedelta(minutes=5))
    assert tokens.needs_refresh(T0, margin=timedelta(hours=2))  # a margin as long as the token: always
    assert tokens.refresh_days_left(T0 + timedelta(days=170)) == pytest.approx(10.0)
    assert tokens.refresh_expired(T0 + timedelta(days=180))


def test_round_trip_and_repr_without_tokens() -> None:
    tokens = make_set(T0, access="act.secret-access", refresh="rft.secret-refresh")
    assert TokenSet.from_dict(json.loads(json.dumps(tokens.to_dict()))) == tokens
    assert "secret" not in repr(tokens)
    with pytest.raises(TikTokConfigError, match="'refresh_token' is missing"):
        TokenSet.from_dict({**tokens.to_dict(), "refresh_token": ""}, source="Variable 'x'")
    with pytest.raises(TikTokConfigError, match="Variable 'x': field 'issued_at'"):
        TokenSet.from_dict({**tokens.to_dict(), "issued_at": "yesterday"}, source="Variable 'x'")


# ----------------------------------------------------------------------------- TokenStore


def test_newer_of_connection_and_variable_wins(emu: TikTokEmulator, link: Callable[..., str]) -> None:
    conn_id = link()
    store = TokenStore()
    _, linked = store.load(conn_id)
    newer = make_set(linked.issued_at + timedelta(hours=1), access="act.newer", open_id=linked.open_id)
    store.save_rotated(conn_id, newer)
    assert store.load(conn_id)[1] == newer
    older = make_set(linked.issued_at - timedelta(hours=1), access="act.older", open_id=linked.open_id)
    Variable.set(rotation_variable_key(conn_id), json.dumps(older.to_dict()))
    assert store.load(conn_id)[1] == linked  # e.g. the account was relinked after that refresh


def test_variable_of_another_user_is_ignored(emu: TikTokEmulator, link: Callable[..., str]) -> None:
    conn_id = link()
    store = TokenStore()
    _, linked = store.load(conn_id)
    stranger = make_set(linked.issued_at + timedelta(days=1), open_id="someone-else")
    Variable.set(rotation_variable_key(conn_id), json.dumps(stranger.to_dict()))
    assert store.load(conn_id)[1] == linked


def test_broken_rotation_variable_names_the_key(emu: TikTokEmulator, link: Callable[..., str]) -> None:
    conn_id = link()
    Variable.set(rotation_variable_key(conn_id), "{not json")
    with pytest.raises(TikTokConfigError, match=f"Variable 'tiktok_token__{conn_id}' is not valid JSON"):
        TokenStore().load(conn_id)


def test_shadowed_variable_is_a_loud_persist_error(
    emu: TikTokEmulator, link: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id = link()
    stale = make_set(T0)
    monkeypatch.setenv(f"AIRFLOW_VAR_{rotation_variable_key(conn_id).upper()}", json.dumps(stale.to_dict()))
    with pytest.raises(TikTokTokenPersistError, match="shadow"):
        TokenStore(persist_attempts=2, persist_backoff=0.0).save_rotated(
            conn_id, make_set(T0, refresh="rft.new")
        )


# ----------------------------------------------------------------------------- refresh_if_needed


def test_no_refresh_while_the_access_token_is_fresh(
    emu: TikTokEmulator, link: Callable[..., str], hook_for: Callable[..., TikTokHook]
) -> None:
    conn_id = link()
    outcome = hook_for(conn_id).refresh_if_needed()
    assert outcome.refreshed is False
    assert emu.count(TOKEN_PATH) == 0
    assert TokenStore().load_rotated(conn_id) is None


def test_refresh_persists_the_rotated_set_and_chains(
    emu: TikTokEmulator, link: Callable[..., str], hook_for: Callable[..., TikTokHook]
) -> None:
    conn_id = link()
    _, linked = TokenStore().load(conn_id)
    emu.clock.advance(7200 - 300)  # five minutes before the access token expires
    for _ in range(3):  # strict rotation: each refresh must use the previous one's token
        outcome = hook_for(conn_id).refresh_if_needed()
        assert outcome.refreshed is True
        emu.clock.advance(7200 - 300)
    assert emu.count(TOKEN_PATH) == 3
    _, effective = TokenStore().load(conn_id)
    assert effective.refresh_token != linked.refresh_token
    assert effective == TokenStore().load_rotated(conn_id)
    assert [r.status for r in emu.requests if r.path == TOKEN_PATH] == [200, 200, 200]
    assert hook_for(conn_id).get_user_info(fields=["open_id"])["open_id"] == linked.open_id


def test_expired_refresh_token_is_not_sent_and_is_recorded(
    emu: TikTokEmulator, link: Callable[..., str], hook_for: Callable[..., TikTokHook]
) -> None:
    conn_id = link()
    hook = hook_for(conn_id, offset=timedelta(days=400))
    with pytest.raises(TikTokAuthError, match=r"relink account .* at http.*/plugin/tiktok-accounts") as err:
        hook.refresh_if_needed()
    assert err.value.code == "refresh_token_expired"
    assert emu.count(TOKEN_PATH) == 0
    failure = TokenStore().refresh_failure(conn_id)
    assert failure is not None
    assert "relink" in failure["message"]
    link()  # relinking issues a newer set: the failure is stale now
    assert TokenStore().refresh_failure(conn_id) is None


def test_revoked_refresh_token_fails_with_relink_message(
    emu: TikTokEmulator, link: Callable[..., str], hook_for: Callable[..., TikTokHook]
) -> None:
    conn_id = link()
    emu.revoke_all(emu.target_users[0].open_id)
    emu.clock.advance(7200 - 60)
    with pytest.raises(TikTokAuthError, match="invalid_grant") as err:
        hook_for(conn_id, refresh_race_wait=timedelta(0)).refresh_if_needed()
    assert emu.target_users[0].display_name in str(err.value)
    assert Variable.get(refresh_failure_variable_key(conn_id), default_var=None) is not None


def test_few_days_left_warns(
    emu: TikTokEmulator,
    link: Callable[..., str],
    hook_for: Callable[..., TikTokHook],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emu.configure(refresh_ttl=20 * 86400)
    conn_id = link()
    caplog.set_level(logging.WARNING)
    outcome = hook_for(conn_id).refresh_if_needed(warn_days=30)
    assert outcome.refresh_days_left == pytest.approx(20, abs=0.01)
    assert outcome.warning is not None
    assert "must be relinked within 20.0 days" in outcome.warning
    assert "must be relinked" in caplog.text + "".join(capsys.readouterr())
    assert hook_for(conn_id).refresh_if_needed(warn_days=10).warning is None
