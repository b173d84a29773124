"""No report fails for its token's age, under a real scheduler (LocalExecutor, Task SDK), with tokens that
live 60 seconds: a 10-date backfill overlapping the daily run, latency on every TikTok call so the whole
lasts many token lifetimes, one account revoked at TikTok mid-way, and one report cleared and run again
after its token expired.

Every report task starts with an access token older than its 5-minute floor, so each one refreshes, many at
once across runs (strict rotation): the losers of those races must take the winner's set, never call the
account broken. Only the revoked account may be told to relink.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_tiktok.connections import refresh_failure_variable_key, rotation_variable_key
from airflow_provider_tiktok.hooks.tiktok import TOKEN_PATH, TikTokHook
from airflow_provider_tiktok.tokens import TokenSet
from dev.waiting import wait_until
from tests.backfill_beside_daily import backfill_days, wait_for_daily_run
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
pytestmark = [pytest.mark.scheduler, pytest.mark.timeout(2400)]

DAG_ID = REPORT_DAG_ID
DATES = 10
ACCESS_TTL = 60


@pytest.fixture(scope="module")
def emulator() -> Iterator[TikTokEmulator]:
    from airflow_provider_tiktok.testing.emulator import EmulatorConfig, TikTokEmulator

    config = EmulatorConfig(
        users=4,
        videos=60,
        non_target_users=0,
        strict_rotation=True,
        access_ttl=ACCESS_TTL,
        latency=0.2,
        token_errors_http_200=False,  # refused grants as HTTP 400, so the figures can count them
    )
    with TikTokEmulator(config) as emu:
        yield emu


@pytest.fixture(scope="module")
def bucket(moto_s3: str) -> str:
    return report_bucket(moto_s3, "short-token-reports")


@pytest.fixture(scope="module")
def stack(emulator: TikTokEmulator, bucket: str) -> Iterator[tuple[AirflowStack, list[str]]]:
    with report_stack(emulator, bucket) as running:
        yield running


@dataclass(frozen=True)
class Backfill:
    """The outcome of the module's scenario, which every test checks a side of."""

    runs: list[dict[str, Any]]
    elapsed: float  # seconds from the backfill's creation until every run had finished


@pytest.fixture(scope="module")
def backfill(stack: tuple[AirflowStack, list[str]], emulator: TikTokEmulator) -> Backfill:
    """Once for the module, so no test relies on another: a ``DATES``-date backfill beside the daily
    run, the last account revoked at TikTok once the first backfill run has succeeded."""
    airflow, _ = stack
    dates = backfill_days(DATES)
    started = time.monotonic()
    airflow.create_backfill(DAG_ID, dates[0], f"{dates[-1]}T23:59:59", max_active_runs=4)
    airflow.unpause(DAG_ID)  # also starts the latest scheduled run beside the backfill
    _wait(
        lambda: any(r["state"] == "success" for r in airflow.dag_runs(DAG_ID) if r["run_type"] == "backfill"),
        "a first backfill run succeeded",
        airflow,
    )
    emulator.revoke_all(emulator.target_users[-1].open_id)  # the runs after it meet a revoked account
    runs = wait_for_daily_run(airflow, DAG_ID, backfill_count=DATES, timeout=1500)
    return Backfill(runs, time.monotonic() - started)


def _wait(condition: Any, what: str, stack: AirflowStack, timeout: float = 900) -> Any:
    return wait_until(condition, timeout=timeout, what=what, interval=2, detail=stack.logs_tail)


