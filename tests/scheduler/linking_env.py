"""Link emulator users through the real OAuth code path and express them as environment connections.

The real scheduler reads account connections from ``AIRFLOW_CONN_*`` variables (as a deployment
with connections in its environment would); rotated tokens then live in Variables in its database.
The scheduler tests of ``tiktok_daily_report`` also share its bucket and stack here.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
import requests

from airflow_provider_tiktok.connections import AccountInfo
from airflow_provider_tiktok.hooks.tiktok import TikTokHook
from airflow_provider_tiktok.testing.connections import account_connection, app_connection
from airflow_provider_tiktok.tokens import utcnow
from dev.airflow_stack import AirflowStack

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

APP_CONN_ID = "tiktok_default"
REPORT_DAG_ID = "tiktok_daily_report"
DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


def app_connection_json(emulator: TikTokEmulator) -> str:
    """The app connection pointing at ``emulator``."""
    return json.dumps(app_connection(emulator))


def link_through_code_flow(emulator: TikTokEmulator, open_id: str) -> tuple[AccountInfo, str]:
    """Authorize URL -> consent as ``open_id`` -> code exchange; returns (account, connection JSON)."""
    with TikTokHook(APP_CONN_ID) as hook:
        verifier, challenge = hook.new_pkce_pair()
        url = hook.build_authorize_url(state="test-state", code_challenge=challenge)
        consent = requests.get(f"{url}&emulator_user={open_id}", allow_redirects=False, timeout=10)
        code = parse_qs(urlparse(consent.headers["Location"]).query)["code"][0]
        tokens = hook.exchange_code(code, code_verifier=verifier)
    user = emulator.user(open_id)
    info = AccountInfo(
        conn_id=f"tiktok_account_{user.username}",
        app_conn_id=APP_CONN_ID,
        open_id=open_id,
        display_name=user.display_name,
        username=user.username,
        linked_at=utcnow(),
        linked_by="test",
    )
    return info, json.dumps(account_connection(info, tokens))


def report_stack_env(emulator: TikTokEmulator, bucket: str) -> tuple[dict[str, str], list[str]]:
    """Environment of a stack running ``tiktok_daily_report``: the app connection, every target user
    linked through the code flow, the registry and the settings (``bucket`` through ``aws_test``).

    Returns (env, account connection ids in registry order). The app connection is set in this process
    only while linking: later modules must not find one pointing at a stopped emulator.
    """
    app = app_connection_json(emulator)
    env = {f"AIRFLOW_CONN_{APP_CONN_ID.upper()}": app}
    conn_ids = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(f"AIRFLOW_CONN_{APP_CONN_ID.upper()}", app)
        for user in emulator.target_users:
            info, conn_json = link_through_code_flow(emulator, user.open_id)
            env[f"AIRFLOW_CONN_{info.conn_id.upper()}"] = conn_json
            conn_ids.append(info.conn_id)
    env["AIRFLOW_VAR_TIKTOK_ACCOUNTS"] = json.dumps(conn_ids)
    env["AIRFLOW_VAR_TIKTOK_REPORT_SETTINGS"] = json.dumps({"bucket": bucket, "aws_conn_id": "aws_test"})
    return env, conn_ids


def report_bucket(moto_s3: str, name: str) -> str:
    """Create bucket ``name`` on the session's moto_server (``moto_s3`` is its endpoint); returns the name."""
    boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@contextmanager
def report_stack(emulator: TikTokEmulator, bucket: str) -> Iterator[tuple[AirflowStack, list[str]]]:
    """A running stack (parallelism 8) of the repository's DAGs with :func:`report_stack_env`, once it has
    parsed ``tiktok_daily_report``: yields (stack, account connection ids in registry order)."""
    env, conn_ids = report_stack_env(emulator, bucket)
    with AirflowStack(DAGS_FOLDER, env=env, parallelism=8) as running:
        running.wait_for_dag(REPORT_DAG_ID)
        yield running, conn_ids
