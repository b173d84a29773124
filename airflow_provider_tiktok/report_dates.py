"""When the daily report runs and which day a run reports.

Only the schedule is read when the DAG file is parsed, from environment variables
(:func:`schedule_from_env`): a scheduler cannot read Variables while parsing. Which day a run reports is
decided at run time (:func:`run_report_date`), from its logical date, when it was allowed to start and
the ``report_date`` it may ask for.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from airflow_provider_tiktok.errors import TikTokConfigError, TikTokRunConfigError
from airflow_provider_tiktok.reports import report_date_for

if TYPE_CHECKING:
    from collections.abc import Mapping

SCHEDULE_ENV = "TIKTOK_REPORT_SCHEDULE"
TIMEZONE_ENV = "TIKTOK_REPORT_TIMEZONE"
DEFAULT_SCHEDULE_TIME = "02:00"
DEFAULT_TIMEZONE = "UTC"

_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def run_report_date(
    logical_date: datetime | None, run_after: datetime | None, tz: str, requested: Any = None
) -> date:
    """Which day a run reports: the requested day, else its logical date's day, never an unfinished day.

    A scheduled run's logical date is the start of its data interval, so a run that fires at 02:00 on
    June 2 has logical date June 1 02:00 and reports June 1 (in ``tz``); backfill runs likewise. A
    manual run triggered from the form has a logical date of "now" (or none): it reports the last
    *complete* day before it was triggered, i.e. the day before ``run_after`` in ``tz``. In general the
    report date is the earlier of the logical date's day and that last complete day.

    :param logical_date: the run's logical date, None for manual runs without one.
    :param run_after: when the run was allowed to start (triggered, or its schedule time).
    :param tz: IANA timezone of the report.
    :param requested: the run's ``report_date`` param (``YYYY-MM-DD``), None or "" when not given.
    :raises TikTokConfigError: the requested date is not a date, or is not complete yet.
    """
    if run_after is None:
        run_after = logical_date
    if run_after is None:
        raise TikTokRunConfigError("the run has neither a logical date nor run_after.")
    last_complete = report_date_for(run_after, tz) - timedelta(days=1)
    if requested not in (None, ""):
        return _requested_date(requested, last_complete, tz)
    if logical_date is None:
        return last_complete
    return min(report_date_for(logical_date, tz), last_complete)


def _requested_date(requested: Any, last_complete: date, tz: str) -> date:
    try:
        day = date.fromisoformat(str(requested).strip())
    except ValueError:
        raise TikTokRunConfigError(
            f"report_date {requested!r} in the run's params is not a date "
            "YYYY-MM-DD (e.g. 2026-11-24); trigger the run again with a valid date, or without one for "
            "the last complete day."
        ) from None
    if day > last_complete:
        raise TikTokRunConfigError(
            f"report_date {day.isoformat()} is not over yet in {tz} (the last "
            f"complete day is {last_complete.isoformat()}); TikTok only gives totals at fetch time, so "
            "a day is reported once it has ended."
        )
    return day


def schedule_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Read the daily schedule at parse time: ``(cron expression, timezone)``.

    ``TIKTOK_REPORT_SCHEDULE`` is a time of day ``HH:MM`` (default ``02:00``) and
    ``TIKTOK_REPORT_TIMEZONE`` an IANA timezone (default ``UTC``); the DAG runs daily at that time.
    Environment variables only: nothing is read from the metadata DB while parsing.

    :param environ: environment to read (``os.environ`` by default).
    """
    env = os.environ if environ is None else environ
    raw_time = env.get(SCHEDULE_ENV, "").strip() or DEFAULT_SCHEDULE_TIME
    match = _TIME_RE.match(raw_time)
    if not match:
        raise TikTokConfigError(
            f"{SCHEDULE_ENV}={raw_time!r} is not a time of day HH:MM (e.g. 02:00); fix the environment "
            "of the scheduler and dag-processor."
        )
    tz = env.get(TIMEZONE_ENV, "").strip() or DEFAULT_TIMEZONE
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise TikTokConfigError(
            f"{TIMEZONE_ENV}={tz!r} is not an IANA timezone name (e.g. UTC, Europe/Paris); fix the "
            "environment of the scheduler and dag-processor."
        ) from None
    return f"{int(match.group(2))} {int(match.group(1))} * * *", tz
