"""Sliding-window rate limiter (TIKTOK_API.md section 4)."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


class SlidingWindowLimiter:
    """Counts accepted requests per key over the last ``window`` seconds of ``clock``.

    :param clock: seconds now; the emulator passes its :class:`~.clock.Clock`, so advancing that clock
        slides the windows too (tests drive it instead of sleeping).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._hits: dict[tuple[str, ...], deque[float]] = {}

    def admit(self, key: tuple[str, ...], *, limit: int, window: float) -> float | None:
        """Record a request under ``key``; None when admitted, else seconds until a slot frees up.

        ``limit``: requests allowed per window (0 = unlimited); ``window``: window length, seconds.
        """
        if limit <= 0:
            return None
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                return max(hits[0] + window - now, 0.0)
            hits.append(now)
            return None

    def reset(self) -> None:
        """Forget every window."""
        with self._lock:
            self._hits.clear()
