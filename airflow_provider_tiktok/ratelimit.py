"""Client-side rate limiter: each process keeps its part of the app's budget and adapts it to 429s.

TikTok allows 600 requests per minute per endpoint and app over a sliding window. Tasks on different
workers reach nothing in common that could count requests atomically (a task has no metadata DB, and
Variables have no compare-and-set), so the budget is split instead: a process that knows ``share``
processes run at once takes ``max_requests / share - 1`` per window (the ``- 1`` absorbs the skew between
send and arrival times), which keeps the group under the limit without talking to each other. The part
then adapts (AIMD): each success grows it (a task started late or left alone after the others finished
takes up what they leave, up to the whole budget), each 429 halves it (the group or something else is over
the limit), never below one request per window. See docs/reliability.md.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

DEFAULT_REQUESTS_PER_MINUTE = 600
DEFAULT_WINDOW = 60.0
#: Report tasks running at once across every run of the daily DAG (its ``max_active_tis_per_dag``): the
#: most that split the app's request budget, so each takes its part of it (the report's ``rate_share``).
PARALLEL_REPORTS = 16
#: How much a part grows per window of successes: this fraction of the fair part (or of itself, above it).
#: Fast, so tasks started late or left alone take up what others leave; a 429 halves it again.
GROWTH_PER_WINDOW = 0.5
#: What is left of a part after a 429.
DECREASE_ON_429 = 0.5


def fair_part(max_requests: int, share: int) -> float:
    """Requests per window one of ``share`` processes may send so that together they stay under the limit."""
    if share <= 1:
        return float(max_requests)
    return max(1.0, max_requests / share - 1)


class SlidingWindowRateLimiter:
    """At most ``allowance(key)`` requests per ``window`` seconds and key; callers block until a slot frees.

    Thread-safe: the bookkeeping is under a lock, the waiting is not.

    :param max_requests: the app's limit per window and key (0 or less disables limiting).
    :param window: window length in seconds.
    :param share: how many processes split the app's budget at once (1: this process alone).
    :param clock: monotonic clock (seconds).
    :param sleep: sleep function.
    """

    def __init__(
        self,
        max_requests: int = DEFAULT_REQUESTS_PER_MINUTE,
        window: float = DEFAULT_WINDOW,
        *,
        share: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_requests = max_requests
        self.window = window
        self.fair = fair_part(max_requests, share)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: dict[str, deque[float]] = {}
        self._allowance: dict[str, float] = {}

    @property
    def enabled(self) -> bool:
        """False when limiting is switched off (``max_requests`` 0 or less)."""
        return self.max_requests > 0

    def allowance(self, key: str) -> float:
        """Requests per window this process may currently send for ``key``."""
        return self._allowance.get(key, self.fair)

    def acquire(self, key: str) -> float:
        """Block until a request for ``key`` may be sent, record it, and return the seconds waited.

        :param key: what is limited, e.g. the endpoint path.
        """
        if not self.enabled:
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
        if len(sent) < int(self.allowance(key)):
            sent.append(now)
            return 0.0
        return sent[-int(self.allowance(key))] + self.window - now

    def succeeded(self, key: str) -> None:
        """Grow the part for ``key`` after an accepted request.

        A window's worth of successes adds half the fair part (or of the part itself, once above it).
        """
        if not self.enabled:
            return
        with self._lock:
            part = self.allowance(key)
            grown = part + GROWTH_PER_WINDOW * max(self.fair, part) / part
            self._allowance[key] = min(float(self.max_requests), grown)

    def rate_limited(self, key: str) -> float:
        """Halve the part for ``key`` after a 429 and return the seconds to wait before the retry.

        Without a ``Retry-After`` the caller waits one slot of the reduced part (a sliding window frees slots
        continuously); the retried request then also waits in :meth:`acquire` until the part has room.
        """
        if not self.enabled:
            return 0.0
        with self._lock:
            part = max(1.0, self.allowance(key) * DECREASE_ON_429)
            self._allowance[key] = part
        return self.window / part

    def in_window(self, key: str) -> int:
        """How many requests for ``key`` are counted in the current window."""
        with self._lock:
            now = self._clock()
            return sum(1 for t in self._sent.get(key, ()) if t > now - self.window)


_shared: dict[tuple[int, float, int], SlidingWindowRateLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(
    max_requests: int = DEFAULT_REQUESTS_PER_MINUTE, window: float = DEFAULT_WINDOW, share: int = 1
) -> SlidingWindowRateLimiter:
    """Return the process-wide limiter for this budget, so every hook in the process shares one window.

    :param max_requests: the app's limit per window and endpoint.
    :param window: window length in seconds.
    :param share: how many processes split the budget at once.
    """
    key = (max_requests, window, share)
    with _shared_lock:
        limiter = _shared.get(key)
        if limiter is None:
            limiter = _shared[key] = SlidingWindowRateLimiter(max_requests, window, share=share)
        return limiter
