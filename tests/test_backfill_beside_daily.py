"""The test helper's days against the scheduler's own timetable, with its clock driven through the day."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pendulum
import pytest
from airflow.timetables import interval
from airflow.timetables.base import DagRunInfo, TimeRestriction

from airflow_provider_tiktok.report_dates import schedule_from_env
from tests.backfill_beside_daily import backfill_days, daily_run_day, quiet_schedule

TIMES = ["00:00:00", "00:30:00", "01:59:59", "02:00:00", "02:00:01", "12:00:00", "23:59:59"]


def _scheduled_runs(
    now: datetime, environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[DagRunInfo, DagRunInfo]:
    """The run the scheduler starts on unpausing at ``now`` (catchup off), and the one after it."""
    monkeypatch.setattr(interval, "utcnow", lambda: pendulum.instance(now))
    timetable = interval.CronDataIntervalTimetable(*schedule_from_env(environ))
    restriction = TimeRestriction(earliest=pendulum.datetime(2024, 1, 1), latest=None, catchup=False)
    first = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert first is not None
    after = timetable.next_dagrun_info(
        last_automated_data_interval=first.data_interval, restriction=restriction
    )
    assert after is not None
    return first, after


@pytest.mark.parametrize("clock", TIMES)
def test_the_backfill_ends_the_day_before_the_daily_run_at_any_time_of_day(
    clock: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.fromisoformat(f"2026-12-02T{clock}").replace(tzinfo=timezone.utc)
    first, _ = _scheduled_runs(now, {}, monkeypatch)
    assert first.logical_date is not None
    daily = first.logical_date.date()
    assert daily_run_day(now) == daily
    assert backfill_days(3, now) == [(daily - timedelta(days=n)).isoformat() for n in (3, 2, 1)]


@pytest.mark.parametrize("clock", TIMES)
def test_a_quiet_schedule_starts_one_run_and_the_next_a_day_later(
    clock: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.fromisoformat(f"2026-12-02T{clock}").replace(tzinfo=timezone.utc)
    first, after = _scheduled_runs(now, {"TIKTOK_REPORT_SCHEDULE": quiet_schedule(now)}, monkeypatch)
    assert first.run_after <= now  # unpausing starts it at once
    assert after.run_after - pendulum.instance(now) > timedelta(hours=22)
