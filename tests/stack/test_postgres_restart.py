"""PostgreSQL stopped without a clean shutdown (``pg_ctl stop -m immediate``) and started again while a
daily run is reporting: the run still succeeds through Airflow's own retries, and no token is lost."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from tests.stack.stack_support import REPORT_DAG, wait_until

if TYPE_CHECKING:
    from tests.stack.stack_support import Deployment

REPORT_DAY = "2026-11-21"
LATENCY = 1.0

pytestmark = pytest.mark.timeout(900)


def _reporting(deployment: Deployment, run_id: str) -> bool:
    instances = deployment.stack.task_instances(REPORT_DAG, run_id)
    return any(ti["task_id"] == "report" and ti["state"] == "running" for ti in instances)


def test_a_postgres_restart_mid_run_loses_no_run_and_no_token(deployment: Deployment) -> None:
    stack, emulator = deployment.stack, deployment.emulator
    emulator.configure(latency=LATENCY)
    try:
        run_id = deployment.trigger(REPORT_DAG, "stack_postgres_restart", {"report_date": REPORT_DAY})
        wait_until(lambda: _reporting(deployment, run_id), timeout=600, what="a running report", stack=stack)
        started = time.monotonic()
        stack.postgres.restart(mode="immediate")
        print(f"FIGURES postgres restart: down for {time.monotonic() - started:.1f}s")
    finally:
        emulator.configure(latency=0.0)
    run = deployment.wait_for_run(REPORT_DAG, run_id)

    assert run["state"] == "success", stack.logs_tail()
    retried = {f"{ti['task_id']}[{ti['map_index']}]": ti["try_number"]
               for ti in stack.task_instances(REPORT_DAG, run_id) if ti["try_number"] > 1}  # fmt: skip
    print(f"FIGURES postgres restart: components restarted {dict(stack.restarts)}, retried tasks {retried}")
    manifest = deployment.manifest(REPORT_DAY)
    assert manifest["complete"] is True
    assert [a["account_conn_id"] for a in manifest["accounts"]] == deployment.registry()
    refreshed = deployment.refresh_every_account("stack_after_postgres_restart")
    assert refreshed["failed"] == {}, refreshed
    assert sorted(refreshed["refreshed"]) == sorted(deployment.registry())
