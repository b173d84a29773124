"""The deployment of ``docker-compose.yaml``, natively on loopback: CeleryExecutor with Redis and PostgreSQL,
the FAB auth manager, a scheduler, dag-processor, triggerer, API server (HTTPS) and two Celery workers.

The Airflow settings come from :data:`COMPOSE_SETTINGS`, the compose file's own list (a test checks the
two against each other: tests/deploy/test_stack_settings.py). What differs is where things listen and
:data:`STACK_TUNING`: shorter timeouts so that a fault is detected in seconds, not minutes.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet

from dev.airflow_stack import COMPONENTS, AirflowStack
from dev.ports import free_port
from dev.postgres_server import PostgresServer
from dev.redis_server import RedisServer

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"

#: docker-compose.yaml's ``x-airflow-common`` environment, key for key. A literal is the compose file's
#: own value; ``{name}`` is filled in by :func:`compose_settings` with this stack's servers and secrets.
COMPOSE_SETTINGS: dict[str, str] = {
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER,
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "{sql_alchemy_conn}",
    "AIRFLOW__CELERY__RESULT_BACKEND": "{result_backend}",
    "AIRFLOW__CELERY__BROKER_URL": "{broker_url}",
    "AIRFLOW__CORE__FERNET_KEY": "{fernet_key}",
    "AIRFLOW__API_AUTH__JWT_SECRET": "{jwt_secret}",
    "AIRFLOW__API__SECRET_KEY": "{api_secret_key}",
    "AIRFLOW__API__BASE_URL": "{api_url}",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "{api_url}/execution/",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "true",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
    "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "true",
    "AIRFLOW_CONN_AWS_DEFAULT": "{aws_connection}",
    "AIRFLOW_VAR_TIKTOK_REPORT_SETTINGS": '{{"bucket": "{bucket}", "aws_conn_id": "aws_default"}}',
    "TIKTOK_REPORT_SCHEDULE": "02:00",
    "TIKTOK_REPORT_TIMEZONE": "UTC",
    "TIKTOK_REPORT_ASSET_URI": "s3://{bucket}/tiktok/video_stats",
    # Relink reminders by e-mail; here to a loopback port nobody serves, so a due reminder is logged as
    # not sent (tests/reminders/ proves delivery with a real SMTP server).
    "AIRFLOW_CONN_SMTP_DEFAULT": (
        '{{"conn_type": "smtp", "host": "127.0.0.1", "port": "{smtp_port}", "login": "", '
        '"password": "{smtp_password}", "extra": {{"from_email": "airflow@localhost"}}}}'
    ),
    "AIRFLOW__TIKTOK__REMINDER_NOTIFIER": "airflow.providers.smtp.notifications.smtp.SmtpNotifier",
    "AIRFLOW__TIKTOK__REMINDER_NOTIFIER_KWARGS": (
        '{{"smtp_conn_id": "smtp_default", "to": "data-team@example.com", "subject": "{{subject}}", '
        '"html_content": "{{html}}"}}'
    ),
    "AIRFLOW__TIKTOK__REMINDER_DAYS": "30,7,1",
}

#: Not in the compose file: a task whose worker died is declared lost after 20 s without a heartbeat
#: (default 300 s), checked every 5 s; a task queued but never started (its Celery message consumed while
#: the database was down) is failed and retried after 60 s (default 600 s).
STACK_TUNING: dict[str, str] = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "60",
}

#: A cluster policy (airflow_local_settings.py): task retries seconds apart instead of the DAG's
#: minutes, so a retry after a fault is seen within a test. Nothing else of the DAG changes.
FAST_RETRIES_POLICY = '''\
"""Stack tests only: retries 5 s apart (the shipped DAG waits minutes)."""
from datetime import timedelta


def task_policy(task):
    task.retry_delay = timedelta(seconds=5)
    task.max_retry_delay = timedelta(seconds=30)
'''

#: Environment variable that names a worker; :func:`worker_hostname` reports it as the task's host.
WORKER_NAME_VARIABLE = "TIKTOK_STACK_WORKER"
#: One Admin (each `airflow users create` costs a CLI start, up to a minute on a busy machine).
FAB_USERS = {"admin": "Admin"}


def compose_settings(**values: str) -> dict[str, str]:
    """:data:`COMPOSE_SETTINGS` with every ``{name}`` filled in from ``values``."""
    return {key: template.format(**values) for key, template in COMPOSE_SETTINGS.items()}


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the workers: tells which worker ran a task instance (``hostname``)."""
    return os.environ.get(WORKER_NAME_VARIABLE) or "unnamed-worker"


