"""Client-side sliding-window rate limiter: unit behaviour, threads, and zero 429s against the emulator."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pytest

from airflow_provider_tiktok.errors import TikTokTransientError
from airflow_provider_tiktok.hooks.tiktok import USER_INFO_PATH, VIDEO_LIST_PATH
from airflow_provider_tiktok.ratelimit import SlidingWindowRateLimiter, shared_limiter

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_tiktok.hooks.tiktok import TikTokHook
    from airflow_provider_tiktok.testing.emulator import TikTokEmulator


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


def test_without_the_limiter_the_emulator_answers_429(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook]
) -> None:
    emu.configure(rate_limit_per_minute=10, rate_window_seconds=60.0)
    hook = make_hook(link(), limiter=SlidingWindowRateLimiter(0), max_retries=0)
    for _ in range(10):
        hook.get_user_info(fields=["open_id"])
    with pytest.raises(TikTokTransientError, match="rate_limit_exceeded"):
        hook.get_user_info(fields=["open_id"])
    assert emu.count(USER_INFO_PATH) == 11
    assert emu.count(VIDEO_LIST_PATH) == 0
