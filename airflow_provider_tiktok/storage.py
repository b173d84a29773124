"""Where Connections and Variables are read and written: the Task SDK inside a task, the ORM elsewhere.

:class:`StorageBackend` is the protocol; :class:`SdkBackend` (Task SDK, through the API server),
:class:`OrmBackend` (metadata DB: API server, CLI, tests) and :class:`AutoBackend` (decides per call) its
implementations. :func:`fetch_connection` reads a connection and says what to do when it is missing;
:func:`session_scope` is the ORM session of code that writes several rows in one transaction (linking).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_tiktok.connections import ACCOUNT_CONN_PREFIX
from airflow_provider_tiktok.errors import TikTokConfigError, accounts_page_url

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.orm import Session


class StorageBackend(Protocol):
    """Where connections and Variables are read and written (Task SDK in tasks, ORM elsewhere)."""

    def get_connection(self, conn_id: str) -> Any:
        """Return the connection or raise ``AirflowNotFoundException``."""

    def get_variable(self, key: str) -> str | None:
        """Return the Variable's raw value, None when it does not exist (never from a stale cache)."""

    def set_variable(self, key: str, value: str) -> None:
        """Create or overwrite the Variable."""

    def delete_variable(self, key: str) -> None:
        """Delete the Variable if it exists."""


def in_task_context() -> bool:
    """True inside a Task SDK task runner (only there may the SDK write Variables)."""
    import sys

    runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    return getattr(runner, "SUPERVISOR_COMMS", None) is not None


class SdkBackend:
    """Task SDK storage: ``BaseHook.get_connection`` and ``airflow.sdk.Variable`` (through the API server)."""

    def get_connection(self, conn_id: str) -> Any:
        """Read the connection through the Task SDK (no metadata DB needed)."""
        from airflow.sdk import BaseHook

        return BaseHook.get_connection(conn_id)

    def get_variable(self, key: str) -> str | None:
        """Read the Variable, dropping any SecretCache entry first.

        ``[secrets] use_cache`` only initialises the SecretCache in the DAG processor today, but if it is
        ever active in this process a cached rotation Variable would hand out a refresh token that TikTok
        has already rotated away; invalidating first costs nothing.
        """
        from airflow.sdk import Variable
        from airflow.sdk.execution_time.cache import SecretCache

        SecretCache.invalidate_variable(key)
        value = Variable.get(key, default=None)
        return None if value is None else str(value)

    def set_variable(self, key: str, value: str) -> None:
        """Write through the Task SDK (also invalidates the SecretCache entry)."""
        from airflow.sdk import Variable

        Variable.set(key, value)

    def delete_variable(self, key: str) -> None:
        """Delete through the Task SDK."""
        from airflow.sdk import Variable

        Variable.delete(key)


class OrmBackend:
    """Metadata-DB storage for the API server, CLI and tests (``airflow.models``)."""

    def get_connection(self, conn_id: str) -> Any:
        """Read the connection from env vars, secrets backends and the metadata DB."""
        from airflow.models import Connection

        return Connection.get_connection_from_secrets(conn_id)

    def get_variable(self, key: str) -> str | None:
        """Read the Variable (env vars, secrets backends, metadata DB)."""
        from airflow.models import Variable

        value = Variable.get(key, default_var=None)
        return None if value is None else str(value)

    def set_variable(self, key: str, value: str) -> None:
        """Write the Variable to the metadata DB."""
        from airflow.models import Variable

        Variable.set(key, value)

    def delete_variable(self, key: str) -> None:
        """Delete the Variable from the metadata DB."""
        from airflow.models import Variable

        Variable.delete(key)


class AutoBackend:
    """Task SDK inside a task, ORM everywhere else; decided per call (a hook may be built outside a task)."""

    def _pick(self) -> StorageBackend:
        return SdkBackend() if in_task_context() else OrmBackend()

    def get_connection(self, conn_id: str) -> Any:
        """See :meth:`StorageBackend.get_connection`."""
        return self._pick().get_connection(conn_id)

    def get_variable(self, key: str) -> str | None:
        """See :meth:`StorageBackend.get_variable`."""
        return self._pick().get_variable(key)

    def set_variable(self, key: str, value: str) -> None:
        """See :meth:`StorageBackend.set_variable`."""
        self._pick().set_variable(key, value)

    def delete_variable(self, key: str) -> None:
        """See :meth:`StorageBackend.delete_variable`."""
        self._pick().delete_variable(key)


def fetch_connection(backend: StorageBackend, conn_id: str) -> Any:
    """Read a connection, turning "not found" into a :class:`TikTokConfigError` that says what to do.

    :param backend: where to read it.
    :param conn_id: the app or account connection id.
    """
    from airflow.exceptions import AirflowNotFoundException

    try:
        return backend.get_connection(conn_id)
    except AirflowNotFoundException:
        fix = (
            f"link the account at {accounts_page_url()}"
            if conn_id.startswith(ACCOUNT_CONN_PREFIX)
            else "create it in Admin > Connections (type TikTok: client key, client secret, redirect_uri)"
        )
        raise TikTokConfigError(f"Connection {conn_id!r} does not exist; {fix}.") from None


@contextmanager
def session_scope(session: Session | None) -> Iterator[Session]:
    """Use the caller's session (they commit) or open one that commits on success."""
    if session is not None:
        yield session
        return
    from airflow.utils.session import create_session

    with create_session() as new_session:
        yield new_session
