"""OpenLineage events of a real daily run: Airflow's OpenLineage provider (file transport) under a real
scheduler records, for each report task, the account's videos in and the S3 objects out, and for the
finalize step the report objects in and the manifest out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from dev.airflow_stack import AirflowStack
from tests.backfill_beside_daily import quiet_schedule
from tests.scheduler.linking_env import report_stack_env

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

pytestmark = pytest.mark.scheduler

DAG_ID = "tiktok_daily_report"
DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
BUCKET = "lineage-reports"


@pytest.fixture(scope="module")
def emulator() -> Iterator[TikTokEmulator]:
    from airflow_provider_tiktok.testing.emulator import EmulatorConfig, TikTokEmulator

    with TikTokEmulator(EmulatorConfig(users=2, videos=3, non_target_users=0)) as emu:
        yield emu


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.timeout(900)
def test_report_and_finalize_emit_their_datasets(
    emulator: TikTokEmulator, moto_s3: str, tmp_path: Path
) -> None:
    boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    env, conn_ids = report_stack_env(emulator, BUCKET)
    env["TIKTOK_REPORT_SCHEDULE"] = quiet_schedule()  # the one scheduled run's events only
    events_file = tmp_path / "openlineage.jsonl"
    env["AIRFLOW__OPENLINEAGE__TRANSPORT"] = json.dumps(
        {"type": "file", "log_file_path": str(events_file), "append": True}
    )
    env["AIRFLOW__OPENLINEAGE__NAMESPACE"] = "tests"
    with AirflowStack(DAGS_FOLDER, env=env, parallelism=4) as airflow:
        airflow.wait_for_dag(DAG_ID)
        airflow.unpause(DAG_ID)
        (run,) = airflow.wait_for_runs(DAG_ID, 1, run_type="scheduled", timeout=600)
        assert run["state"] == "success", airflow.logs_tail()

    complete = [e for e in _events(events_file) if e["eventType"] == "COMPLETE" and "job" in e]
    by_task: dict[str, list[dict[str, Any]]] = {}
    for event in complete:
        by_task.setdefault(event["job"]["name"].split(".", 1)[-1], []).append(event)
    reports = by_task["report"]
    assert len(reports) == len(conn_ids)
    host = emulator.base_url.split("://", 1)[1]
    open_ids = {u.open_id for u in emulator.target_users}
    written = []
    for event in reports:
        (source,) = event["inputs"]
        assert source["namespace"] == f"tiktok://{host}"
        assert source["name"].startswith("user/")
        assert source["name"].removeprefix("user/").removesuffix("/videos") in open_ids
        assert {o["namespace"] for o in event["outputs"]} == {f"s3://{BUCKET}"}
        written += [o["name"] for o in event["outputs"]]
    keys = {
        o["Key"] for o in boto3.client("s3", endpoint_url=moto_s3).list_objects_v2(Bucket=BUCKET)["Contents"]
    }
    assert set(written) <= keys
    assert len(written) == 2 * len(conn_ids)  # video_stats.csv and account_stats.csv per account

    (finalize,) = by_task["finalize"]
    assert sorted(i["name"] for i in finalize["inputs"]) == sorted(written)
    (manifest,) = finalize["outputs"]
    assert manifest["namespace"] == f"s3://{BUCKET}"
    assert manifest["name"].endswith("_manifest.json")
    assert manifest["name"] in keys
    print(f"\n[lineage] report: {reports[0]['inputs']} -> {reports[0]['outputs']}")
