"""What the stack tests share: the deployment they run on, triggering runs and reading what they did."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dev.waiting import wait_until as shared_wait_until

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator
    from dev.celery_stack import CeleryStack

REPO = Path(__file__).resolve().parents[2]
#: The shipped daily report and the concurrent-refresh test DAG (copied into one folder by the fixture).
DAG_FILES = (
    REPO / "dags" / "tiktok_daily_report.py",
    REPO / "tests" / "scheduler" / "dags" / "tiktok_concurrent_refresh.py",
)
REPORT_DAG = "tiktok_daily_report"
REFRESH_DAG = "tiktok_concurrent_refresh"
TOKEN_PATH = "/v2/oauth/token/"


@dataclass
class Deployment:
    """The running stack, the emulator it talks to, and S3."""

    stack: CeleryStack
    emulator: TikTokEmulator
    s3: Any
    bucket: str
    conn_ids: list[str]

    def registry(self) -> list[str]:
        """The account connection ids of Variable ``tiktok_accounts``, as stored now."""
        response = self.stack.api("GET", "/variables/tiktok_accounts")
        response.raise_for_status()
        ids: list[str] = json.loads(response.json()["value"])
        return ids

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any] | None = None) -> str:
        """Unpause ``dag_id`` and start a manual run; returns its run id."""
        self.stack.unpause(dag_id)
        body = {"dag_run_id": run_id, "logical_date": None, "conf": conf or {}}
        response = self.stack.api("POST", f"/dags/{dag_id}/dagRuns", json=body)
        response.raise_for_status()
        return str(response.json()["dag_run_id"])

    def wait_for_run(self, dag_id: str, run_id: str, *, timeout: float = 600) -> dict[str, Any]:
        """Wait until the run finished; returns it."""
        return wait_until(
            lambda: _finished(self.stack.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()),
            timeout=timeout, what=f"run {run_id} of {dag_id} to finish", stack=self.stack,
        )  # fmt: skip

    def tries(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> list[dict[str, Any]]:
        """Every try of one task instance (state, hostname = the worker that ran it)."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/tries"
        response = self.stack.api("GET", path)
        response.raise_for_status()
        tries: list[dict[str, Any]] = response.json()["task_instances"]
        return sorted(tries, key=lambda t: t["try_number"])

    def refresh_result(self, run_id: str) -> dict[str, Any]:
        """The ``refresh_tokens`` XCom of a run of the concurrent-refresh DAG."""
        path = f"/dags/{REFRESH_DAG}/dagRuns/{run_id}/taskInstances/refresh_tokens/xcomEntries/return_value"
        response = self.stack.api("GET", path)
        response.raise_for_status()
        value = response.json()["value"]
        return value if isinstance(value, dict) else dict(json.loads(value))

    def refresh_every_account(self, run_id: str) -> dict[str, Any]:
        """One run of the refresh DAG (it refreshes every account): proof that every token still works."""
        self.trigger(REFRESH_DAG, run_id)
        run = self.wait_for_run(REFRESH_DAG, run_id)
        assert run["state"] == "success", self.stack.logs_tail()
        return self.refresh_result(run_id)

    def keys(self, prefix: str) -> list[str]:
        """Every S3 key under ``prefix``."""
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in listed.get("Contents", []))

    def manifest(self, day: str) -> dict[str, Any]:
        """The ``_manifest.json`` of ``day``."""
        key = f"tiktok/video_stats/dt={day}/_manifest.json"
        data: dict[str, Any] = json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        return data


def _finished(run: dict[str, Any]) -> dict[str, Any] | None:
    return run if run.get("state") in ("success", "failed") else None


def wait_until(
    condition: Callable[[], Any], *, timeout: float, what: str, stack: CeleryStack | None = None
) -> Any:
    """Poll ``condition`` until it returns something truthy (returned); fail after ``timeout`` seconds."""
    return shared_wait_until(condition, timeout=timeout, what=what, detail=stack.logs_tail if stack else None)
