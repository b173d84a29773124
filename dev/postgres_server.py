"""A throw-away PostgreSQL server on loopback (Debian's ``postgresql`` binaries), for the stack tests.

``initdb`` and the server refuse to run as root; as root (CI) every command runs as the ``postgres`` user
that Debian's package creates, on a data directory handed to that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from dev.ports import free_port

if TYPE_CHECKING:
    from types import TracebackType

DATABASE = "airflow"
USER = "airflow"
#: The unprivileged account Debian's postgresql package creates; used only when running as root.
SERVICE_ACCOUNT = "postgres"


class PostgresServer:
    """``initdb`` + ``pg_ctl`` on 127.0.0.1 and a free port, in a temporary directory removed on stop.

    :param port: port to listen on (a free one by default).
    """

    def __init__(self, port: int = 0) -> None:
        self.port = port or free_port()
        self.password = secrets.token_urlsafe(18)
        self.base = Path(tempfile.mkdtemp(prefix="tiktok-stack-postgres-"))
        self.data_dir = self.base / "data"
        self._bin = _bin_dir()

    def url(self, scheme: str = "postgresql+psycopg2") -> str:
        """The database's URL for SQLAlchemy (``scheme`` e.g. ``db+postgresql`` for Celery results)."""
        return f"{scheme}://{USER}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> PostgresServer:
        """Create the cluster (once) and the ``airflow`` database, then start the server."""
        if not self.data_dir.exists():
            self._initdb()
            self._pg_ctl("start")
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, DATABASE)
        else:
            self._pg_ctl("start")
        return self

    def restart(self, *, mode: str = "immediate") -> None:
        """Stop (``immediate``: no clean shutdown, recovery from the WAL on start) and start again."""
        self._pg_ctl("stop", "-m", mode)
        self._pg_ctl("start")

    def stop(self) -> None:
        """Stop the server (if running) and remove its directory."""
        if (self.data_dir / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", "immediate", check=False)
        shutil.rmtree(self.base, ignore_errors=True)

    def psql(self, sql: str) -> str:
        """Run ``sql`` with psql as the ``airflow`` user; returns the unaligned, tuples-only output."""
        return self._run(
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", DATABASE,
            "-v", "ON_ERROR_STOP=1", "-A", "-t", "-c", sql,
        ).stdout  # fmt: skip

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- internals -------------------------------------------------------------------------
    def _initdb(self) -> None:
        password_file = self.base / "password"
        password_file.write_text(self.password)
        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVICE_ACCOUNT)
            for path in (self.base, password_file):
                os.chown(path, account.pw_uid, account.pw_gid)
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", USER, "--auth=scram-sha-256",
            f"--pwfile={password_file}", "--encoding=UTF8", "--no-instructions",
        )  # fmt: skip
        password_file.unlink()

    def _pg_ctl(self, *args: str, check: bool = True) -> None:
        # Loopback only, a socket in the data directory (not /run/postgresql, which may not exist).
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data_dir} -c max_connections=200"
        log = str(self.base / "server.log")
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", log, "-w", "-t", "60", "-o", options, *args,
                  check=check)  # fmt: skip

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self._bin / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVICE_ACCOUNT, "--", *command]
        env = {**os.environ, "PGPASSWORD": self.password}
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
        if check and result.returncode != 0:
            log = self.base / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"PostgreSQL: `{program}` exited {result.returncode}: {result.stderr}\n{tail}")
        return result


def _bin_dir() -> Path:
    """Debian's newest ``/usr/lib/postgresql/<version>/bin`` (install with ``make stack-deps``)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not candidates:
        raise RuntimeError("PostgreSQL is not installed: run `make stack-deps` (apt-get install postgresql)")
    return Path(candidates[-1]).parent
