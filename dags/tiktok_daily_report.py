"""tiktok_daily_report: one CSV of video statistics per linked TikTok account per day, on S3.

Schedule (read from the environment when the file is parsed; nothing else is read at parse time):
``TIKTOK_REPORT_SCHEDULE`` = time of day ``HH:MM`` (default ``02:00``), ``TIKTOK_REPORT_TIMEZONE`` = IANA
timezone (default ``UTC``). The run that fires at 02:00 on June 2 has logical date (``ds``) June 1 and
reports June 1: its data interval is [June 1 02:00, June 2 02:00) and its report date is the logical
date's day in the report timezone. ``airflow backfill create --from-date A --to-date BT23:59:59``
reports the days A..B (the dates are compared with logical dates, which fall at the schedule time). TikTok
only gives lifetime totals at fetch time, so each row carries ``fetched_at`` too.

Settings (bucket, key templates, aws/app connection, timezone, encryption, formula escaping) come from
Variable ``tiktok_report_settings`` (JSON), then defaults; a run's params choose only the accounts, the
report date and the formula escaping (see :mod:`airflow_provider_tiktok.report_settings`). A manual run
without ``report_date`` reports the last complete day.

Shape, built from the provider's operators: ``prepare`` (settings + registry, fails early on a
missing bucket or too many accounts)
-> ``refresh_tokens`` (the only token writer, one at a time across runs)
-> ``relink_reminders`` (always runs after the refresh: one message per account per days-left threshold,
and one when an account breaks, through the deployment's notifier; see docs/runbook.md)
-> ``report`` (one mapped task per account, labelled by account)
-> ``finalize`` (always runs: writes ``_manifest.json``, fails the run if any account failed,
emits the ``tiktok_video_stats`` asset event when all landed).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import Asset, Param, XComArg, dag

from airflow_provider_tiktok.airflow_compat import CronDataIntervalTimetable
from airflow_provider_tiktok.operators.refresh import TikTokRefreshTokensOperator
from airflow_provider_tiktok.operators.reminders import TikTokRelinkReminderOperator
from airflow_provider_tiktok.operators.report_run import (
    PREPARE_TASK_ID,
    REPORT_TASK_ID,
    TikTokReportFinalizeOperator,
    TikTokReportPrepareOperator,
)
from airflow_provider_tiktok.operators.tiktok import MAP_INDEX_TEMPLATE, TikTokToS3Operator
from airflow_provider_tiktok.ratelimit import PARALLEL_REPORTS
from airflow_provider_tiktok.report_dates import schedule_from_env
from airflow_provider_tiktok.xcom import ACCOUNTS_XCOM_KEY

CRON, TIMEZONE = schedule_from_env()

#: Downstream DAGs can ``schedule=[Asset.ref(name="tiktok_video_stats")]``; each event's extra holds
#: ``report_date``, ``bucket``, ``manifest_key``, ``manifest_uri``, ``rows`` and ``accounts``. The bucket is
#: a run-time setting, so the URI is a stable name, not an S3 location. Its ``x-`` scheme keeps parsing
#: cheap: any other scheme makes Airflow load every provider's URI normaliser (boto3 included) at parse
#: time. TIKTOK_REPORT_ASSET_URI overrides it (e.g. the real ``s3://bucket/tiktok/video_stats``).
REPORT_ASSET = Asset(
    name="tiktok_video_stats",
    uri=os.environ.get("TIKTOK_REPORT_ASSET_URI", "x-tiktok://reports/video_stats"),
    group="tiktok",
)

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "data-engineering",
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
}


def _optional(kind: str, description: str, **schema: Any) -> Param:
    """A run param that is unset (None) unless given: unset params fall back to the Variable."""
    return Param(None, type=["null", kind], description=description, **schema)


#: The per-run choices of the trigger form. Params are data: they never hold templates and never choose
#: where data goes (bucket, keys, connections come from Variable tiktok_report_settings; a run setting one
#: fails unless the Variable lists it in "allow_run_overrides").
PARAMS = {
    "accounts": _optional(
        "array", "Account connection ids to report (default: every linked account).", items={"type": "string"}
    ),
    "report_date": _optional(
        "string",
        "Day to report, YYYY-MM-DD (default: the run's day; a manual run reports the last complete day).",
        format="date",
    ),
    "formula_escaping": Param(
        "default",
        type="string",
        enum=["default", "prefix", "none"],
        values_display={
            "default": "The deployment's setting (prefix unless the Variable says otherwise)",
            "prefix": "prefix: a leading ' before = + - @ (safe in spreadsheets)",
            "none": "none: TikTok's exact text",
        },
        description="CSV formula escaping of text cells.",
    ),
}


@dag(
    dag_id="tiktok_daily_report",
    schedule=CronDataIntervalTimetable(CRON, timezone=TIMEZONE),
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    dagrun_timeout=timedelta(hours=12),
    tags=["tiktok"],
    doc_md=__doc__,
)
def tiktok_daily_report() -> None:
    """Daily TikTok video statistics to S3 (see the module docstring)."""
    prepare = TikTokReportPrepareOperator(task_id=PREPARE_TASK_ID, default_timezone=TIMEZONE)
    refresh = TikTokRefreshTokensOperator(
        task_id="refresh_tokens", account_conn_ids=XComArg(prepare, key=ACCOUNTS_XCOM_KEY)
    )
    report = TikTokToS3Operator.partial(
        task_id=REPORT_TASK_ID,
        map_index_template=MAP_INDEX_TEMPLATE,
        max_active_tis_per_dag=PARALLEL_REPORTS,  # every run together: they share one rate budget
    ).expand_kwargs(XComArg(prepare))
    finalize = TikTokReportFinalizeOperator(task_id="finalize", asset=REPORT_ASSET, retries=2)
    prepare >> refresh >> report >> finalize
    refresh >> TikTokRelinkReminderOperator(task_id="relink_reminders")


tiktok_daily_report()
