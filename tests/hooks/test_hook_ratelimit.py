"""Client-side rate limiter: the window, the waits after a 429, and the hook and workers on 429s."""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_tiktok.errors import TikTokConfigError, TikTokTransientError
from airflow_provider_tiktok.hooks.tiktok import USER_INFO_PATH, VIDEO_LIST_PATH, TikTokHook
from airflow_provider_tiktok.ratelimit import (
    LONGEST_PROBE,
    SlidingWindowRateLimiter,
    fair_part,
    shared_limiter,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import requests

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator
    from airflow_provider_tiktok.testing.emulator.records import RecordedRequest


class FakeClock:
    """A monotonic clock that only moves when slept on."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_sliding_window_waits_for_the_oldest_request_to_leave() -> None:
    clock = FakeClock()
    limiter = SlidingWindowRateLimiter(3, window=10.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):  # t = 100, 101, 102
        assert limiter.acquire("/a") == 0.0
        clock.now += 1
    assert limiter.acquire("/a") == pytest.approx(7.0)  # at t=103 the first slot frees at t=110
    assert limiter.in_window("/a") == 3  # 101, 102, 110
    assert limiter.acquire("/b") == 0.0  # endpoints are counted separately


def test_disabled_limiter_never_waits() -> None:
    clock = FakeClock()
    limiter = SlidingWindowRateLimiter(0, clock=clock, sleep=clock.sleep)
    assert sum(limiter.acquire("/a") for _ in range(1000)) == 0.0


def test_threads_share_one_window() -> None:
    limiter = SlidingWindowRateLimiter(10, window=0.3)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            limiter.acquire("/x")
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(stamps) == 40
    assert time.monotonic() - started >= 0.9  # 40 requests at 10 per 0.3 s need 3 full windows
    stamps.sort()
    assert all(stamps[i + 10] - stamps[i] >= 0.3 - 0.01 for i in range(len(stamps) - 10))


def test_shared_limiter_is_one_per_budget() -> None:
    assert shared_limiter(600) is shared_limiter(600)
    assert shared_limiter(600) is not shared_limiter(300)
    # hooks asking for other shares of one budget share its window (else one process could send twice
    # the limit), probing at the slowest pace asked for
    assert shared_limiter(500, 10.0, share=4) is shared_limiter(500, 10.0, share=16)
    assert shared_limiter(500, 10.0, share=2).share == 16


def test_odd_settings_neither_crash_nor_spin() -> None:
    clock = FakeClock()
    limiter = SlidingWindowRateLimiter(2.0, window=10.0, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    assert [limiter.acquire("/a") for _ in range(3)] == [0.0, 0.0, pytest.approx(10.0)]  # a float limit
    waits = [limiter.rate_limited("/a") for _ in range(5000)]  # TikTok refusing for hours
    assert max(waits) == pytest.approx(2.5)
    assert min(waits) > 0
    assert SlidingWindowRateLimiter(0).probe_interval == 0.0  # disabled: no division by zero


def test_limiter_keeps_the_hook_under_the_emulator_limit(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook]
) -> None:
    emu.configure(rate_limit_per_minute=10, rate_window_seconds=1.0)
    hook = make_hook(link(), limiter=SlidingWindowRateLimiter(10, window=1.05), max_retries=0)
    emu.reset_requests()
    started = time.monotonic()
    for _ in range(25):
        hook.get_user_info(fields=["open_id"])
    assert time.monotonic() - started >= 2.0  # slowed down ...
    assert [r.status for r in emu.requests if r.status == 429] == []  # ... instead of collecting 429s
    assert len(list(hook.iter_videos())) == 45  # another endpoint, another window: no wait needed


def test_without_the_limiter_and_without_patience_the_first_429_fails(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook]
) -> None:
    emu.configure(rate_limit_per_minute=10, rate_window_seconds=60.0)
    hook = make_hook(link(), limiter=SlidingWindowRateLimiter(0), rate_limit_patience=0)
    for _ in range(10):
        hook.get_user_info(fields=["open_id"])
    with pytest.raises(TikTokTransientError, match="rate_limit_exceeded after 0s of waiting") as failed:
        hook.get_user_info(fields=["open_id"])
    assert "for account @" in str(failed.value)
    assert "Run fewer jobs on this app at once" in str(failed.value)
    assert ".." not in str(failed.value)
    assert emu.count(USER_INFO_PATH) == 11
    assert emu.count(VIDEO_LIST_PATH) == 0


def test_the_probe_pace_is_the_fair_part_of_the_shared_budget() -> None:
    assert fair_part(600, 1) == 600  # alone: the whole budget
    assert fair_part(600, 16) == 36.5  # 16 x 36 = 576 <= 600, one per process left for skew
    assert fair_part(10, 16) == 1.0  # never less than one request per window
    assert SlidingWindowRateLimiter(600, share=16).probe_interval == pytest.approx(60 / 36.5)
    assert SlidingWindowRateLimiter(600).probe_interval == pytest.approx(0.1)


def test_a_first_429_waits_until_the_oldest_request_of_the_process_leaves_the_window() -> None:
    clock = FakeClock()
    limiter = SlidingWindowRateLimiter(600, window=60.0, share=4, clock=clock, sleep=clock.sleep)
    limiter.acquire("/a")  # t = 100
    clock.now += 50
    limiter.acquire("/a")  # t = 150: refused by TikTok
    assert limiter.rate_limited("/a") == pytest.approx(10.0)  # the request of t=100 leaves at t=160
    assert limiter.in_window("/a") == 1  # the refused one is not counted: TikTok did not count it


def test_429s_in_a_row_probe_at_a_doubling_pace_never_more_than_a_quarter_window_apart() -> None:
    clock = FakeClock()
    limiter = SlidingWindowRateLimiter(100, window=10.0, share=4, clock=clock, sleep=clock.sleep)
    limiter.acquire("/a")
    waits = [limiter.rate_limited("/a") for _ in range(6)]
    slot = 10.0 / 24  # the fair part: 100 / 4 - 1 per window
    assert waits == pytest.approx([slot, 2 * slot, 4 * slot, 2.5, 2.5, 2.5])  # nothing left in the window
    assert limiter.rate_limited("/b") == pytest.approx(slot)  # each endpoint on its own
    limiter.succeeded("/a")
    assert limiter.rate_limited("/a") == pytest.approx(slot)  # an accepted request starts afresh


def test_the_first_wait_is_capped_at_a_quarter_window() -> None:
    clock = FakeClock()
    limiter = SlidingWindowRateLimiter(600, window=60.0, clock=clock, sleep=clock.sleep)
    for _ in range(2):  # t = 100: both sent, the second refused
        limiter.acquire("/a")
    assert limiter.rate_limited("/a") == pytest.approx(15.0)  # not 60: the window may free sooner


def test_a_process_alone_never_sends_more_than_the_whole_budget() -> None:
    clock = FakeClock()
    limiter = SlidingWindowRateLimiter(4, window=10.0, share=16, clock=clock, sleep=clock.sleep)
    for _ in range(4):  # t = 100, 101, 102, 103: the share does not hold it back
        assert limiter.acquire("/a") == 0.0
        clock.now += 1
    assert limiter.acquire("/a") == pytest.approx(6.0)  # at t=104 the first slot frees at t=110


class EmulatorTime:
    """The emulator's clock as a clock and a sleep that moves it: waiting a window takes no real time."""

    def __init__(self, emu: TikTokEmulator) -> None:
        self.clock = emu.clock
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.clock.now()

    def sleep(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def hook_sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(seconds)


def test_a_429_without_retry_after_waits_for_the_window_and_continues_on_the_same_cursor(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook]
) -> None:
    emu.configure(rate_limit_per_minute=2, rate_window_seconds=60.0)  # 3 pages: the third must wait
    clock = EmulatorTime(emu)
    limiter = SlidingWindowRateLimiter(600, clock=clock, sleep=clock.sleep)  # believes the app is its alone
    hook = make_hook(link(), limiter=limiter, sleep=clock.hook_sleep)
    sent: list[tuple[int | None, int]] = []
    retry_after: list[str | None] = []

    def record(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        sent.append((json.loads(response.request.body or "{}").get("cursor"), response.status_code))
        retry_after.append(response.headers.get("Retry-After"))

    hook.session.hooks["response"].append(record)
    started = clock()
    videos = list(hook.iter_videos())
    assert [v["id"] for v in videos] == [v["id"] for v in emu.target_users[0].videos]
    accepted = [cursor for cursor, status in sent if status == 200]
    refused = [cursor for cursor, status in sent if status == 429]
    assert len(accepted) == len(set(accepted)) == 3  # no page fetched twice
    assert refused
    assert set(refused) == {accepted[-1]}  # only the third page waited, on its own cursor
    assert clock() - started >= 60.0 - 1  # it waited until the first request left the window
    assert hook.transport.attempts == len(sent)
    assert len(clock.slept) == len(refused)
    assert set(retry_after) == {None}  # the emulator's default, as TikTok documents none


WORKERS = 4


def _run_workers(emu: TikTokEmulator, share: int) -> list[RecordedRequest]:
    """Four workers list one account each, sharing the app's budget as ``share``; returns the requests.

    Each has its own limiter and session and shares nothing with the others but the app, as separate
    worker processes do (threads here: a process would spend a minute importing Airflow on this machine).
    """
    tokens = [emu.issue_tokens(user.open_id)["access_token"] for user in emu.target_users[:WORKERS]]
    hooks = [
        TikTokHook(limiter=SlidingWindowRateLimiter(20, 2.0, share=share), max_retries=0) for _ in tokens
    ]
    counts: list[int] = []
    emu.reset_requests()

    def work(hook: TikTokHook, token: str) -> None:
        counts.append(sum(1 for _ in hook.iter_videos(fields=["id"], access_token=token)))

    threads = [threading.Thread(target=work, args=pair) for pair in zip(hooks, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    for hook in hooks:
        hook.close()
    assert counts == [300] * WORKERS
    return [r for r in emu.requests if r.path == VIDEO_LIST_PATH]


@pytest.mark.parametrize("retry_after", [False, True], ids=["without-retry-after", "with-retry-after"])
def test_workers_share_the_app_budget_through_its_429s_and_fetch_every_page_once(
    tiktok_emulator_factory: Callable[..., TikTokEmulator],
    monkeypatch: pytest.MonkeyPatch,
    app_json: Callable[..., str],
    retry_after: bool,
) -> None:
    emu = tiktok_emulator_factory(users=WORKERS, videos=300, non_target_users=0)
    # the app: 20 per 2 s per endpoint, a quarter of what the four workers would send at once
    emu.configure(rate_limit_per_minute=20, rate_window_seconds=2.0, send_retry_after=retry_after)
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_DEFAULT", app_json(emu))
    seen = _run_workers(emu, share=WORKERS)
    accepted = [r for r in seen if r.status == 200]
    refused = [r for r in seen if r.status == 429]
    assert len(accepted) == WORKERS * 15  # every page exactly once per account, 429s or not
    assert {r.open_id for r in accepted} == {u.open_id for u in emu.target_users[:WORKERS]}
    assert refused  # the four together did overrun the app's window ...
    # ... and each refused request waited for it to free instead of hammering it: at most one probe per
    # quarter window and worker after the first wait (measured for 60 pages, in 4.2-4.6 s: 30-35 refusals
    # without Retry-After, 8 with it)
    duration = max(r.time for r in seen) - min(r.time for r in seen)
    assert len(refused) <= WORKERS * (2 + duration / (2.0 * LONGEST_PROBE * 0.75)), (len(refused), duration)


def test_the_app_connection_sets_the_budget_the_hook_shares(
    emu: TikTokEmulator, monkeypatch: pytest.MonkeyPatch, app_json: Callable[..., str]
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_DEFAULT", app_json(emu, rate_limit=100, rate_window_seconds=10))
    limiter = TikTokHook("tiktok_default", rate_share=4).limiter
    assert (limiter.max_requests, limiter.window, limiter.share) == (100, 10.0, 4)
    assert TikTokHook("tiktok_default", rate_share=4).limiter is limiter  # one per budget and process
    assert TikTokHook("tiktok_default", requests_per_minute=0).limiter.enabled is False
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_DEFAULT", app_json(emu, rate_limit="lots"))
    with pytest.raises(TikTokConfigError, match="'tiktok_default': extra 'rate_limit' must be a positive"):
        TikTokHook("tiktok_default").limiter  # noqa: B018 - reading it is the check
