"""Fixtures of the DAG tests: an emulator with linked accounts, the app connection and a fresh bucket."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

import boto3
import pytest
from report_dag_support import SCOPES, Deployment, delete_tiktok_variables

from airflow_provider_tiktok.testing.connections import app_connection

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator


@pytest.fixture
def deployment(
    tiktok_emulator_factory: Callable[..., TikTokEmulator], moto_s3: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployment]:
    """An emulator (3 target users x 45 videos), the app connection, a bucket and the settings Variable."""
    emu = tiktok_emulator_factory(users=3, videos=45, non_target_users=0, hang_seconds=2.0)
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_DEFAULT", json.dumps(app_connection(emu, scopes=SCOPES)))
    s3 = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1")
    bucket = f"reports-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    setup = Deployment(emu=emu, s3=s3, bucket=bucket, monkeypatch=monkeypatch)
    setup.settings(bucket=bucket, aws_conn_id="aws_test")
    yield setup
    delete_tiktok_variables()
