"""Waiting on a condition (never a fixed sleep) and stopping a server process, for the harness and tests."""

from __future__ import annotations

import subprocess
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable


def wait_until(
    condition: Callable[[], Any],
    *,
    timeout: float,
    what: str,
    interval: float = 0.5,
    detail: Callable[[], str] | None = None,
) -> Any:
    """Poll ``condition`` until it returns something truthy, and return that.

    :param timeout: seconds before giving up with :class:`TimeoutError`.
    :param what: what was awaited, for the error.
    :param interval: seconds between polls (each poll asks a server; the wait is on the condition).
    :param detail: more text for the error, e.g. the tail of the components' logs.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"waited {timeout:.0f}s for {what}\n{detail() if detail else ''}")


def stop_process(process: subprocess.Popen[Any] | None, *, timeout: float = 10) -> None:
    """Terminate ``process`` if it still runs; kill it when it outlives ``timeout`` seconds."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
