"""Under CeleryExecutor on PostgreSQL: concurrent runs never lose a rotated refresh token, and a backfill
runs beside the daily run with every date landing (the LocalExecutor/sqlite proofs of tests/scheduler and
tests/dags, on the deployment users run)."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest

from tests.backfill_beside_daily import backfill_days, wait_for_daily_run
from tests.stack.stack_support import REFRESH_DAG, REPORT_DAG, TOKEN_PATH

if TYPE_CHECKING:
    from tests.stack.stack_support import Deployment

RUNS = 4
BACKFILL_DAYS = 2

pytestmark = pytest.mark.timeout(900)


def _span(ti: dict[str, Any]) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(ti["start_date"]), datetime.fromisoformat(ti["end_date"])


def test_concurrent_runs_never_lose_a_rotated_refresh_token(deployment: Deployment) -> None:
    accounts = deployment.registry()
    deployment.emulator.reset_requests()
    run_ids = [deployment.trigger(REFRESH_DAG, f"stack_concurrent_{n}") for n in range(RUNS)]

    runs = [deployment.wait_for_run(REFRESH_DAG, run_id) for run_id in run_ids]

    assert [run["state"] for run in runs] == ["success"] * RUNS, deployment.stack.logs_tail()
    results = [deployment.refresh_result(run_id) for run_id in run_ids]
    assert [r["failed"] for r in results] == [{}] * RUNS, "a refresh was rejected (invalid_grant)"
    assert all(sorted(r["refreshed"]) == sorted(accounts) for r in results), results
    assert deployment.emulator.count(TOKEN_PATH, "POST") == RUNS * len(accounts)
    # max_active_tis_per_dag=1 holds across two Celery workers: the refreshes never overlapped.
    spans = sorted(_span(deployment.tries(REFRESH_DAG, r, "refresh_tokens")[-1]) for r in run_ids)
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans)), spans
    hosts = {deployment.tries(REFRESH_DAG, r, "read_user_info")[-1]["hostname"] for r in run_ids}
    assert hosts <= set(deployment.stack.workers), hosts


def test_a_backfill_overlapping_the_daily_run_lands_every_date(deployment: Deployment) -> None:
    stack = deployment.stack
    accounts = deployment.registry()
    days = backfill_days(BACKFILL_DAYS)
    stack.create_backfill(REPORT_DAG, days[0], f"{days[-1]}T23:59:59", max_active_runs=BACKFILL_DAYS)
    # Unpausing starts the backfill's runs and, beside them, the scheduled run of the last interval.
    stack.unpause(REPORT_DAG)

    runs = wait_for_daily_run(stack, REPORT_DAG, backfill_count=BACKFILL_DAYS, timeout=600)

    assert {r["run_type"] for r in runs} == {"backfill", "scheduled"}, runs
    assert {r["state"] for r in runs} == {"success"}, stack.logs_tail()
    scheduled = next(r for r in runs if r["run_type"] == "scheduled")
    backfill = [r for r in runs if r["run_type"] == "backfill"]
    assert any(b["start_date"] < scheduled["end_date"] and scheduled["start_date"] < b["end_date"]
               for b in backfill), "the backfill should have run beside the daily run"  # fmt: skip
    for day in [*days, scheduled["logical_date"][:10]]:
        manifest = deployment.manifest(day)
        assert manifest["complete"] is True, manifest
        assert [a["account_conn_id"] for a in manifest["accounts"]] == accounts
