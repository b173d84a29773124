"""Sliding-window rate limiter (TIKTOK_API.md section 4)."""

from __future__ import annotations

import threading
from collections import deque


class SlidingWindowLimiter:
    """Counts accepted requests per key over the last ``window`` seconds of the emulator's clock.

    Refused requests are not counted (TikTok does not say whether it counts them). The emulator's clock
    ticks in real time, so a window slides as at TikTok, and a test can ``clock.advance`` past it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[tuple[str, ...], deque[float]] = {}
        self._busiest: dict[tuple[str, ...], int] = {}

    def admit(self, key: tuple[str, ...], *, now: float, limit: int, window: float) -> float | None:
        """Record a request under ``key``; None when admitted, else seconds until a slot frees up.

        ``now``: the emulator's time; ``limit``: requests allowed per window (0 = unlimited); ``window``:
        window length, seconds.
        """
        if limit <= 0:
            return None
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                return max(hits[0] + window - now, 0.0)
            hits.append(now)
            self._busiest[key] = max(self._busiest.get(key, 0), len(hits))
            return None

    def busiest(self, key: tuple[str, ...]) -> int:
        """The most requests ``key`` ever had in one window since the last reset, as this limiter counted
        them (at admission: a recorded request's time is when it was answered)."""
        with self._lock:
            return self._busiest.get(key, 0)

    def reset(self) -> None:
        """Forget every window."""
        with self._lock:
            self._hits.clear()
            self._busiest.clear()
