"""Every emulator fault kind against the hook: what is retried, how long we wait, what is never retried."""

from __future__ import annotations

import http.server
import json
import threading
from typing import TYPE_CHECKING, Any

import pytest
import requests

from airflow_provider_tiktok.errors import TikTokAuthError, TikTokRefreshUnknownError, TikTokTransientError
from airflow_provider_tiktok.hooks._transport import (
    MIN_RETRY_AFTER,
    RetryPolicy,
    Transport,
    parse_retry_after,
)
from airflow_provider_tiktok.hooks.tiktok import TOKEN_PATH, USER_INFO_PATH, VIDEO_LIST_PATH
from airflow_provider_tiktok.ratelimit import SlidingWindowRateLimiter

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_tiktok.hooks.tiktok import TikTokHook
    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

RETRIED_KINDS = ["429", "500", "503", "timeout", "reset", "malformed_json", "error_in_200"]


@pytest.mark.parametrize("kind", RETRIED_KINDS)
def test_transient_fault_on_user_info_is_retried(
    kind: str,
    emu: TikTokEmulator,
    link: Callable[..., str],
    make_hook: Callable[..., TikTokHook],
    sleeps: list[float],
) -> None:
    hook = make_hook(link(), timeout=(1, 0.5))
    emu.inject_fault(kind, path=USER_INFO_PATH, nth=1)
    emu.reset_requests()
    assert hook.get_user_info()["open_id"] == emu.target_users[0].open_id
    assert hook.transport.attempts == 2
    # a hung request is recorded by the emulator only when it gives up on it, after the test
    assert emu.count(USER_INFO_PATH) == (1 if kind == "timeout" else 2)
    assert len(sleeps) == 1


@pytest.mark.parametrize("kind", RETRIED_KINDS)
def test_transient_fault_mid_listing_resumes_from_the_same_cursor(
    kind: str, emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook]
) -> None:
    hook = make_hook(link(), timeout=(1, 0.5))
    cursors: list[int | None] = []
    hook.session.hooks["response"].append(
        lambda r, *a, **k: cursors.append(json.loads(r.request.body).get("cursor"))
    )
    emu.inject_fault(kind, path=VIDEO_LIST_PATH, nth=2)
    videos = list(hook.iter_videos())
    assert [v["id"] for v in videos] == [v["id"] for v in emu.target_users[0].videos]
    # a hung/reset request gives no response to record; the ones that came back never go back to page one
    assert cursors.count(None) == 1
    assert cursors[-1] is not None
    assert hook.transport.attempts == 3 + 1


def test_rate_limited_refresh_grant_is_retried(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook]
) -> None:
    hook = make_hook(link())
    emu.inject_fault("429", path=TOKEN_PATH, nth=1)  # a 429 proves TikTok did not process the grant
    emu.reset_requests()
    assert hook.refresh_tokens(hook.tokens).open_id == emu.target_users[0].open_id
    assert emu.count(TOKEN_PATH) == 2


@pytest.mark.parametrize("fault", ["error_in_200", "500", "malformed_json", "reset", "lost_response"])
def test_refresh_grant_is_never_repeated_once_sent(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook], fault: str
) -> None:
    hook = make_hook(link())
    emu.inject_fault(fault, path=TOKEN_PATH, nth=1)
    emu.reset_requests()
    with pytest.raises(TikTokRefreshUnknownError, match="not repeated blindly"):
        hook.refresh_tokens(hook.tokens)
    assert emu.count(TOKEN_PATH) == 1


def test_retry_after_is_honoured(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook], sleeps: list[float]
) -> None:
    emu.configure(rate_window_seconds=1.5, send_retry_after=True)  # the 429 fault sends Retry-After: 2
    hook = make_hook(link(), backoff_base=0.01, backoff_cap=5.0)
    emu.inject_fault("429", path=USER_INFO_PATH, nth=1)
    hook.get_user_info()
    assert sleeps == [2.0]


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=8.0)
    for retry, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 8.0)]:
        delays = {policy.delay(retry) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jitter
    assert policy.delay(1, retry_after=30) == 8.0  # an absurd Retry-After is capped
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None


def test_retries_are_bounded_then_transient_error(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook], sleeps: list[float]
) -> None:
    hook = make_hook(link(), max_retries=3)
    emu.inject_fault("503", path=USER_INFO_PATH)
    emu.reset_requests()
    with pytest.raises(TikTokTransientError, match="still failing after 4 attempts") as err:
        hook.get_user_info()
    assert emu.count(USER_INFO_PATH) == 4
    assert len(sleeps) == 3
    assert err.value.account is not None
    assert err.value.account.startswith("@")


