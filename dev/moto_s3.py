"""Run ``moto_server`` on loopback as a local S3 endpoint for tests, the demo and benchmarks."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from dev.ports import free_port, wait_for_port
from dev.waiting import stop_process

if TYPE_CHECKING:
    from types import TracebackType


REGION = "us-east-1"
#: moto_server accepts any credentials: a placeholder, not a secret.
PLACEHOLDER_KEY = "testing"


class MotoS3Server:
    """A ``moto_server`` subprocess bound to 127.0.0.1; use as a context manager.

    :param port: port to bind; 0 picks a free one.
    :param startup_timeout: seconds to wait for the server to accept connections.
    """

    def __init__(self, port: int = 0, *, startup_timeout: float = 30.0) -> None:
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        """Where S3 clients should send requests."""
        return f"http://127.0.0.1:{self.port}"

    def aws_connection_uri(self) -> str:
        """An Airflow ``aws`` connection (JSON form) pointing at this server with dummy credentials."""
        return json.dumps(
            {
                "conn_type": "aws",
                "login": PLACEHOLDER_KEY,
                "password": PLACEHOLDER_KEY,
                "extra": {"endpoint_url": self.endpoint_url, "region_name": REGION},
            }
        )

    def client(self) -> Any:
        """A boto3 S3 client for this server (placeholder credentials, whatever the environment holds)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=PLACEHOLDER_KEY,
            aws_secret_access_key=PLACEHOLDER_KEY,
        )

    def start(self) -> MotoS3Server:
        """Start the server and wait until it accepts connections."""
        self._process = subprocess.Popen(
            [_moto_server_executable(), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_for_port("127.0.0.1", self.port, timeout=self.startup_timeout):
            self.stop()
            raise RuntimeError(f"moto_server did not start on 127.0.0.1:{self.port}")
        return self

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        stop_process(self._process)
        self._process = None

    def is_running(self) -> bool:
        """True while the subprocess is alive and accepting connections."""
        if not self._process or self._process.poll() is not None:
            return False
        with socket.socket() as sock:
            sock.settimeout(1)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def __enter__(self) -> MotoS3Server:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _moto_server_executable() -> str:
    """The ``moto_server`` script beside the running interpreter (moto[server] is a dev dependency)."""
    beside_python = os.path.join(os.path.dirname(sys.executable), "moto_server")
    found = beside_python if os.path.exists(beside_python) else shutil.which("moto_server")
    if not found:
        raise RuntimeError("moto_server not found: install the dev dependencies (`uv sync`, moto[server])")
    return found


def wait_until_stopped(server: MotoS3Server, timeout: float = 10.0) -> bool:
    """Wait until ``server`` no longer accepts connections (used by fault tests that stop S3)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.is_running():
            return True
        time.sleep(0.1)
    return False
