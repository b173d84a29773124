"""TokenKeeper against the emulator and the real metadata DB: no task fails for its token's age, rotation
races resolve to the winner's set, only a dead refresh token says relink, a lost answer is never retried
blindly and is named as the cause when the account turns out dead."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_tiktok.connections import AccountInfo, refresh_unknown_variable_key
from airflow_provider_tiktok.errors import TikTokAuthError, TikTokRefreshUnknownError
from airflow_provider_tiktok.hooks.tiktok import TOKEN_PATH, VIDEO_LIST_PATH, TikTokHook
from airflow_provider_tiktok.ratelimit import SlidingWindowRateLimiter
from airflow_provider_tiktok.storage import OrmBackend
from airflow_provider_tiktok.testing.connections import account_connection, app_connection
from airflow_provider_tiktok.tokens import TokenSet, TokenStore
from tests.hooks.conftest import delete_tiktok_variables

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

SCOPES = "user.info.basic,user.info.stats,video.list"
CONN_ID = "tiktok_account_keeper"


@pytest.fixture
def emu(tiktok_emulator_factory: Callable[..., TikTokEmulator]) -> TikTokEmulator:
    """TikTok's current lifetimes (2 h / 180 d), 65 videos: 4 pages of at most 20."""
    return tiktok_emulator_factory(users=1, videos=65, non_target_users=0, hang_seconds=6.0)


def emu_now(emu: TikTokEmulator) -> datetime:
    return datetime.fromtimestamp(emu.clock.now(), tz=timezone.utc)


@pytest.fixture
def linked(emu: TikTokEmulator, monkeypatch: pytest.MonkeyPatch) -> TokenSet:
    """One account linked now (connection in the environment, as a deployment may keep it)."""
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_DEFAULT", json.dumps(app_connection(emu)))
    person, now = emu.target_users[0], emu_now(emu)
    tokens = TokenSet.from_token_response(
        emu.issue_tokens(person.open_id, scopes=SCOPES), now=now, linked_at=now
    )
    info = AccountInfo(CONN_ID, "tiktok_default", person.open_id, person.display_name, None, now)
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(account_connection(info, tokens)))
    return tokens


@pytest.fixture
def hook_for(emu: TikTokEmulator) -> Iterator[Callable[..., TikTokHook]]:
    """Hooks on the emulator's clock (so moving it ages the tokens for both sides)."""
    hooks: list[TikTokHook] = []

    def _hook(**kwargs: Any) -> TikTokHook:
        options: dict[str, Any] = {
            "timeout": (2, 3),
            "backoff_base": 0.01,
            "limiter": SlidingWindowRateLimiter(600),
            "clock": lambda: emu_now(emu),
            "token_store": TokenStore(persist_backoff=0.0),
            "refresh_race_wait": timedelta(0),
        }
        hook = TikTokHook(CONN_ID, **{**options, **kwargs})
        hooks.append(hook)
        return hook

    yield _hook
    for hook in hooks:
        hook.close()


@pytest.fixture(autouse=True)
def _clean_variables() -> Iterator[None]:
    yield
    delete_tiktok_variables()


def token_statuses(emu: TikTokEmulator) -> list[int]:
    return [r.status for r in emu.requests if r.path == TOKEN_PATH]


def test_a_report_that_starts_after_its_token_expired_refreshes_first(
    emu: TikTokEmulator, linked: TokenSet, hook_for: Callable[..., TikTokHook]
) -> None:
    emu.clock.advance(3 * 3600)  # e.g. a retry or a cleared task hours after the run's refresh
    hook = hook_for()
    tokens = hook.valid_tokens()
    assert tokens.issued_at > linked.issued_at
    assert len(list(hook.iter_videos())) == 65
    assert TokenStore().load_rotated(CONN_ID) == tokens  # persisted
    assert emu.count(TOKEN_PATH) == 1


def test_a_fresh_token_is_used_as_it_is(
    emu: TikTokEmulator, linked: TokenSet, hook_for: Callable[..., TikTokHook]
) -> None:
    emu.clock.advance(3600)  # one hour left of two: more than the report's five minutes
    assert hook_for().valid_tokens() == linked
    assert emu.count(TOKEN_PATH) == 0


def test_token_expiring_mid_pagination_is_renewed_and_paging_resumes_at_the_cursor(
    emu: TikTokEmulator, linked: TokenSet, hook_for: Callable[..., TikTokHook]
) -> None:
    hook = hook_for()
    hook.valid_tokens()
    seen: list[str] = []
    for video in hook.iter_videos(fields=["id"]):
        seen.append(str(video["id"]))
        if len(seen) == 30:  # in the middle of the second page
            emu.clock.advance(7200 + 1)  # the access token has expired at TikTok
    assert len(seen) == len(set(seen)) == 65  # nothing fetched twice, nothing missed
    # 4 pages + the one refused request, repeated with the same cursor after one refresh.
    assert (emu.count(VIDEO_LIST_PATH), emu.count(TOKEN_PATH)) == (5, 1)
    assert [r.status for r in emu.requests if r.path == VIDEO_LIST_PATH] == [200, 200, 401, 200, 200]


