"""Test DAG: the refresh task (single writer) followed by a read-only use of every account's tokens.

Several runs of it at once against the emulator in strict-rotation mode prove that rotated refresh
tokens are never lost under a real scheduler (tests/scheduler/test_concurrent_refresh.py).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Variable, dag, task

from airflow_provider_tiktok.hooks.tiktok import TikTokHook
from airflow_provider_tiktok.operators.refresh import TikTokRefreshTokensOperator


@dag(
    dag_id="tiktok_concurrent_refresh",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=8,
)
def tiktok_concurrent_refresh() -> None:
    # A margin longer than the emulator's access-token lifetime: every run refreshes every account.
    refresh = TikTokRefreshTokensOperator(task_id="refresh_tokens", margin=timedelta(hours=2))

    @task
    def read_user_info() -> list[str]:
        """Call the Display API with each account's effective (possibly just rotated) access token."""
        open_ids = []
        for conn_id in Variable.get("tiktok_accounts", deserialize_json=True):
            with TikTokHook(conn_id) as hook:
                open_ids.append(hook.get_user_info(fields=["open_id"])["open_id"])
        return open_ids

    refresh >> read_user_info()


tiktok_concurrent_refresh()