class CeleryStack(AirflowStack):
    """PostgreSQL, Redis and every Airflow component of the compose file, two Celery workers included.

    :param dags_folder: folder the dag-processor parses.
    :param bucket: the report bucket (Variable ``tiktok_report_settings``, as the compose file sets it).
    :param aws_connection: the ``aws_default`` connection (JSON), e.g. pointing at ``moto_server``.
    :param env: more environment for every component.
    :param api_port: port of the API server (HTTPS; a free one by default).
    :param workers: how many Celery workers; each runs ``concurrency`` tasks at once.
    """

    def __init__(
        self,
        dags_folder: str | Path,
        *,
        bucket: str,
        aws_connection: str,
        env: Mapping[str, str] | None = None,
        api_port: int = 0,
        workers: int = 2,
        concurrency: int = 2,
    ) -> None:
        super().__init__(dags_folder, https=True, users=FAB_USERS, api_port=api_port, triggerer=True)
        self.postgres = PostgresServer()
        self.redis = RedisServer()
        self.workers = tuple(f"worker-{number}" for number in range(1, workers + 1))
        self.components = (*COMPONENTS, "triggerer", *self.workers)
        self.concurrency = concurrency
        self._bucket = bucket
        self._aws_connection = aws_connection
        self._user_env = dict(env or {})
        self._log_offsets: dict[str, int] = {}
        #: How often each component exited and was started again (compose's ``restart: always``).
        self.restarts: Counter[str] = Counter()
        self._down: set[str] = set()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    def start(self, *, timeout: float = 300.0) -> CeleryStack:
        """Start PostgreSQL and Redis, then Airflow; create the FAB users; wait for both workers."""
        self.postgres.start()
        self.redis.start()
        self._extra_env = {**self._settings(), **STACK_TUNING, **self._user_env}
        (self.home / "config").mkdir(parents=True, exist_ok=True)
        (self.home / "config" / "airflow_local_settings.py").write_text(FAST_RETRIES_POLICY)
        super().start(timeout=timeout)
        for user, role in FAB_USERS.items():
            self.create_fab_user(user, role, lastname="Stack")
        self.wait_for_workers(self.workers, timeout=timeout)
        self._supervisor = threading.Thread(target=self._restart_exited, name="restart-always", daemon=True)
        self._supervisor.start()
        return self

    def stop(self) -> None:
        """Stop every Airflow component, then Redis and PostgreSQL; remove every data directory."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=30)
        try:
            super().stop()
        finally:
            self.redis.stop()
            self.postgres.stop()

    def kill_worker(self, worker: str) -> None:
        """SIGKILL ``worker`` and everything it forked (its task processes), as a lost machine would."""
        self._down.add(worker)  # a lost machine does not come back by itself
        process = self._processes[worker]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def revive_worker(self, worker: str, *, timeout: float = 300.0) -> None:
        """Start ``worker`` again (compose's ``restart: always``) and wait until it answers."""
        log = self.home / "logs" / f"{worker}.out"
        self._log_offsets[worker] = len(log.read_text(errors="replace")) if log.exists() else 0
        self._start_component(worker)
        self._down.discard(worker)
        self.wait_for_workers((worker,), timeout=timeout)

    def wait_for_workers(self, workers: tuple[str, ...], *, timeout: float) -> None:
        """Wait until every worker in ``workers`` consumes from the broker (Celery logs "<name>@host ready").

        Its log, not ``celery inspect ping``: each ping starts a Python process that imports Airflow.
        """
        deadline = time.monotonic() + timeout
        pending = set(workers)
        while pending and time.monotonic() < deadline:
            self._fail_if_a_component_died()
            pending = {worker for worker in pending if not self._ready(worker)}
            time.sleep(0.5)
        if pending:
            names = sorted(pending)
            raise TimeoutError(f"Celery workers {names} not ready in {timeout:.0f}s\n{self.logs_tail()}")

    def _ready(self, worker: str) -> bool:
        log = self.home / "logs" / f"{worker}.out"
        # Only lines written since this start count: a revived worker appends to its old log.
        text = log.read_text(errors="replace")[self._log_offsets.get(worker, 0) :] if log.exists() else ""
        return any(f"{worker}@" in line and " ready." in line for line in text.splitlines())

    # -- internals -------------------------------------------------------------------------
    def _restart_exited(self) -> None:
        """Start again every component that exited, as compose's ``restart: always`` does.

        The scheduler, dag-processor and triggerer exit when the database goes away (OperationalError);
        in the compose deployment Docker starts them again.
        """
        while not self._stopping.wait(1.0):
            for component, process in list(self._processes.items()):
                if process.poll() is not None and component not in self._down and not self._stopping.is_set():
                    self.restarts[component] += 1
                    self._start_component(component)

    def _settings(self) -> dict[str, str]:
        settings = compose_settings(
            sql_alchemy_conn=self.postgres.url(),
            result_backend=self.postgres.url("db+postgresql"),
            broker_url=self.redis.url,
            fernet_key=Fernet.generate_key().decode(),
            jwt_secret=secrets.token_urlsafe(48),
            api_secret_key=secrets.token_urlsafe(48),
            api_url=self.api_url,
            aws_connection=self._aws_connection,
            bucket=self._bucket,
            smtp_port=str(free_port()),
            smtp_password=secrets.token_urlsafe(16),
        )
        # The scheduler's health server (compose: :8974 in its container) on loopback and a free port.
        settings["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST"] = "127.0.0.1"
        settings["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"] = str(free_port())
        return settings

    def _component_args(self, component: str) -> list[str]:
        if component not in self.workers:
            return super()._component_args(component)
        return [
            "celery", "worker", f"--celery-hostname={component}@%h", f"--concurrency={self.concurrency}",
            "--skip-serve-logs",
        ]  # fmt: skip

    def _component_env(self, component: str) -> dict[str, str]:
        if component not in self.workers:
            return self.env
        named = {
            WORKER_NAME_VARIABLE: component,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname",
        }
        return {**self.env, **named}
