"""A real Airflow 3 deployment on loopback: scheduler, dag-processor and API server with LocalExecutor,
as separate components or as one ``airflow standalone`` (which adds a triggerer).

``dag.test()`` and ``airflow dags test`` run tasks in-process, where a task can still reach the ORM;
under a real scheduler tasks run on the Task SDK and cannot. Anything that touches tokens is proven
here too. Used by tests (backfill, concurrent refresh, the browser test) and by ``make airflow``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from cryptography.fernet import Fernet

from dev.ports import free_port
from dev.self_signed import write_self_signed_certificate

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from types import TracebackType

COMPONENTS = ("scheduler", "dag-processor", "api-server")
STANDALONE = ("standalone",)
# Their log servers bind every interface (Airflow hard-codes the host); tasks and the API server share
# the home's log folder, so the API server reads the files directly and no log server is needed.
SKIP_SERVE_LOGS = frozenset({"scheduler", "triggerer"})
TERMINAL_RUN_STATES = frozenset({"success", "failed"})


_LOCKED_ATTEMPTS = 10


class AirflowStack:
    """Start ``airflow`` components as subprocesses sharing a temporary home and sqlite database.

    :param dags_folder: folder the dag-processor parses.
    :param env: extra environment for every component (connections, variables, settings).
    :param https: serve the API server over TLS with a self-signed certificate for 127.0.0.1/localhost
        (TikTok redirects only to HTTPS); tasks trust it through ``[api] ssl_cert``.
    :param users: SimpleAuthManager users as ``{name: role}``; passwords are generated and kept in
        :attr:`passwords`.
    :param home: Airflow home to use (created if missing); a temporary one by default, removed on stop.
    :param api_port: port of the API server (a free one by default).
    :param parallelism: ``[core] parallelism`` (task slots of the LocalExecutor).
    :param standalone: run ``airflow standalone`` (one process that starts every component) instead of
        the components one by one.
    :param host: host name in :attr:`api_url`, the UI's base URL (``localhost`` or ``127.0.0.1``; the
        certificate covers both). The API server listens on 127.0.0.1 either way.
    :param triggerer: also start a triggerer (components mode; ``standalone`` always starts one).

    Listening sockets: as components, only the API server listens (127.0.0.1); the scheduler and the
    triggerer run without their log servers. ``airflow standalone`` cannot skip them: they listen on
    every interface, on free ports picked here so that two stacks never collide.
    """

    def __init__(
        self,
        dags_folder: str | Path,
        *,
        env: Mapping[str, str] | None = None,
        https: bool = False,
        users: Mapping[str, str] | None = None,
        home: str | Path | None = None,
        api_port: int = 0,
        parallelism: int = 8,
        standalone: bool = False,
        host: str = "127.0.0.1",
        triggerer: bool = False,
    ) -> None:
        self.dags_folder = Path(dags_folder).resolve()
        self.https = https
        self.users = dict(users or {"admin": "admin"})
        self.passwords = {name: secrets.token_urlsafe(12) for name in self.users}
        self._own_home = home is None
        self.home = Path(home) if home else Path(tempfile.mkdtemp(prefix="tiktok-airflow-stack-"))
        self.api_port = api_port or free_port()
        self.parallelism = parallelism
        self.components = STANDALONE if standalone else COMPONENTS + (("triggerer",) if triggerer else ())
        self.host = host
        self._extra_env = dict(env or {})
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._log_files: list[Any] = []
        self.env: dict[str, str] = {}

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        """Base URL of the API server (and UI)."""
        scheme = "https" if self.https else "http"
        return f"{scheme}://{self.host}:{self.api_port}"

    def start(self, *, timeout: float = 300.0) -> AirflowStack:
        """Migrate the database, start every component and wait until the API answers."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = self._build_env()
        self.cli("db", "migrate")
        for component in self.components:
            self._start_component(component)
        self._wait_until_healthy(timeout)
        return self

    def stop(self) -> None:
        """Stop every component (SIGTERM, then SIGKILL) and remove a temporary home."""
        for process in self._processes.values():
            _terminate_group(process)
        self._processes.clear()
        for handle in self._log_files:
            handle.close()
        self._log_files.clear()
        if self._own_home and not os.environ.get("TIKTOK_KEEP_AIRFLOW_HOME"):
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> AirflowStack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            sys.stderr.write(self.logs_tail())
        self.stop()

    # -- using it --------------------------------------------------------------------------
    def cli(self, *args: str, check: bool = True, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
        """Run ``airflow <args>`` against this stack's home and database."""
        result = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"`airflow {' '.join(args)}` exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def create_fab_user(self, user: str, role: str, *, lastname: str = "Test") -> None:
        """``airflow users create`` for the FAB auth manager, with ``user``'s generated password.

        Every value is passed as ``--flag=value``: a generated password may start with ``-`` (one in 32
        does), which argparse would read as a flag. The error names the user, never the password.
        """
        result = self.cli(
            "users", "create", f"--username={user}", f"--password={self.passwords[user]}",
            f"--role={role}", f"--email={user}@example.org", f"--firstname={user}", f"--lastname={lastname}",
            check=False,
        )  # fmt: skip
        if result.returncode != 0:
            output = (result.stdout + result.stderr).replace(self.passwords[user], "***")[-2000:]
            raise RuntimeError(
                f"`airflow users create` for {user!r} ({role}) exited {result.returncode}:\n{output}"
            )

    def create_backfill(self, dag_id: str, from_date: str, to_date: str, *, max_active_runs: int) -> None:
        """``airflow backfill create``, tried again while sqlite refuses its write lock.

        sqlite answers "database is locked" at once, whatever the busy timeout, when a read transaction
        must become a write while the scheduler writes; the command creates every run in one transaction,
        rolled back on that error, so trying again cannot create a run twice.
        """
        args = (
            "backfill",
            "create",
            f"--dag-id={dag_id}",
            f"--from-date={from_date}",
            f"--to-date={to_date}",
            f"--max-active-runs={max_active_runs}",
        )
        for _ in range(_LOCKED_ATTEMPTS):  # bounded
            result = self.cli(*args, check=False)
            if result.returncode == 0:
                return
            if "database is locked" not in result.stdout + result.stderr:
                break
        raise RuntimeError(f"`airflow {' '.join(args)}` exited {result.returncode}:\n{result.stderr[-3000:]}")

    def token(self, user: str = "admin") -> str:
        """A JWT for ``user`` from the SimpleAuthManager login endpoint."""
        response = self._session().post(
            f"{self.api_url}/auth/token",
            json={"username": user, "password": self.passwords[user]},
            timeout=30,
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def api(self, method: str, path: str, *, user: str = "admin", **kwargs: Any) -> requests.Response:
        """Call the REST API (``path`` under ``/api/v2``) as ``user``."""
        headers = {"Authorization": f"Bearer {self.token(user)}"}
        return self._session().request(
            method, f"{self.api_url}/api/v2{path}", headers=headers, timeout=60, **kwargs
        )

    def wait_for_dag(self, dag_id: str, *, timeout: float = 120.0) -> None:
        """Wait until the dag-processor has parsed ``dag_id`` into the database."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.api("GET", f"/dags/{dag_id}").status_code == 200:
                return
            time.sleep(1)
        raise TimeoutError(f"DAG {dag_id} was not parsed within {timeout:.0f}s\n{self.logs_tail()}")

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Every run of ``dag_id`` as the REST API reports it."""
        response = self.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 1000})
        response.raise_for_status()
        runs: list[dict[str, Any]] = response.json()["dag_runs"]
        return runs

    def unpause(self, dag_id: str) -> None:
        """Unpause ``dag_id``: the scheduler starts no run of a paused DAG, backfills included."""
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()

    def wait_for_runs(
        self, dag_id: str, count: int, *, run_type: str | None = None, timeout: float = 600.0
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` runs of ``dag_id`` (of ``run_type``, if given) have finished; returns them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = [r for r in self.dag_runs(dag_id) if run_type in (None, r["run_type"])]
            if sum(run["state"] in TERMINAL_RUN_STATES for run in runs) >= count:
                return runs
            time.sleep(2)
        raise TimeoutError(f"{count} runs of {dag_id} did not finish in {timeout:.0f}s\n{self.logs_tail()}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Task instances of one run (mapped ones included)."""
        response = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        response.raise_for_status()
        instances: list[dict[str, Any]] = response.json()["task_instances"]
        return instances

    def logs_tail(self, lines: int = 40) -> str:
        """The last lines of each component's log, for failure messages."""
        parts = []
        for component in self.components:
            path = self.home / "logs" / f"{component}.out"
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {component} ---\n" + "\n".join(tail))
        return "\n".join(parts) + "\n"

    def task_log_texts(self) -> Iterable[str]:
        """Every task log file written so far (to check that no secret was logged)."""
        for path in (self.home / "logs").rglob("*.log"):
            yield path.read_text(errors="replace")

    # -- internals -------------------------------------------------------------------------
    def _build_env(self) -> dict[str, str]:
        passwords_file = self.home / "simple_auth_manager_passwords.json"
        passwords_file.write_text(json.dumps(self.passwords))
        env = {
            **os.environ,
            # `airflow standalone` starts its components as `airflow ...` from PATH.
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            # A busy machine holds sqlite's single write lock longer than the 5 s default wait.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}?timeout=60",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in self.users.items()),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__BASE_URL": self.api_url,
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(48),
            # JWTs are HS512: PyJWT warns on every request about a key under 64 bytes (64 characters).
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
            # Log servers default to ports 8793 (scheduler) and 8794 (triggerer): give each stack its own.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        }
        if self.https:
            cert, key = write_self_signed_certificate(self.home / "tls")
            env["AIRFLOW__API__SSL_CERT"] = str(cert)
            env["AIRFLOW__API__SSL_KEY"] = str(key)
        env.update(self._extra_env)
        return env

    def _start_component(self, component: str) -> None:
        log_dir = self.home / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        handle = (log_dir / f"{component}.out").open("ab")
        self._log_files.append(handle)
        self._processes[component] = subprocess.Popen(
            [sys.executable, "-m", "airflow", *self._component_args(component)],
            env=self._component_env(component),
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _component_args(self, component: str) -> list[str]:
        """The ``airflow`` arguments that start ``component`` (subclasses add their own components)."""
        return [component, "--skip-serve-logs"] if component in SKIP_SERVE_LOGS else [component]

    def _component_env(self, component: str) -> dict[str, str]:
        """The environment of ``component``: the stack's, the same for every component here."""
        return self.env

    def _wait_until_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            self._fail_if_a_component_died()
            try:
                response = self._session().get(f"{self.api_url}/api/v2/monitor/health", timeout=5)
                last = response.text
                if response.ok and response.json()["scheduler"]["status"] == "healthy":
                    return
            except (requests.RequestException, KeyError, ValueError) as error:
                last = repr(error)
            time.sleep(1)
        raise TimeoutError(f"Airflow did not become healthy in {timeout:.0f}s: {last}\n{self.logs_tail()}")

    def _fail_if_a_component_died(self) -> None:
        for component, process in self._processes.items():
            if process.poll() is not None:
                tail = self.logs_tail()
                raise RuntimeError(f"airflow {component} exited with {process.returncode}\n{tail}")

    def _session(self) -> requests.Session:
        session = requests.Session()
        # REQUESTS_CA_BUNDLE and proxy variables would override `verify`; loopback needs neither.
        session.trust_env = False
        if self.https:
            session.verify = self.env["AIRFLOW__API__SSL_CERT"]
        return session


def _terminate_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a component and the workers it forked (each runs in its own process group)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        process.wait(timeout=10)
