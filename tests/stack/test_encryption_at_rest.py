"""The provider's connections and Variables round-trip through PostgreSQL encrypted with the Fernet key:
the raw rows (read with psql, not through Airflow) hold no token text, and decrypt to the tokens."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet

from airflow_provider_tiktok.connections import rotation_variable_key
from tests.scheduler.linking_env import APP_CONN_ID

if TYPE_CHECKING:
    from tests.stack.stack_support import Deployment


def _fernet(deployment: Deployment) -> Fernet:
    return Fernet(deployment.stack.env["AIRFLOW__CORE__FERNET_KEY"].encode())


def test_account_and_app_connections_are_encrypted_at_rest(deployment: Deployment) -> None:
    postgres, fernet = deployment.stack.postgres, _fernet(deployment)
    for conn_id in [APP_CONN_ID, *deployment.conn_ids]:
        row = postgres.psql(
            "SELECT is_encrypted, is_extra_encrypted, coalesce(password, ''), extra "
            f"FROM connection WHERE conn_id = '{conn_id}'"
        ).strip()
        encrypted, extra_encrypted, password, extra = row.split("|")
        assert extra_encrypted == "t", row
        # Only the app connection has a password (the client secret); an account's tokens are in its extra.
        assert encrypted == ("t" if conn_id == APP_CONN_ID else "f"), row
        assert "act." not in row
        assert "rft." not in row
        assert deployment.emulator.client_secret not in row
        stored = json.loads(fernet.decrypt(extra.encode()))
        if conn_id == APP_CONN_ID:
            assert fernet.decrypt(password.encode()).decode() == deployment.emulator.client_secret
        else:
            assert stored["refresh_token"].startswith("rft.")


def _rotation_row(deployment: Deployment, key: str) -> str:
    sql = f"SELECT is_encrypted, val FROM variable WHERE key = '{key}'"
    return deployment.stack.postgres.psql(sql).strip()


def test_rotated_tokens_in_variables_are_encrypted_at_rest(deployment: Deployment) -> None:
    keys = [rotation_variable_key(conn_id) for conn_id in deployment.conn_ids]
    if not all(_rotation_row(deployment, key) for key in keys):
        # Alone (not after test_concurrency.py): a task rotates every account's tokens into Variables.
        assert deployment.refresh_every_account("stack_encryption_at_rest")["failed"] == {}
    fernet = _fernet(deployment)
    for key in keys:
        encrypted, value = _rotation_row(deployment, key).split("|")
        assert encrypted == "t"
        assert "act." not in value
        assert "rft." not in value
        tokens = json.loads(fernet.decrypt(value.encode()))
        # Through Airflow (the CLI decrypts with the same key): the same token set.
        assert json.loads(deployment.stack.cli("variables", "get", key).stdout) == tokens
        assert tokens["refresh_token"].startswith("rft.")
