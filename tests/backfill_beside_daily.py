"""A backfill beside the daily run that unpausing ``tiktok_daily_report`` starts, at any time of day.

With catchup off, unpausing starts the run of the last data interval to have ended at the 02:00 UTC
schedule: before 02:00 that interval began the day before yesterday, after it yesterday. A backfill run
with the same logical date makes the scheduler skip the daily run ("run already exists"), so the days
to backfill end the day before it. And a test that outlives 02:00 sees one more scheduled run, so
the wait below takes the first one only. A test that needs no backfill can instead move the schedule
(:func:`quiet_schedule`) so that no second run comes while it runs.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.report_dates import DEFAULT_SCHEDULE_TIME
from dev.airflow_stack import TERMINAL_RUN_STATES
from dev.waiting import wait_until

if TYPE_CHECKING:
    from dev.airflow_stack import AirflowStack

_FIRES_AT = time.fromisoformat(DEFAULT_SCHEDULE_TIME)


def daily_run_day(now: datetime | None = None) -> date:
    """The report day (logical date) of the scheduled run that unpausing at ``now`` (UTC) starts."""
    now = now or datetime.now(timezone.utc)
    last_fired = now.date() if now.time() >= _FIRES_AT else now.date() - timedelta(days=1)
    return last_fired - timedelta(days=1)


def quiet_schedule(now: datetime | None = None) -> str:
    """A ``TIKTOK_REPORT_SCHEDULE`` an hour before ``now`` (UTC): unpausing starts one run, the next is
    23 hours away."""
    return ((now or datetime.now(timezone.utc)) - timedelta(hours=1)).strftime("%H:%M")


def backfill_days(count: int, now: datetime | None = None) -> list[str]:
    """``count`` days to backfill, oldest first, the last one the day before :func:`daily_run_day`."""
    last = daily_run_day(now) - timedelta(days=1)
    return [(last - timedelta(days=offset)).isoformat() for offset in range(count - 1, -1, -1)]


def wait_for_daily_run(
    stack: AirflowStack, dag_id: str, *, timeout: float, backfill_count: int = 0
) -> list[dict[str, Any]]:
    """Wait until the first scheduled run (and ``backfill_count`` backfill runs) finished; those runs,
    the scheduled one last."""

    def finished() -> list[dict[str, Any]] | None:
        runs = stack.dag_runs(dag_id)
        done = [r for r in runs if r["state"] in TERMINAL_RUN_STATES]
        backfill = [r for r in done if r["run_type"] == "backfill"]
        scheduled = sorted((r for r in runs if r["run_type"] == "scheduled"), key=lambda r: r["logical_date"])
        if len(backfill) < backfill_count or not scheduled or scheduled[0] not in done:
            return None
        return [*backfill, scheduled[0]]

    what = f"the first scheduled run of {dag_id} and {backfill_count} backfill runs"
    detail = stack.logs_tail
    runs: list[dict[str, Any]] = wait_until(finished, timeout=timeout, interval=2, what=what, detail=detail)
    return runs
