"""Helpers of the DAG tests: parse ``tiktok_daily_report``, link emulator users as ``AIRFLOW_CONN_*`` /
``AIRFLOW_VAR_*`` environment variables, read objects back from S3.

``dag.test()`` runs every task in this process through Airflow's task runner against the session's
sqlite metadata DB; rotation and status Variables land there and are deleted after each test.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.connections import AccountInfo
from airflow_provider_tiktok.testing.connections import account_connection
from airflow_provider_tiktok.tokens import TokenSet

if TYPE_CHECKING:
    import pytest
    from airflow.sdk import DAG

    from airflow_provider_tiktok.testing.emulator import EmulatedUser, TikTokEmulator

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "tiktok_daily_report.py"
SCOPES = "user.info.basic,user.info.profile,user.info.stats,video.list"
#: Fast, bounded HTTP retries so fault tests finish in seconds (the DAG's defaults back off for a minute).
FAST_HOOK: dict[str, Any] = {"timeout": (2, 5), "max_retries": 1, "backoff_base": 0.01, "backoff_cap": 0.05}


def load_dag(*, fast: bool = True) -> DAG:
    """Parse the DAG file like the dag-processor does; fail on import errors.

    :param fast: no task retries and fast HTTP retries (a failing task fails at once).
    """
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags["tiktok_daily_report"]
    if fast:
        for task in dag.tasks:
            task.retries = 0
            if task.task_id == "report":
                task.partial_kwargs["hook_kwargs"] = FAST_HOOK  # type: ignore[union-attr]
            elif task.task_id == "refresh_tokens":
                task.hook_kwargs = FAST_HOOK  # type: ignore[union-attr]
    return dag


@dataclass
class Deployment:
    """What a DAG test set up: the emulator, linked accounts and the S3 bucket."""

    emu: TikTokEmulator
    s3: Any
    bucket: str
    monkeypatch: pytest.MonkeyPatch
    accounts: dict[str, EmulatedUser] = field(default_factory=dict)

    def link(self, user: EmulatedUser, *, expired: bool = False) -> str:
        """Link ``user`` as an account connection (env var) and add it to the registry; returns its id.

        :param expired: store an access token that already expired, so the refresh task must refresh.
        """
        now = datetime.now(timezone.utc)
        response = self.emu.issue_tokens(user.open_id, scopes=SCOPES)
        tokens = TokenSet.from_token_response(response, now=now - timedelta(minutes=1), linked_at=now)
        if expired:
            tokens = replace(tokens, access_token_expires_at=now - timedelta(seconds=1))
        conn_id = f"tiktok_account_{user.username.replace('.', '_')}"
        info = AccountInfo(
            conn_id=conn_id,
            app_conn_id="tiktok_default",
            open_id=user.open_id,
            display_name=user.display_name,
            username=user.username,
            linked_at=now,
            linked_by="tests",
        )
        self.monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(account_connection(info, tokens))
        )
        self.accounts[conn_id] = user
        self.monkeypatch.setenv("AIRFLOW_VAR_TIKTOK_ACCOUNTS", json.dumps(list(self.accounts)))
        return conn_id

    def settings(self, **values: Any) -> None:
        """Set the Variable ``tiktok_report_settings`` (env var) to ``values``."""
        self.monkeypatch.setenv("AIRFLOW_VAR_TIKTOK_REPORT_SETTINGS", json.dumps(values))

    def keys(self, prefix: str = "") -> list[str]:
        """Every key in the bucket under ``prefix``."""
        response = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in response.get("Contents", []))

    def read(self, key: str) -> bytes:
        """The object's bytes."""
        body: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def rows(self, key: str) -> list[dict[str, str]]:
        """The CSV object's rows."""
        return list(csv.DictReader(io.StringIO(self.read(key).decode("utf-8"), newline="")))

    def manifest(self, report_date: str) -> dict[str, Any]:
        """The date's ``_manifest.json``."""
        data: dict[str, Any] = json.loads(self.read(f"tiktok/video_stats/dt={report_date}/_manifest.json"))
        return data


def delete_tiktok_variables() -> None:
    """Remove every ``tiktok_*`` Variable from the metadata DB."""
    from airflow.models import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(Variable).where(Variable.key.like("tiktok%")))
