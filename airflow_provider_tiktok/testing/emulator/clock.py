"""The emulator's controllable clock (token and code expiry, "today" in the data set)."""

from __future__ import annotations

import threading
import time


class Clock:
    """Wall-clock time shifted by an adjustable offset; it keeps ticking after ``set``/``advance``."""

    def __init__(self, start: float | None = None) -> None:
        """``start``: Unix seconds the clock shows now (None = real time)."""
        self._lock = threading.Lock()
        self._offset = 0.0 if start is None else start - time.time()

    def now(self) -> float:
        """Current emulator time, Unix seconds."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (may be negative); returns the new time."""
        with self._lock:
            self._offset += seconds
        return self.now()

    def set(self, epoch: float) -> float:
        """Make the clock show ``epoch`` (Unix seconds) now; returns it."""
        with self._lock:
            self._offset = epoch - time.time()
        return self.now()
