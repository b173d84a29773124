"""Rotated refresh tokens survive concurrent DAG runs under a real scheduler (LocalExecutor, Task SDK).

``dag.test()`` runs tasks in-process, where the ORM is still reachable; only a real scheduler shows
what a task can do on the Task SDK. Four runs start at once; every run refreshes every account
(strict rotation: each refresh burns the previous refresh token). With the refresh task capped to
one running instance across runs, no refresh may ever present a burnt token.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_tiktok.connections import rotation_variable_key
from airflow_provider_tiktok.hooks.tiktok import TikTokHook
from airflow_provider_tiktok.tokens import TokenSet
from dev.airflow_stack import AirflowStack
from tests.scheduler.linking_env import APP_CONN_ID, app_connection_json, link_through_code_flow

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

# The timeout covers fixture setup: whichever test runs first starts the stack and the runs.
pytestmark = [pytest.mark.scheduler, pytest.mark.timeout(900)]

DAG_ID = "tiktok_concurrent_refresh"
RUNS = 4
TOKEN_PATH = "/v2/oauth/token/"


@pytest.fixture(scope="module")
def emulator() -> Iterator[TikTokEmulator]:
    from airflow_provider_tiktok.testing.emulator import EmulatorConfig, TikTokEmulator

    config = EmulatorConfig(users=3, videos=5, strict_rotation=True, access_ttl=600)
    with TikTokEmulator(config) as emu:
        yield emu


@pytest.fixture(scope="module")
def linked(emulator: TikTokEmulator) -> Iterator[dict[str, str]]:
    """Three accounts linked through the code flow: {conn_id: connection JSON}, for the stack's env.

    The app connection is set in this process's environment for the module only: later modules must
    not find one pointing at this (by then stopped) emulator.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(f"AIRFLOW_CONN_{APP_CONN_ID.upper()}", app_connection_json(emulator))
        env: dict[str, str] = {}
        for user in emulator.target_users[:3]:
            info, conn_json = link_through_code_flow(emulator, user.open_id)
            env[info.conn_id] = conn_json
        yield env


@pytest.fixture(scope="module")
def stack(emulator: TikTokEmulator, linked: dict[str, str]) -> Iterator[AirflowStack]:
    env = {f"AIRFLOW_CONN_{conn_id.upper()}": conn for conn_id, conn in linked.items()}
    env[f"AIRFLOW_CONN_{APP_CONN_ID.upper()}"] = app_connection_json(emulator)
    env["AIRFLOW_VAR_TIKTOK_ACCOUNTS"] = json.dumps(sorted(linked))
    with AirflowStack(Path(__file__).parent / "dags", env=env) as running:
        running.wait_for_dag(DAG_ID)
        yield running


@dataclass(frozen=True)
class ConcurrentRuns:
    """The outcome of the module's scenario, which every test checks a side of."""

    run_ids: list[str]
    runs: list[dict[str, Any]]
    token_posts: int  # token requests the emulator saw while the runs ran


@pytest.fixture(scope="module")
def concurrent_runs(stack: AirflowStack, emulator: TikTokEmulator) -> ConcurrentRuns:
    """Trigger ``RUNS`` runs at once and wait for them, once for the module: no test relies on another."""
    emulator.reset_requests()
    run_ids = _trigger_runs(stack, RUNS)
    runs = stack.wait_for_runs(DAG_ID, RUNS, timeout=600)
    return ConcurrentRuns(run_ids, runs, emulator.count(TOKEN_PATH, "POST"))


def _trigger_runs(stack: AirflowStack, count: int) -> list[str]:
    stack.unpause(DAG_ID)
    run_ids = []
    for index in range(count):
        response = stack.api(
            "POST",
            f"/dags/{DAG_ID}/dagRuns",
            json={"dag_run_id": f"concurrent_{index}", "logical_date": None},
        )
        response.raise_for_status()
        run_ids.append(response.json()["dag_run_id"])
    return run_ids


def _refresh_result(stack: AirflowStack, run_id: str) -> dict[str, Any]:
    path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/refresh_tokens/xcomEntries/return_value"
    response = stack.api("GET", path)
    response.raise_for_status()
    value = response.json()["value"]
    return value if isinstance(value, dict) else json.loads(value)


def _intervals(stack: AirflowStack, run_ids: list[str], task_id: str) -> list[tuple[datetime, datetime]]:
    spans = []
    for run_id in run_ids:
        (ti,) = [t for t in stack.task_instances(DAG_ID, run_id) if t["task_id"] == task_id]
        spans.append((datetime.fromisoformat(ti["start_date"]), datetime.fromisoformat(ti["end_date"])))
    return sorted(spans)


def _effective_tokens(stack: AirflowStack, conn_id: str) -> TokenSet:
    raw = stack.cli("variables", "get", rotation_variable_key(conn_id)).stdout.strip()
    return TokenSet.from_dict(json.loads(raw))


def test_concurrent_runs_never_lose_a_rotated_refresh_token(
    stack: AirflowStack, concurrent_runs: ConcurrentRuns, linked: dict[str, str]
) -> None:
    run_ids = concurrent_runs.run_ids
    states = {run["dag_run_id"]: run["state"] for run in concurrent_runs.runs}
    assert states == dict.fromkeys(run_ids, "success")
    results = [_refresh_result(stack, run_id) for run_id in run_ids]
    assert [r["failed"] for r in results] == [{}] * RUNS, "a refresh was rejected (invalid_grant)"
    assert all(sorted(r["refreshed"]) == sorted(linked) for r in results), results
    # Every token request was one of these successful rotations: no rejected attempt, no retry.
    assert concurrent_runs.token_posts == RUNS * len(linked)
    # max_active_tis_per_dag=1: the refresh tasks of the four runs never overlapped.
    spans = _intervals(stack, run_ids, "refresh_tokens")
    assert len(spans) == RUNS, spans
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans)), spans


def test_every_account_is_still_refreshable_afterwards(
    stack: AirflowStack, concurrent_runs: ConcurrentRuns, linked: dict[str, str]
) -> None:
    assert len(linked) == 3, linked  # the loop below checks every linked account, not none
    for conn_id in linked:
        tokens = _effective_tokens(stack, conn_id)
        with TikTokHook(APP_CONN_ID) as hook:
            rotated = hook.refresh_tokens(tokens)
        assert rotated.refresh_token != tokens.refresh_token
        assert rotated.open_id == tokens.open_id


def test_no_token_reaches_a_task_log(
    stack: AirflowStack, concurrent_runs: ConcurrentRuns, linked: dict[str, str]
) -> None:
    logs = "\n".join(stack.task_log_texts())
    assert "TikTok token refresh" in logs, "the refresh task log should be among the logs read"
    assert len(linked) == 3, linked  # the loop below checks every linked account, not none
    for conn_id in linked:
        tokens = _effective_tokens(stack, conn_id)
        assert tokens.access_token not in logs
        assert tokens.refresh_token not in logs