def _reports(stack: AirflowStack, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every mapped report task instance of ``runs`` (label = the account's conn id or name)."""
    return [
        ti
        for run in runs
        for ti in stack.task_instances(DAG_ID, run["dag_run_id"])
        if ti["task_id"] == "report"
    ]


def _variable(stack: AirflowStack, key: str) -> str | None:
    result = stack.cli("variables", "get", key, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def test_no_report_fails_for_token_age_and_only_the_revoked_account_says_relink(
    stack: tuple[AirflowStack, list[str]], backfill: Backfill, emulator: TikTokEmulator
) -> None:
    airflow, conn_ids = stack
    revoked_conn = conn_ids[-1]
    runs, elapsed = backfill.runs, backfill.elapsed

    reports = _reports(airflow, runs)
    # The prepare task maps the registry in order: the revoked account is the last map index.
    by_account = Counter((ti["map_index"] == len(conn_ids) - 1, ti["state"]) for ti in reports)
    assert len(reports) == (DATES + 1) * len(conn_ids)
    # Other accounts: every report succeeded, whatever its token's age; none was ever called broken.
    assert by_account[(False, "success")] == (DATES + 1) * (len(conn_ids) - 1), by_account
    assert len(conn_ids) >= 2, conn_ids  # the loop below checks the accounts that were not revoked
    for conn_id in conn_ids[:-1]:
        assert _variable(airflow, refresh_failure_variable_key(conn_id)) is None, conn_id
    # The revoked account: broken, told to relink, its reports after the revocation failed for good.
    assert by_account[(True, "failed")] >= 1, by_account
    failure = json.loads(_variable(airflow, refresh_failure_variable_key(revoked_conn)) or "{}")
    assert failure["message"].startswith("Relink TikTok account")
    logs = "\n".join(airflow.task_log_texts())
    assert "Relink TikTok account" in logs

    statuses = Counter(r.status for r in emulator.requests if r.path == TOKEN_PATH)  # 400 = refused
    print(  # the figures of the note (pytest -s)
        f"\n[short tokens] {len(runs)} runs, {len(reports)} report tasks in {elapsed:.0f}s "
        f"({elapsed / ACCESS_TTL:.1f} token lifetimes); token requests {dict(statuses)}; "
        f"report states {dict(by_account)}"
    )
    assert elapsed > 3 * ACCESS_TTL  # the whole outlived several access tokens


def test_a_report_cleared_after_its_token_expired_runs_again_and_lands(
    stack: tuple[AirflowStack, list[str]], backfill: Backfill, emulator: TikTokEmulator
) -> None:
    airflow, _ = stack
    run = next(r for r in backfill.runs if r["run_type"] == "scheduled")
    emulator.clock.advance(2 * ACCESS_TTL)  # every access token Airflow holds is dead at TikTok now
    response = airflow.api(
        "POST",
        f"/dags/{DAG_ID}/clearTaskInstances",
        json={
            "dry_run": False,
            "dag_run_id": run["dag_run_id"],
            "task_ids": [["report", 0]],
            "only_failed": False,
        },
    )
    response.raise_for_status()

    def landed_again() -> dict[str, Any] | None:
        (ti,) = [
            t
            for t in airflow.task_instances(DAG_ID, run["dag_run_id"])
            if t["task_id"] == "report" and t["map_index"] == 0
        ]
        return ti if ti["try_number"] >= 2 and ti["state"] in ("success", "failed") else None

    ti = _wait(landed_again, "the cleared report finished", airflow, timeout=500)
    assert ti["state"] == "success", airflow.logs_tail()


def test_every_other_account_is_still_refreshable(
    stack: tuple[AirflowStack, list[str]],
    backfill: Backfill,
    emulator: TikTokEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    airflow, conn_ids = stack
    monkeypatch.setenv(f"AIRFLOW_CONN_{APP_CONN_ID.upper()}", app_connection_json(emulator))
    assert len(conn_ids) >= 2, conn_ids  # the loop below checks the accounts that were not revoked
    for conn_id in conn_ids[:-1]:
        key = rotation_variable_key(conn_id)
        raw = _variable(airflow, key)
        assert raw is not None, conn_id
        tokens = TokenSet.from_dict(json.loads(raw))
        with TikTokHook(APP_CONN_ID) as hook:
            rotated = hook.refresh_tokens(tokens)
        assert rotated.open_id == tokens.open_id  # the newest refresh token works
        # Strict rotation burnt the stored token: store its successor, so a test after this one (a
        # cleared report) still finds a live set, as the rotation store would.
        value = json.dumps(rotated.to_dict())
        airflow.api("PATCH", f"/variables/{key}", json={"key": key, "value": value}).raise_for_status()
