"""Sliding-window rate limits per endpoint, per app or per token (TIKTOK_API.md section 4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emulator_flow import Flow

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

VIDEO = "/v2/video/list/"
USER = "/v2/user/info/"


def _status(flow: Flow, token: str, path: str = VIDEO) -> int:
    return flow.api(token, path, "id" if path == VIDEO else "open_id").status_code


def test_limit_per_endpoint_with_retry_after_then_the_window_slides(flow: Flow, emu: TikTokEmulator) -> None:
    # A window far longer than the test takes, slid by the emulator's clock: however slow the machine,
    # the three requests share one window, and only the clock ends it.
    emu.configure(rate_limit_per_minute=3, rate_window_seconds=60, send_retry_after=True)
    token = flow.tokens()["access_token"]
    assert [_status(flow, token) for _ in range(3)] == [200, 200, 200]
    limited = flow.api(token, VIDEO, "id")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert 50 <= int(limited.headers["Retry-After"]) <= 60  # whole seconds until the oldest request leaves
    assert _status(flow, token, USER) == 200  # each endpoint has its own window
    emu.clock.advance(30)
    assert _status(flow, token) == 429  # still inside the window
    emu.clock.advance(31)
    assert _status(flow, token) == 200


def test_the_window_slides_instead_of_resetting(flow: Flow, emu: TikTokEmulator) -> None:
    emu.configure(rate_limit_per_minute=2, rate_window_seconds=60)
    token = flow.tokens()["access_token"]
    assert _status(flow, token) == 200  # t = 0
    emu.clock.advance(40)
    assert [_status(flow, token), _status(flow, token)] == [200, 429]  # t = 40: the first still counts
    emu.clock.advance(21)  # t = 61: only the first request left the window, not the one at t = 40
    assert [_status(flow, token), _status(flow, token)] == [200, 429]


def test_retry_after_is_off_by_default_as_tiktok_does_not_document_it(
    flow: Flow, emu: TikTokEmulator
) -> None:
    emu.configure(rate_limit_per_minute=1, rate_window_seconds=5)
    token = flow.tokens()["access_token"]
    assert _status(flow, token) == 200
    limited = flow.api(token, VIDEO, "id")
    assert limited.status_code == 429
    assert "Retry-After" not in limited.headers


def test_per_app_limit_is_shared_by_all_tokens(flow: Flow, emu: TikTokEmulator) -> None:
    emu.configure(rate_limit_per_minute=2, rate_window_seconds=5)
    one = flow.tokens()["access_token"]
    two = flow.tokens(emu.target_users[1].open_id)["access_token"]
    assert [_status(flow, one), _status(flow, two), _status(flow, one), _status(flow, two)] == [
        200,
        200,
        429,
        429,
    ]


def test_per_token_limit_counts_each_token_apart(flow: Flow, emu: TikTokEmulator) -> None:
    emu.configure(rate_limit_per_minute=2, rate_window_seconds=5, rate_limit_scope="token")
    one = flow.tokens()["access_token"]
    two = flow.tokens(emu.target_users[1].open_id)["access_token"]
    assert [_status(flow, one), _status(flow, one), _status(flow, one)] == [200, 200, 429]
    assert [_status(flow, two), _status(flow, two)] == [200, 200]


def test_zero_disables_the_limit(flow: Flow, emu: TikTokEmulator) -> None:
    emu.configure(rate_limit_per_minute=0)
    token = flow.tokens()["access_token"]
    assert {_status(flow, token) for _ in range(30)} == {200}


def test_the_busiest_window_is_counted_at_admission_until_the_limits_are_reset(
    flow: Flow, emu: TikTokEmulator
) -> None:
    emu.configure(rate_limit_per_minute=3, rate_window_seconds=60)
    token = flow.tokens()["access_token"]
    assert [_status(flow, token) for _ in range(2)] == [200, 200]
    emu.clock.advance(61)  # both leave the window
    assert [_status(flow, token) for _ in range(4)] == [200, 200, 200, 429]
    assert emu.busiest_window(VIDEO) == 3  # never more than the limit, refused requests not counted
    assert emu.busiest_window(USER) == 0
    emu.reset_rate_limits()
    assert emu.busiest_window(VIDEO) == 0
    assert _status(flow, token) == 200  # an empty window again
