"""Cheap request recording: a bounded deque of requests plus exact counters."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class RecordedRequest:
    """One request the emulator answered; ``status`` 0 = no response (hang or reset)."""

    method: str
    path: str
    status: int
    time: float
    open_id: str | None


class RequestLog:
    """Keeps the last ``limit`` requests and exact per (method, path) counts."""

    def __init__(self, limit: int) -> None:
        """``limit``: how many requests to keep in full."""
        self._lock = threading.Lock()
        self._recent: deque[RecordedRequest] = deque(maxlen=limit)
        self._counts: Counter[tuple[str, str]] = Counter()

    def add(self, request: RecordedRequest) -> None:
        """Record one request."""
        with self._lock:
            self._recent.append(request)
            self._counts[(request.method, request.path)] += 1

    def all(self) -> list[RecordedRequest]:
        """A snapshot of the kept requests, oldest first."""
        with self._lock:
            return list(self._recent)

    def count(self, path: str | None = None, method: str | None = None) -> int:
        """How many requests matched ``path`` and ``method`` (None = any), since the last reset."""
        with self._lock:
            return sum(
                n
                for (m, p), n in self._counts.items()
                if (path is None or p == path) and (method is None or m == method.upper())
            )

    def reset(self) -> None:
        """Forget every request."""
        with self._lock:
            self._recent.clear()
            self._counts.clear()
