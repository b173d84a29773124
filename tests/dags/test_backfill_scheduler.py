"""A backfill of tiktok_daily_report under a real scheduler (LocalExecutor, Task SDK, several runs at once).

``airflow backfill create`` queues one run per date; the scheduler runs up to three at the same time.
Every run refreshes every account (short-lived access tokens, strict rotation), so a lost rotated
token would surface as ``invalid_grant``. Every date's files and manifest must land.
"""

from __future__ import annotations

import json
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from airflow_provider_tiktok.connections import rotation_variable_key
from airflow_provider_tiktok.hooks.tiktok import TikTokHook
from airflow_provider_tiktok.tokens import TokenSet
from tests.backfill_beside_daily import backfill_days
from tests.scheduler.linking_env import (
    APP_CONN_ID,
    REPORT_DAG_ID,
    app_connection_json,
    report_bucket,
    report_stack,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator
    from dev.airflow_stack import AirflowStack

# The timeout covers fixture setup: whichever test runs first starts the stack and runs the backfill.
pytestmark = [pytest.mark.scheduler, pytest.mark.timeout(900)]

DAG_ID = REPORT_DAG_ID
DATES = 3


@pytest.fixture(scope="module")
def emulator() -> Iterator[TikTokEmulator]:
    from airflow_provider_tiktok.testing.emulator import EmulatorConfig, TikTokEmulator

    config = EmulatorConfig(users=3, videos=30, non_target_users=0, strict_rotation=True, access_ttl=600)
    with TikTokEmulator(config) as emu:
        yield emu


@pytest.fixture(scope="module")
def bucket(moto_s3: str) -> str:
    return report_bucket(moto_s3, "backfill-reports")


@pytest.fixture(scope="module")
def stack(emulator: TikTokEmulator, bucket: str) -> Iterator[tuple[AirflowStack, list[str]]]:
    with report_stack(emulator, bucket) as running:
        yield running


@pytest.fixture(scope="module")
def dates() -> list[str]:
    """The days to backfill, fixed once for the module (a test may run after the 02:00 schedule time)."""
    return backfill_days(DATES)


@pytest.fixture(scope="module")
def backfill_runs(stack: tuple[AirflowStack, list[str]], dates: list[str]) -> list[dict[str, Any]]:
    """Once for the module, so no test relies on another: backfill ``DATES`` dates; the finished runs."""
    airflow, _ = stack
    # --to-date is compared with logical dates (the report day at the schedule time, 02:00), so the
    # runbook's inclusive form names the last day's end.
    airflow.create_backfill(DAG_ID, dates[0], f"{dates[-1]}T23:59:59", max_active_runs=DATES)
    # Queued runs wait for the DAG to be unpaused, which also starts the latest scheduled run beside
    # them. (Unpausing first would make the CLI race the busy scheduler for sqlite's single writer.)
    airflow.unpause(DAG_ID)
    return airflow.wait_for_runs(DAG_ID, DATES, run_type="backfill", timeout=600)


def _overlapping(stack: AirflowStack, runs: list[dict[str, Any]]) -> bool:
    """True when at least two runs were running at the same time."""
    spans = sorted((r["start_date"], r["end_date"]) for r in runs if r["start_date"] and r["end_date"])
    return any(later[0] < earlier[1] for earlier, later in pairwise(spans))


def test_backfill_lands_every_date_with_concurrent_runs(
    stack: tuple[AirflowStack, list[str]],
    backfill_runs: list[dict[str, Any]],
    dates: list[str],
    emulator: TikTokEmulator,
    bucket: str,
    moto_s3: str,
) -> None:
    airflow, conn_ids = stack
    assert sorted(r["logical_date"][:10] for r in backfill_runs) == dates
    assert {r["state"] for r in backfill_runs} == {"success"}, airflow.logs_tail()
    assert _overlapping(airflow, backfill_runs), "the backfill runs should have overlapped"

    s3 = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1")
    for day in dates:
        manifest = json.loads(
            s3.get_object(Bucket=bucket, Key=f"tiktok/video_stats/dt={day}/_manifest.json")["Body"].read()
        )
        assert manifest["complete"] is True
        assert [a["account_conn_id"] for a in manifest["accounts"]] == conn_ids
        for user in emulator.target_users:
            prefix = f"tiktok/video_stats/dt={day}/account={user.open_id}/"
            keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"])
            assert keys == [prefix + "account_stats.csv", prefix + "video_stats.csv"]


def test_no_rotated_token_was_lost(
    stack: tuple[AirflowStack, list[str]],
    backfill_runs: list[dict[str, Any]],
    emulator: TikTokEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    airflow, conn_ids = stack
    monkeypatch.setenv(f"AIRFLOW_CONN_{APP_CONN_ID.upper()}", app_connection_json(emulator))
    assert len(conn_ids) == 3, conn_ids  # the loop below checks every linked account, not none
    for conn_id in conn_ids:
        raw = airflow.cli("variables", "get", rotation_variable_key(conn_id)).stdout.strip()
        tokens = TokenSet.from_dict(json.loads(raw))
        with TikTokHook(APP_CONN_ID) as hook:
            rotated = hook.refresh_tokens(tokens)  # the newest refresh token still works
        assert rotated.open_id == tokens.open_id
