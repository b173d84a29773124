"""tiktok_daily_report: one CSV of video statistics per linked TikTok account per day, on S3.

Schedule (read from the environment when the file is parsed; nothing else is read at parse time):
``TIKTOK_REPORT_SCHEDULE`` = time of day ``HH:MM`` (default ``02:00``), ``TIKTOK_REPORT_TIMEZONE`` = IANA
timezone (default ``UTC``). The run that fires at 02:00 on June 2 has logical date (``ds``) June 1 and
reports June 1: its data interval is [June 1 02:00, June 2 02:00) and its report date is the logical
date's day in the report timezone. ``airflow backfill create --from-date A --to-date B`` reports the
days A..B. TikTok only gives lifetime totals at fetch time, so each row carries ``fetched_at`` too.

Settings (bucket, key templates, aws/app connection, timezone, encryption, formula escaping) come from
the run's params, then Variable ``tiktok_report_settings`` (JSON), then defaults; see
:mod:`airflow_provider_tiktok.report_settings`.

Shape: ``prepare`` (settings + registry, fails early on a missing bucket or too many accounts)
-> ``refresh_tokens`` (the only token writer, one at a time across runs)
-> ``report`` (one mapped task per account, labelled by account)
-> ``finalize`` (always runs: writes ``_manifest.json``, fails the run if any account failed,
emits the ``tiktok_video_stats`` asset event when all landed).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import Asset, CronDataIntervalTimetable, Param, TriggerRule, XComArg, dag, task

from airflow_provider_tiktok.operators.refresh import TikTokRefreshTokensOperator
from airflow_provider_tiktok.operators.tiktok import MAP_INDEX_TEMPLATE, TikTokToS3Operator
from airflow_provider_tiktok.report_settings import schedule_from_env

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


PARAMS = {
    "bucket": _optional("string", "S3 bucket (overrides Variable tiktok_report_settings)."),
    "key_template": _optional("string", "Key of video_stats.csv: {report_date}, {open_id}, {account}."),
    "aws_conn_id": _optional("string", "Airflow aws connection for S3."),
    "app_conn_id": _optional("string", "Report only accounts linked through this TikTok app connection."),
    "timezone": _optional("string", "IANA timezone of the report date."),
    "formula_escaping": _optional("string", "prefix (default) or none.", enum=[None, "prefix", "none"]),
    "accounts": _optional(
        "array", "Account connection ids to report (default: every linked account).", items={"type": "string"}
    ),
}


@task
def prepare(**context: Any) -> list[dict[str, Any]]:
    """Resolve settings and accounts; fail early (no retries) on a configuration problem.

    Returns one set of report-task arguments per account (mapped over); pushes ``accounts`` and
    ``run`` (settings, report date, manifest key) as XComs for the refresh and final tasks.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_provider_tiktok.daily_report import prepare_run
    from airflow_provider_tiktok.errors import TikTokConfigError

    try:
        prepared = prepare_run(context, default_timezone=TIMEZONE)
    except TikTokConfigError as exc:
        raise AirflowFailException(str(exc)) from None
    context["ti"].xcom_push(key="accounts", value=prepared["accounts"])
    context["ti"].xcom_push(key="run", value=prepared["run"])
    return prepared["report_kwargs"]


@task(trigger_rule=TriggerRule.ALL_DONE, outlets=[REPORT_ASSET], retries=2)
def finalize(run: dict[str, Any], **context: Any) -> dict[str, Any]:
    """Write ``_manifest.json`` next to the data, then fail the run if any account failed."""
    from airflow_provider_tiktok.daily_report import finalize_run

    return finalize_run(run, context, asset=REPORT_ASSET)


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
    # Typed Any: XComArgs stand in for the values they resolve to at run time.
    per_account: Any = prepare()
    accounts: Any = XComArg(per_account.operator, key="accounts")
    run: Any = XComArg(per_account.operator, key="run")
    refresh = TikTokRefreshTokensOperator(task_id="refresh_tokens", account_conn_ids=accounts)
    report = TikTokToS3Operator.partial(
        task_id="report",
        map_index_template=MAP_INDEX_TEMPLATE,
    ).expand_kwargs(per_account)
    done = finalize(run)
    refresh >> report >> done


tiktok_daily_report()
