"""Fixtures of the hook tests: an emulator, the app connection and linked accounts as AIRFLOW_CONN_* env vars.

Rotation Variables go to the session's real sqlite metadata DB (the ORM path of ``TokenStore``, as on the
API server); they are deleted after each test.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_tiktok.connections import AccountInfo
from airflow_provider_tiktok.hooks.tiktok import TikTokHook
from airflow_provider_tiktok.ratelimit import SlidingWindowRateLimiter
from airflow_provider_tiktok.testing.connections import account_connection, app_connection
from airflow_provider_tiktok.tokens import TokenSet, TokenStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

ALL_SCOPES = "user.info.basic,user.info.profile,user.info.stats,video.list"


class Sleeps(list[float]):
    """A sleep function that records the delays instead of waiting (keeps retry tests fast)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def emu(tiktok_emulator_factory: Callable[..., TikTokEmulator]) -> TikTokEmulator:
    """An emulator with 2 target users of 45 videos each (3 pages: 20 + 20 + 5)."""
    return tiktok_emulator_factory(users=2, videos=45, non_target_users=0, hang_seconds=2.0)


def app_connection_json(emu: TikTokEmulator, **extra: Any) -> str:
    """AIRFLOW_CONN_* JSON of an app connection pointing at ``emu``; ``extra`` overrides fields."""
    return json.dumps(app_connection(emu, **{"scopes": ALL_SCOPES, **extra}))


@pytest.fixture
def app_json() -> Callable[..., str]:
    """:func:`app_connection_json` for test modules (conftest helpers are reached through fixtures)."""
    return app_connection_json


@pytest.fixture
def app_conn(emu: TikTokEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """The app connection ``tiktok_default`` (env var) pointing at the emulator."""
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_DEFAULT", app_connection_json(emu))
    return "tiktok_default"


def emu_now(emu: TikTokEmulator) -> datetime:
    """The emulator's clock as an aware datetime."""
    return datetime.fromtimestamp(emu.clock.now(), tz=timezone.utc)


@pytest.fixture
def link(emu: TikTokEmulator, app_conn: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Link an emulator user as an account connection (env var), like the page does; returns the conn id."""

    def _link(user: int = 0, *, scopes: str = ALL_SCOPES, conn_id: str | None = None) -> str:
        person = emu.target_users[user]
        now = emu_now(emu)
        tokens = TokenSet.from_token_response(
            emu.issue_tokens(person.open_id, scopes=scopes), now=now, linked_at=now
        )
        conn_id = conn_id or f"tiktok_account_{person.username}"
        info = AccountInfo(
            conn_id=conn_id,
            app_conn_id=app_conn,
            open_id=person.open_id,
            display_name=person.display_name,
            username=person.username,
            linked_at=now,
            linked_by="tests",
        )
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(account_connection(info, tokens)))
        return conn_id

    return _link


@pytest.fixture
def sleeps() -> Sleeps:
    """Recorded (not slept) retry delays."""
    return Sleeps()


@pytest.fixture
def make_hook(emu: TikTokEmulator, sleeps: Sleeps) -> Iterator[Callable[..., TikTokHook]]:
    """Build hooks with fast retries, a private rate limiter, the emulator's clock and recorded sleeps."""
    hooks: list[TikTokHook] = []

    def _make(conn_id: str = "tiktok_default", **kwargs: Any) -> TikTokHook:
        options: dict[str, Any] = {
            "timeout": (2, 5),
            "backoff_base": 0.01,
            "backoff_cap": 2.0,
            "limiter": SlidingWindowRateLimiter(600),
            "clock": lambda: emu_now(emu),
            "sleep": sleeps,
            "token_store": TokenStore(persist_backoff=0.0),
            "refresh_race_wait": timedelta(0),  # no racing writer here: invalid_grant is final at once
        }
        options.update(kwargs)
        hook = TikTokHook(conn_id, **options)
        hooks.append(hook)
        return hook

    yield _make
    for hook in hooks:
        hook.close()


@pytest.fixture(autouse=True)
def _clean_variables() -> Iterator[None]:
    """Delete this provider's Variables from the metadata DB after each test."""
    yield
    delete_tiktok_variables()


def delete_tiktok_variables() -> None:
    """Remove every ``tiktok_*`` Variable from the metadata DB."""
    from airflow.models import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(Variable).where(Variable.key.like("tiktok%")))
