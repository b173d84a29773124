"""Simulate report tasks sharing one app budget against TikTok's sliding window, on a simulated clock.

Run: ``uv run python bench/bench_rate_simulation.py`` (under a minute, no Airflow). The scheduler bench
(``bench_rate_budget.py``) measures the real thing, one scenario at a time and ten minutes per run; this
one asks how the limiter fares when the tasks' starts spread, which a real run only shows by chance.

Each task is the real :class:`~airflow_provider_tiktok.ratelimit.SlidingWindowRateLimiter` on the
simulated clock, paging one account; the server is the emulator's own sliding window of ``LIMIT`` requests
per ``WINDOW`` seconds, which does not count refused requests. A refused request waits as the hook's
transport does: ``Retry-After`` (whole seconds, as the emulator sends it) when sent, else the limiter's
estimate with 75-100 % jitter. Prints, per scenario and seed, the accepted requests per second between
the first and the last against the ceiling (target >= 0.9, as in ``bench_rate_budget.py``) and the 429s.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_provider_tiktok.ratelimit import SlidingWindowRateLimiter
from airflow_provider_tiktok.testing.emulator.ratelimit import SlidingWindowLimiter

if TYPE_CHECKING:
    from collections.abc import Callable

TASKS = 16
PAGES = 100  # 2,000 videos at 20 per page, as in bench_rate_budget.py
LIMIT = 600
WINDOW = 30.0
LATENCY = 0.02  # a round trip to the emulator on loopback
RAMPS = (0.0, 3.0, 10.0, 25.0)  # tasks start uniformly within this many seconds
SEEDS = range(6)
KEY = "/v2/video/list/"


@dataclass
class Simulation:
    """An event queue on a simulated clock, and the server's sliding window."""

    now: float = 0.0
    events: list[tuple[float, int, Callable[[], None]]] = field(default_factory=list)
    server: SlidingWindowLimiter = field(default_factory=SlidingWindowLimiter)  # the emulator's own
    accepted: list[float] = field(default_factory=list)
    refused: int = 0
    _order: itertools.count[int] = field(default_factory=itertools.count)

    def at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self.events, (when, next(self._order), action))

    def admit(self) -> float | None:
        """None when the request is accepted, else the seconds until the window has room."""
        wait = self.server.admit((KEY,), now=self.now, limit=LIMIT, window=WINDOW)
        if wait is None:
            self.accepted.append(self.now)
        else:
            self.refused += 1
        return wait

    def run(self) -> None:
        while self.events:
            self.now, _, action = heapq.heappop(self.events)
            action()


@dataclass
class Task:
    """One report task: sends its pages one after the other through its own limiter."""

    sim: Simulation
    limiter: SlidingWindowRateLimiter
    retry_after: bool
    rng: random.Random
    left: int = PAGES

    def send(self) -> None:
        delay = self.limiter.try_acquire(KEY)
        if delay > 0:
            self.sim.at(self.sim.now + delay, self.send)
        else:
            self.sim.at(self.sim.now + LATENCY / 2, self.arrive)

    def arrive(self) -> None:
        wait = self.sim.admit()
        answer = self.accepted if wait is None else (lambda: self.refused(wait))
        self.sim.at(self.sim.now + LATENCY / 2, answer)

    def accepted(self) -> None:
        self.limiter.succeeded(KEY)
        self.left -= 1
        if self.left:
            self.send()

    def refused(self, wait: float) -> None:
        estimate = self.limiter.rate_limited(KEY)
        delay = max(1, math.ceil(wait)) if self.retry_after else estimate * self.rng.uniform(0.75, 1.0)
        self.sim.at(self.sim.now + delay, self.send)


def simulate(*, retry_after: bool, ramp: float, seed: int) -> tuple[float, int]:
    """(throughput against the ceiling, 429s) of one run."""
    rng = random.Random(seed)
    sim = Simulation()
    for _ in range(TASKS):
        limiter = SlidingWindowRateLimiter(LIMIT, WINDOW, share=TASKS, clock=lambda: sim.now)
        sim.at(rng.uniform(0, ramp), Task(sim, limiter, retry_after, rng).send)
    sim.run()
    span = sim.accepted[-1] - sim.accepted[0]
    return (len(sim.accepted) - 1) / span / (LIMIT / WINDOW), sim.refused


def main() -> int:
    print(
        f"{TASKS} tasks x {PAGES} pages, {LIMIT} requests per {WINDOW:g} s sliding window, latency {LATENCY}s"
    )
    worst = math.inf
    for retry_after in (True, False):
        for ramp in RAMPS:
            runs = [simulate(retry_after=retry_after, ramp=ramp, seed=seed) for seed in SEEDS]
            worst = min(worst, *(ratio for ratio, _ in runs))
            print(
                f"  Retry-After {'sent' if retry_after else 'absent'}, starts over {ramp:g}s: throughput "
                + " ".join(f"{ratio:.2f}" for ratio, _ in runs)
                + "; 429s "
                + " ".join(str(refused) for _, refused in runs)
            )
    print(f"  lowest throughput {worst:.2f} (target >= 0.9)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
