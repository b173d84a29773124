"""The test helper's days against the scheduler's own timetable, with its clock driven through the day."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pendulum
import pytest
from airflow.timetables import interval
from airflow.timetables.base import TimeRestriction

from airflow_provider_tiktok.report_dates import schedule_from_env
from tests.backfill_beside_daily import backfill_days, daily_run_day, quiet_schedule

TIMES = ["00:00:00", "00:30:00", "01:59:59", "02:00:00", "02:00:01", "12:00:00", "23:59:59"]


def _scheduler_daily_run_day(now: datetime, monkeypatch: pytest.MonkeyPatch) -> date:
    """The logical date of the run the scheduler starts on unpausing at ``now`` (catchup off)."""
    monkeypatch.setattr(interval, "utcnow", lambda: pendulum.instance(now))
    cron, tz = schedule_from_env({})
    info = interval.CronDataIntervalTimetable(cron, tz).next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=pendulum.datetime(2024, 1, 1), latest=None, catchup=False),
    )
    assert info is not None
    assert info.logical_date is not None
    return info.logical_date.date()


@pytest.mark.parametrize("clock", TIMES)
def test_the_backfill_ends_the_day_before_the_daily_run_at_any_time_of_day(
    clock: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.fromisoformat(f"2026-12-02T{clock}").replace(tzinfo=timezone.utc)
    daily = _scheduler_daily_run_day(now, monkeypatch)
    assert daily_run_day(now) == daily
    assert backfill_days(3, now) == [(daily - timedelta(days=n)).isoformat() for n in (3, 2, 1)]


@pytest.mark.parametrize("clock", TIMES)
def test_a_quiet_schedule_starts_one_run_and_the_next_a_day_later(
    clock: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.fromisoformat(f"2026-12-02T{clock}").replace(tzinfo=timezone.utc)
    monkeypatch.setattr(interval, "utcnow", lambda: pendulum.instance(now))
    cron, tz = schedule_from_env({"TIKTOK_REPORT_SCHEDULE": quiet_schedule(now)})
    timetable = interval.CronDataIntervalTimetable(cron, tz)
    restriction = TimeRestriction(earliest=pendulum.datetime(2024, 1, 1), latest=None, catchup=False)
    first = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert first is not None
    after = timetable.next_dagrun_info(
        last_automated_data_interval=first.data_interval, restriction=restriction
    )
    assert after is not None
    assert first.run_after <= now  # unpausing starts it at once
    assert after.run_after - pendulum.instance(now) > timedelta(hours=22)
