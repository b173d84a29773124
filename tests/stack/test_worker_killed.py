"""A Celery worker killed with SIGKILL in the middle of a report: Airflow notices the lost task (no
heartbeat), retries it on the other worker, no partial object reaches S3, and every account lands.

The emulator answers each API call slowly (``latency``), so a report pages through ``/v2/video/list/``
for seconds; the kill happens once that account's first page was served, and before its upload.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.stack.stack_support import REPORT_DAG, wait_until

if TYPE_CHECKING:
    from tests.stack.stack_support import Deployment

REPORT_DAY = "2026-11-20"
VIDEO_LIST = "/v2/video/list/"
LATENCY = 2.0

pytestmark = pytest.mark.timeout(900)


def _running_report(deployment: Deployment, run_id: str) -> dict[str, Any] | None:
    """A running report task whose account the emulator has served a page of videos to."""
    paged = {r.open_id for r in deployment.emulator.requests if r.path == VIDEO_LIST}
    for ti in deployment.stack.task_instances(REPORT_DAG, run_id):
        if ti["task_id"] != "report" or ti["state"] != "running" or not ti["hostname"]:
            continue
        open_id = _open_id(deployment, run_id, ti["map_index"])
        if open_id in paged:
            return {**ti, "open_id": open_id}
    return None


def _open_id(deployment: Deployment, run_id: str, map_index: int) -> str:
    """The open_id of the account that report task ``map_index`` reports (prepare's kwargs, in order)."""
    path = f"/dags/{REPORT_DAG}/dagRuns/{run_id}/taskInstances/prepare/xcomEntries/return_value"
    kwargs = deployment.stack.api("GET", path).json()["value"]
    conn_id = (kwargs if isinstance(kwargs, list) else json.loads(kwargs))[map_index]["account_conn_id"]
    extra = deployment.stack.api("GET", f"/connections/{conn_id}").json()["extra"]
    return str(json.loads(extra)["open_id"])


def test_a_worker_killed_mid_report_is_retried_on_the_other_worker(deployment: Deployment) -> None:
    stack, emulator = deployment.stack, deployment.emulator
    emulator.reset_requests()
    emulator.configure(latency=LATENCY)
    run_id = deployment.trigger(REPORT_DAG, "stack_worker_killed", {"report_date": REPORT_DAY})
    try:
        victim = wait_until(lambda: _running_report(deployment, run_id), timeout=600,
                            what="a report paging through videos", stack=stack)  # fmt: skip
        stack.kill_worker(victim["hostname"])
        prefix = f"tiktok/video_stats/dt={REPORT_DAY}/account={victim['open_id']}/"
        assert deployment.keys(prefix) == [], "an object landed before the report finished"
    finally:
        emulator.configure(latency=0.0)
    try:
        run = deployment.wait_for_run(REPORT_DAG, run_id)
    finally:
        stack.revive_worker(victim["hostname"])

    assert run["state"] == "success", stack.logs_tail()
    tries = deployment.tries(REPORT_DAG, run_id, "report", victim["map_index"])
    assert [t["state"] for t in tries] == ["failed", "success"], tries
    (survivor,) = set(stack.workers) - {victim["hostname"]}
    assert [t["hostname"] for t in tries] == [victim["hostname"], survivor]
    print(f"FIGURES worker killed: tries {[(t['hostname'], t['state'], t['start_date']) for t in tries]}")
    assert deployment.keys(prefix) == [prefix + "account_stats.csv", prefix + "video_stats.csv"]
    manifest = deployment.manifest(REPORT_DAY)
    assert manifest["complete"] is True
    assert [a["account_conn_id"] for a in manifest["accounts"]] == deployment.registry()