def test_a_token_refused_before_our_data_says_it_expires_is_renewed(
    emu: TikTokEmulator, linked: TokenSet, hook_for: Callable[..., TikTokHook]
) -> None:
    hook = hook_for(clock=lambda: emu_now(emu) - timedelta(hours=3))  # a worker whose clock is behind
    emu.clock.advance(7200 + 1)
    assert hook.get_user_info(fields=["open_id"])["open_id"] == linked.open_id
    assert emu.count(TOKEN_PATH) == 1


def test_the_loser_of_a_rotation_race_waits_for_and_uses_the_winners_set(
    emu: TikTokEmulator, linked: TokenSet, hook_for: Callable[..., TikTokHook]
) -> None:
    """Another task rotated the token at TikTok and has not saved its set yet when this one refreshes."""
    emu.clock.advance(7200 - 60)
    winner_set = hook_for().refresh_tokens(linked)  # the winner's grant: the stored set is now burnt
    polls: list[float] = []

    def winner_saves_while_the_loser_waits(seconds: float) -> None:
        if not polls:
            TokenStore().save_rotated(CONN_ID, winner_set)
        polls.append(seconds)

    loser = hook_for(refresh_race_wait=timedelta(seconds=20), sleep=winner_saves_while_the_loser_waits)
    assert loser.valid_tokens() == winner_set
    assert loser.keeper.grants_sent == 1
    assert token_statuses(emu) == [200, 200]  # the loser's invalid_grant comes in an HTTP 200 body
    assert emu.requests[-1].path == TOKEN_PATH
    assert len(polls) == 1
    assert TokenStore().refresh_failure(CONN_ID) is None  # nobody called the account broken


def test_invalid_grant_with_no_newer_set_after_the_wait_is_final(
    emu: TikTokEmulator, linked: TokenSet, hook_for: Callable[..., TikTokHook]
) -> None:
    emu.revoke_all(linked.open_id)
    emu.clock.advance(7200 - 60)
    polls: list[float] = []
    hook = hook_for(refresh_race_wait=timedelta(seconds=5), sleep=polls.append)
    with pytest.raises(TikTokAuthError, match="Relink"):
        hook.valid_tokens()
    assert polls == [1.0] * 5  # polled the store for the whole wait, then gave up


def test_a_task_that_reads_after_the_winner_sends_no_grant(
    emu: TikTokEmulator, linked: TokenSet, hook_for: Callable[..., TikTokHook]
) -> None:
    emu.clock.advance(7200 - 60)
    winner = hook_for().valid_tokens()
    late = hook_for()
    assert late.keeper.renew(linked) == winner  # it held the old set, the store has the new one
    assert late.keeper.grants_sent == 0
    assert emu.count(TOKEN_PATH) == 1


def test_a_revoked_account_is_broken_and_says_relink(
    emu: TikTokEmulator, linked: TokenSet, hook_for: Callable[..., TikTokHook]
) -> None:
    emu.revoke_all(linked.open_id)
    with pytest.raises(TikTokAuthError) as err:
        list(hook_for().iter_videos())
    message = str(err.value)
    assert message.startswith("Relink TikTok account")  # what to do comes first
    assert "refresh token is no longer valid (invalid_grant" in message
    failure = TokenStore().refresh_failure(CONN_ID)
    assert failure is not None
    assert "Relink" in failure["message"]


def test_a_slow_token_answer_is_still_received(
    emu: TikTokEmulator, linked: TokenSet, hook_for: Callable[..., TikTokHook]
) -> None:
    emu.inject_fault("slow_response", path=TOKEN_PATH, nth=1)  # rotates, answers after 6 s
    emu.clock.advance(7200 - 60)
    hook = hook_for()  # Display API read timeout 3 s; token grants wait far longer
    tokens = hook.valid_tokens()
    assert tokens.issued_at > linked.issued_at
    assert emu.count(TOKEN_PATH) == 1
    assert hook.get_user_info(fields=["open_id"])["open_id"] == linked.open_id


def test_a_lost_answer_is_not_repeated_and_is_named_when_the_account_turns_out_dead(
    emu: TikTokEmulator, linked: TokenSet, hook_for: Callable[..., TikTokHook]
) -> None:
    emu.inject_fault("lost_response", path=TOKEN_PATH, nth=1)  # TikTok rotates, the answer never comes
    emu.clock.advance(7200 - 30)
    with pytest.raises(TikTokRefreshUnknownError):
        hook_for().valid_tokens()  # 30 s left: too little to carry on with the old token
    assert emu.count(TOKEN_PATH) == 1
    assert OrmBackend().get_variable(refresh_unknown_variable_key(CONN_ID)) is not None
    assert TokenStore().refresh_failure(CONN_ID) is None  # not broken yet: the answer may not matter
    with pytest.raises(TikTokAuthError, match="the answer was lost") as err:
        hook_for().valid_tokens()  # the task's next try: invalid_grant, no newer set anywhere
    assert "Relink" in str(err.value)
    assert TokenStore().refresh_failure(CONN_ID) is not None


def test_a_refresh_that_fails_for_now_keeps_using_a_still_valid_token(
    emu: TikTokEmulator, linked: TokenSet, hook_for: Callable[..., TikTokHook]
) -> None:
    emu.inject_fault("500", path=TOKEN_PATH, nth=1)
    emu.clock.advance(7200 - 240)  # four minutes left: refresh wanted, not yet needed
    hook = hook_for()
    assert hook.valid_tokens() == linked
    assert hook.get_user_info(fields=["open_id"])["open_id"] == linked.open_id
    assert TokenStore().refresh_failure(CONN_ID) is None
