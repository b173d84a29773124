"""Injected faults: which request gets which failure."""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import asdict, dataclass
from typing import Any

from airflow_provider_tiktok.testing.emulator.spec import API_PATHS, FAULT_KINDS, VIDEO_LIST_PATH


@dataclass
class Fault:
    """One injected fault.

    ``path``: the API path it hits (None = every API path; ``empty_page`` only hits the video list).
    ``nth``: the first matching request (1-based) that fails; alone it means that request only.
    ``every``: fail every ``every``-th matching request (1 = each one).
    ``fraction``: fail this share of matching requests (seeded, reproducible).
    ``times``: stop after this many failures (None = no limit, or 1 when only ``nth`` is set).
    With none of ``nth``/``every``/``fraction`` every matching request fails.
    """

    id: int
    kind: str
    path: str | None = None
    nth: int | None = None
    every: int | None = None
    fraction: float | None = None
    times: int | None = None
    seen: int = 0
    fired: int = 0

    def matches(self, path: str) -> bool:
        """Whether a request to ``path`` is in this fault's scope."""
        if self.kind == "empty_page" and path != VIDEO_LIST_PATH:
            return False
        return path == self.path if self.path else path in API_PATHS

    def decide(self, rng: random.Random) -> bool:
        """Count one matching request and say whether it fails."""
        self.seen += 1
        if self.times is not None and self.fired >= self.times:
            return False
        fire = self._selected(rng)
        if fire:
            self.fired += 1
        return fire

    def _selected(self, rng: random.Random) -> bool:
        position = self.seen - (self.nth or 1)
        if position < 0:
            return False
        if self.every:
            return position % self.every == 0
        if self.fraction is not None:
            return rng.random() < self.fraction
        return True


class FaultBook:
    """Thread-safe list of faults; the first one that fires wins."""

    def __init__(self, seed: int) -> None:
        """``seed``: seeds the generator behind ``fraction`` faults."""
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._rng = random.Random(seed)  # noqa: S311 - reproducible fault picks

    def add(
        self,
        kind: str,
        *,
        path: str | None = None,
        nth: int | None = None,
        every: int | None = None,
        fraction: float | None = None,
        times: int | None = None,
    ) -> Fault:
        """Register a fault (see ``Fault``); raises ValueError on a bad combination."""
        kind = str(kind)
        _check(kind, path=path, nth=nth, every=every, fraction=fraction, times=times)
        if nth is not None and every is None and fraction is None and times is None:
            times = 1
        with self._lock:
            fault = Fault(next(self._ids), kind, path, nth, every, fraction, times)
            self._faults.append(fault)
        return fault

    def pick(self, path: str) -> str | None:
        """The fault kind the next request to ``path`` suffers, if any."""
        if not self._faults:  # fast path: no lock when nothing is injected
            return None
        with self._lock:
            chosen = None
            for fault in self._faults:
                if fault.matches(path) and fault.decide(self._rng) and chosen is None:
                    chosen = fault.kind
            return chosen

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def describe(self) -> list[dict[str, Any]]:
        """The faults with their counters, JSON-ready."""
        with self._lock:
            return [asdict(fault) for fault in self._faults]


def _check(
    kind: str,
    *,
    path: str | None,
    nth: int | None,
    every: int | None,
    fraction: float | None,
    times: int | None,
) -> None:
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; use one of {sorted(FAULT_KINDS)}")
    if path is not None and path not in API_PATHS:
        raise ValueError(f"faults apply to API paths {API_PATHS}, not {path!r}")
    for name, value in (("nth", nth), ("every", every), ("times", times)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be >= 1")
    if fraction is not None and not 0.0 <= fraction <= 1.0:
        raise ValueError("fraction must be between 0 and 1")
    if every is not None and fraction is not None:
        raise ValueError("use either every or fraction")
