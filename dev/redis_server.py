"""A throw-away Redis server on loopback (Debian's ``redis-server``): the Celery broker of the stack tests."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from dev.ports import free_port, wait_for_port
from dev.waiting import stop_process

if TYPE_CHECKING:
    from types import TracebackType


class RedisServer:
    """``redis-server`` bound to 127.0.0.1 on a free port, no persistence, its own directory.

    :param port: port to listen on (a free one by default).
    """

    def __init__(self, port: int = 0) -> None:
        self.port = port or free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="tiktok-stack-redis-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The broker URL (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start the server and wait until it accepts connections."""
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not installed: run `make stack-deps` (apt-get redis-server)")
        self._process = subprocess.Popen(
            [executable, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory),
             "--save", "", "--appendonly", "no", "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        if not wait_for_port("127.0.0.1", self.port, timeout=30):
            self.stop()
            raise RuntimeError(f"redis-server did not start on 127.0.0.1:{self.port}")
        return self

    def stop(self) -> None:
        """Stop the server and remove its directory (idempotent)."""
        stop_process(self._process)
        self._process = None
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
