"""Client-side rate limiter: one process never overruns the app's budget, and a 429 says when to try again.

TikTok allows 600 requests per minute per endpoint and app over a sliding window. Tasks on different
workers reach nothing in common that could count requests atomically (a task has no metadata DB, and
Variables have no compare-and-set), and a split of the budget between them cannot know when a peer has
finished, so it leaves budget unused whenever fewer tasks run than it was split for (measured: the last
requests of a run waited a whole window beside a free budget). So the app's budget is shared through the
one thing every worker reaches, TikTok's own count:

- each process sends at most the app's whole budget per window (alone, it never meets a 429);
- a 429 means the app's window is full: the request waits until it frees — ``Retry-After`` when TikTok
  sends one, else until this process's oldest request in the window leaves it (a window fills in bursts,
  so it frees about when one's own oldest requests leave), at most a quarter window — and is sent again;
- a request refused again probes at the pace of this process's fair part of the budget
  (``window / (limit / share - 1)``), doubling each time, at most a quarter window apart.

A refused request is not counted in this process's window: TikTok did not count it. The bookkeeping is
per endpoint, not per request: with several threads sending for one endpoint, a 429 forgets the newest
request and another thread's success restarts the waits, which only makes the waits a little shorter
(a report task sends from one thread). See docs/reliability.md.
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
#: most that share the app's request budget (the report's ``rate_share``).
PARALLEL_REPORTS = 16
#: The longest wait after a 429 without ``Retry-After``, as a fraction of the window: a refused process
#: looks again at least this often, so it is never more than this late for a window that freed.
LONGEST_PROBE = 0.25
#: 429s in a row beyond which the probe interval stops doubling (it is capped long before).
_MAX_DOUBLINGS = 20


def fair_part(max_requests: int, share: int) -> float:
    """Requests per window one of ``share`` processes may send so that together they stay under the limit."""
    if share <= 1:
        return float(max_requests)
    return max(1.0, max_requests / share - 1)


class SlidingWindowRateLimiter:
    """At most ``max_requests`` per ``window`` seconds and key; callers block until a slot frees.

    Thread-safe: the bookkeeping is under a lock, the waiting is not.

    :param max_requests: the app's limit per window and key (0 or less disables limiting).
    :param window: window length in seconds.
    :param share: how many processes share the app's budget at once (1: this process alone); sets how
        often a refused request probes again.
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
        self.max_requests = int(max_requests)
        self.window = window
        self.share = share
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: dict[str, deque[float]] = {}
        self._refusals: dict[str, int] = {}

    @property
    def enabled(self) -> bool:
        """False when limiting is switched off (``max_requests`` 0 or less)."""
        return self.max_requests > 0

    @property
    def probe_interval(self) -> float:
        """Seconds between sends at this process's fair part of the budget: the first probe after a 429."""
        if not self.enabled:
            return 0.0
        return self.window / fair_part(self.max_requests, self.share)

    def acquire(self, key: str) -> float:
        """Block until a request for ``key`` may be sent, record it, and return the seconds waited.

        :param key: what is limited, e.g. the endpoint path.
        """
        if not self.enabled:
            return 0.0
        waited = 0.0
        while True:  # ends: each pass either records a slot or waits for the oldest one to expire
            delay = self.try_acquire(key)
            if delay <= 0:
                return waited
            self._sleep(delay)
            waited += delay

    def try_acquire(self, key: str) -> float:
        """Record a request for ``key`` and return 0 if the window has room, else the seconds until it has."""
        with self._lock:
            now = self._clock()
            sent = self._live(key, now)
            if len(sent) < self.max_requests:
                sent.append(now)
                return 0.0
            return sent[-self.max_requests] + self.window - now

    def _live(self, key: str, now: float) -> deque[float]:
        sent = self._sent.setdefault(key, deque())
        while sent and sent[0] <= now - self.window:
            sent.popleft()
        return sent

    def succeeded(self, key: str) -> None:
        """Note an accepted request for ``key``: the next 429 starts the waits afresh."""
        with self._lock:
            self._refusals.pop(key, None)

    def rate_limited(self, key: str) -> float:
        """Note a 429 for ``key`` and return the seconds to wait before sending the request again.

        The first 429 waits until this process's oldest request in the window leaves it; with none (or
        after another 429) it waits a probe interval, doubled for each 429 in a row. Never longer than
        ``LONGEST_PROBE`` of the window. A ``Retry-After`` from TikTok, when sent, is the caller's to prefer.
        """
        if not self.enabled:
            return 0.0
        with self._lock:
            now = self._clock()
            sent = self._live(key, now)
            if sent:
                sent.pop()  # the refused request: TikTok did not count it, so neither does this window
            refusals = self._refusals[key] = self._refusals.get(key, 0) + 1
            if refusals == 1 and sent:
                wait = sent[0] + self.window - now
            else:
                wait = self.probe_interval * 2 ** min(refusals - 1, _MAX_DOUBLINGS)
        return max(0.0, min(wait, self.window * LONGEST_PROBE))

    def in_window(self, key: str) -> int:
        """How many requests for ``key`` are counted in the current window."""
        with self._lock:
            return len(self._live(key, self._clock()))


_shared: dict[tuple[int, float], SlidingWindowRateLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(
    max_requests: int = DEFAULT_REQUESTS_PER_MINUTE, window: float = DEFAULT_WINDOW, share: int = 1
) -> SlidingWindowRateLimiter:
    """Return the process-wide limiter for this budget, so every hook in the process shares one window.

    Hooks asking for different shares of one budget get the same limiter, probing at the pace of the
    largest share asked for (the slower pace).

    :param max_requests: the app's limit per window and endpoint.
    :param window: window length in seconds.
    :param share: how many processes share the budget at once.
    """
    key = (int(max_requests), window)
    with _shared_lock:
        limiter = _shared.get(key)
        if limiter is None:
            limiter = _shared[key] = SlidingWindowRateLimiter(max_requests, window, share=share)
        limiter.share = max(limiter.share, share)
        return limiter