def test_auth_errors_are_not_retried_and_say_relink(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook], sleeps: list[float]
) -> None:
    hook = make_hook(link())
    emu.revoke_all(emu.target_users[0].open_id)
    emu.reset_requests()
    with pytest.raises(TikTokAuthError) as err:
        list(hook.iter_videos())
    assert err.value.code == "invalid_grant"  # the refused access token was renewed once: refused too
    assert f"relink account @{emu.target_users[0].username} at http" in str(err.value)
    assert "/plugin/tiktok-accounts" in str(err.value)
    assert (emu.count(VIDEO_LIST_PATH), emu.count(TOKEN_PATH)) == (1, 1)
    assert sleeps == []


def test_scope_not_authorized_is_an_auth_error(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook]
) -> None:
    hook = make_hook(link(scopes="user.info.basic"))  # no video.list
    with pytest.raises(TikTokAuthError, match="scope_not_authorized"):
        list(hook.iter_videos())


def test_stats_fields_are_asked_only_when_the_scope_allows(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook]
) -> None:
    user = make_hook(link(scopes="user.info.basic,video.list")).get_user_info()
    assert "follower_count" not in user
    assert user["display_name"] == emu.target_users[0].display_name


def test_spent_retries_say_what_failed_in_one_sentence_each(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook]
) -> None:
    hook = make_hook(link(), max_retries=1)
    emu.inject_fault("500", path=USER_INFO_PATH, every=1)  # TikTok's message ends with a full stop
    with pytest.raises(TikTokTransientError) as failed:
        hook.get_user_info()
    message = str(failed.value)
    assert "still failing after 2 attempts: internal_error: Injected server error. This is usually" in message
    assert ".." not in message


class _ZeroRetryAfter(http.server.BaseHTTPRequestHandler):
    """A server that answers its first two requests with 429 and ``Retry-After: 0``, then 200."""

    answered = 0

    def do_GET(self) -> None:
        type(self).answered += 1
        refused = type(self).answered <= 2
        body = json.dumps({"data": {}, "error": {"code": "rate_limit_exceeded" if refused else "ok"}})
        self.send_response(429 if refused else 200)
        if refused:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        """Quiet: pytest shows what the test asserts."""


@pytest.fixture
def zero_retry_after_url() -> Iterator[str]:
    """The URL of a loopback server that refuses twice with ``Retry-After: 0``, then answers."""
    _ZeroRetryAfter.answered = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ZeroRetryAfter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v2/user/info/"
    server.shutdown()
    server.server_close()


def _send(url: str, patience: float, sleeps: list[float]) -> dict[str, Any]:
    policy = RetryPolicy(rate_limit_patience=patience)
    with requests.Session() as session:
        limiter = SlidingWindowRateLimiter(600)
        transport = Transport(session, timeout=(5, 5), policy=policy, limiter=limiter, sleep=sleeps.append)
        return transport.request("GET", url, endpoint="/v2/user/info/", account="@a")


def test_a_retry_after_of_zero_still_waits_before_the_same_request_again(zero_retry_after_url: str) -> None:
    sleeps: list[float] = []
    assert _send(zero_retry_after_url, 900.0, sleeps)["error"] == {"code": "ok"}
    assert sleeps == [MIN_RETRY_AFTER, MIN_RETRY_AFTER]  # not 0: no resending at once, over and over


def test_without_patience_a_first_429_fails_even_with_a_zero_retry_after(zero_retry_after_url: str) -> None:
    sleeps: list[float] = []
    with pytest.raises(TikTokTransientError, match="rate_limit_exceeded after 0s of waiting"):
        _send(zero_retry_after_url, 0.0, sleeps)
    assert sleeps == []
    assert _ZeroRetryAfter.answered == 1
