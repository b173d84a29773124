"""Client-side sliding-window rate limiter: slow down before TikTok answers 429.

TikTok allows 600 requests per minute per endpoint over a sliding one-minute window (whether per app
or per token is undocumented, so we count per process and endpoint, the stricter reading). 429s that
still happen (several processes at once) are handled by the retry layer.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

DEFAULT_REQUESTS_PER_MINUTE = 600


class SlidingWindowRateLimiter:
    """Allow at most ``max_requests`` per ``window`` seconds per key, blocking callers until a slot frees.

    Thread-safe: the bookkeeping is under a lock, the waiting is not.

    :param max_requests: requests allowed per window and key (0 or less disables limiting).
    :param window: window length in seconds.
    :param clock: monotonic clock (seconds).
    :param sleep: sleep function.
    """

    def __init__(
        self,
        max_requests: int = DEFAULT_REQUESTS_PER_MINUTE,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_requests = max_requests
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: dict[str, deque[float]] = {}

    def acquire(self, key: str) -> float:
        """Block until a request for ``key`` may be sent, record it, and return the seconds waited.

        :param key: what is limited, e.g. the endpoint path.
        """
        if self.max_requests <= 0:
            return 0.0
        waited = 0.0
        while True:  # ends: each pass either records a slot or waits for the oldest one to expire
            with self._lock:
                delay = self._try_take(key)
            if delay <= 0:
                return waited
            self._sleep(delay)
            waited += delay

    def _try_take(self, key: str) -> float:
        now = self._clock()
        sent = self._sent.setdefault(key, deque())
        while sent and sent[0] <= now - self.window:
            sent.popleft()
        if len(sent) < self.max_requests:
            sent.append(now)
            return 0.0
        return sent[0] + self.window - now

    def in_window(self, key: str) -> int:
        """How many requests for ``key`` are counted in the current window."""
        with self._lock:
            now = self._clock()
            return sum(1 for t in self._sent.get(key, ()) if t > now - self.window)


_shared: dict[tuple[int, float], SlidingWindowRateLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(
    max_requests: int = DEFAULT_REQUESTS_PER_MINUTE, window: float = 60.0
) -> SlidingWindowRateLimiter:
    """Return the process-wide limiter for this budget, so every hook in the process shares one window.

    :param max_requests: requests allowed per window and endpoint.
    :param window: window length in seconds.
    """
    with _shared_lock:
        limiter = _shared.get((max_requests, window))
        if limiter is None:
            limiter = _shared[(max_requests, window)] = SlidingWindowRateLimiter(max_requests, window)
        return limiter
