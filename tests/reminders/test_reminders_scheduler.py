"""Relink reminders end to end: the daily DAG under a real scheduler (LocalExecutor, Task SDK) e-mails a real
SMTP server on loopback through Airflow's SmtpNotifier, while the emulator's clock moves each account across
30, 7 and 1 days left and then past its refresh token's expiry (broken).

TikTok's answer to each refresh carries the refresh token's remaining lifetime by the emulator's clock, so
moving that clock is what moves the deadline Airflow stores. Every run must send exactly one message per
account per new threshold, none on a second run at the same threshold, each naming the account, its
deadline, the page and what to do, and none holding a token.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from airflow_provider_tiktok.reminder_message import utc_text
from airflow_provider_tiktok.tokens import TokenSet
from dev.airflow_stack import TERMINAL_RUN_STATES as TERMINAL
from dev.airflow_stack import AirflowStack
from dev.waiting import wait_until
from tests.backfill_beside_daily import quiet_schedule
from tests.reminders.conftest import SMTP_KWARGS, SMTP_NOTIFIER
from tests.reminders.smtp_sink import SmtpSink
from tests.scheduler.linking_env import report_stack_env

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator
    from tests.reminders.smtp_sink import Received

pytestmark = pytest.mark.scheduler

DAG_ID = "tiktok_daily_report"
DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
DAY = 86400
#: (days left by the emulator's clock when the run starts, what each account's message says, or None)
STEPS: list[tuple[float, str | None]] = [
    (29.5, "relink within 30 day(s)"),
    (29.4, None),  # the same threshold on the next run: no second message
    (6.5, "relink within 7 day(s)"),
    (0.5, "relink within 1 day(s)"),
    (-0.5, "is broken: relink it now"),
    (-0.6, None),  # still broken: no second message
]


@pytest.fixture(scope="module")
def emulator() -> Iterator[TikTokEmulator]:
    from airflow_provider_tiktok.testing.emulator import EmulatorConfig, TikTokEmulator

    # Access tokens live 60 s, so every run's refresh task refreshes and learns the days left anew.
    config = EmulatorConfig(users=2, videos=3, non_target_users=0, strict_rotation=True, access_ttl=60)
    with TikTokEmulator(config) as emu:
        yield emu


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture(scope="module")
def stack(emulator: TikTokEmulator, smtp: SmtpSink, moto_s3: str) -> Iterator[tuple[AirflowStack, list[str]]]:
    bucket = "reminder-reports"
    boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1").create_bucket(Bucket=bucket)
    env, conn_ids = report_stack_env(emulator, bucket)
    env |= {
        "AIRFLOW_CONN_SMTP_REMINDERS": smtp.connection_uri(),
        "AIRFLOW__TIKTOK__REMINDER_NOTIFIER": SMTP_NOTIFIER,
        "AIRFLOW__TIKTOK__REMINDER_NOTIFIER_KWARGS": json.dumps(SMTP_KWARGS),
        "TIKTOK_REPORT_SCHEDULE": quiet_schedule(),  # no scheduled run beside the test's own runs
    }
    with AirflowStack(DAGS_FOLDER, env=env, parallelism=4) as running:
        running.wait_for_dag(DAG_ID)
        yield running, conn_ids


def _wait(condition: Callable[[], Any], what: str, airflow: AirflowStack, timeout: float = 600) -> Any:
    return wait_until(condition, timeout=timeout, what=what, interval=2, detail=airflow.logs_tail)


def _run_to_the_end(airflow: AirflowStack, run_id: str) -> dict[str, str]:
    """Trigger a manual run, wait until it finished; its task states by task id (mapped: last one)."""
    response = airflow.api(
        "POST", f"/dags/{DAG_ID}/dagRuns", json={"dag_run_id": run_id, "logical_date": None}
    )
    response.raise_for_status()
    _wait(
        lambda: any(r["dag_run_id"] == run_id and r["state"] in TERMINAL for r in airflow.dag_runs(DAG_ID)),
        f"run {run_id} finished",
        airflow,
    )
    return {t["task_id"]: t["state"] for t in airflow.task_instances(DAG_ID, run_id)}


def _variable(airflow: AirflowStack, key: str) -> str | None:
    result = airflow.cli("variables", "get", key, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


@pytest.mark.timeout(1800)
def test_one_reminder_per_account_per_threshold_and_when_broken(
    stack: tuple[AirflowStack, list[str]], emulator: TikTokEmulator, smtp: SmtpSink
) -> None:
    airflow, conn_ids = stack
    expiry = emulator.clock.now() + emulator.config.refresh_ttl  # of the tokens linked just before
    names = {f"tiktok_account_{u.username}": u.display_name for u in emulator.target_users}
    airflow.unpause(DAG_ID)  # starts the latest scheduled run: 180 days left, nothing to say
    airflow.wait_for_runs(DAG_ID, 1, run_type="scheduled", timeout=600)
    assert smtp.received == []

    secrets: set[str] = set()
    for step, (days_left, says) in enumerate(STEPS):
        emulator.clock.advance(expiry - days_left * DAY - emulator.clock.now())
        before = len(smtp.received)
        states = _run_to_the_end(airflow, f"reminders_{step}")
        assert states["relink_reminders"] == "success", states  # also when the reports failed
        rotated = {
            c: TokenSet.from_dict(json.loads(_variable(airflow, f"tiktok_token__{c}") or "{}"))
            for c in conn_ids
        }
        secrets |= {t.refresh_token for t in rotated.values()} | {t.access_token for t in rotated.values()}
        if says is None:
            assert len(smtp.received) == before, [m.subject for m in smtp.received[before:]]
            continue
        new = smtp.wait_for(before + len(conn_ids))[before:]
        assert len(smtp.received) == before + len(conn_ids)  # exactly one per account
        for conn_id in conn_ids:
            (mail,) = [m for m in new if f"(connection {conn_id})" in m.subject]
            _check(mail, says, names[conn_id], rotated[conn_id], airflow)
    assert len(smtp.received) == 4 * len(conn_ids)
    for mail in smtp.received:
        assert not any(secret.encode() in mail.raw for secret in secrets)
    print("\n[reminder as received]\n" + smtp.received[-1].raw.decode())  # the note's sample (pytest -s)


def _check(mail: Received, says: str, name: str, tokens: TokenSet, airflow: AirflowStack) -> None:
    assert says in mail.subject
    assert name in mail.subject
    assert utc_text(tokens.refresh_token_expires_at) in mail.body  # the deadline Airflow holds
    assert mail.rcpt_tos == ("data-team@example.com",)
    assert f"{airflow.api_url}/plugin/tiktok-accounts" in mail.body
    assert "Regenerate token" in mail.body
