"""What the first and last tasks of ``tiktok_daily_report`` do (kept out of the DAG file: no parse-time work).

``prepare_run`` resolves the run's settings, accounts and report date and builds one set of keyword
arguments per account for the mapped :class:`~airflow_provider_tiktok.operators.tiktok.TikTokToS3Operator`.
``finalize_run`` writes the date's ``_manifest.json`` and decides the run's outcome.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.connections import REGISTRY_VARIABLE, connection_extra
from airflow_provider_tiktok.operators.tiktok import ERROR_XCOM_KEY, SUMMARY_XCOM_KEY
from airflow_provider_tiktok.report_manifest import as_list, build_manifest, failure_message
from airflow_provider_tiktok.report_settings import (
    SETTINGS_VARIABLE,
    ReportSettings,
    check_map_length,
    fill_key,
    parse_account_list,
    parse_settings_variable,
    resolve_settings,
    run_report_date,
    select_accounts,
)
from airflow_provider_tiktok.tokens import AutoBackend

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow.sdk import Asset

    from airflow_provider_tiktok.tokens import StorageBackend

log = logging.getLogger(__name__)


def _max_map_length() -> int:
    from airflow.configuration import conf

    return conf.getint("core", "max_map_length", fallback=1024)


def _linked_through(backend: StorageBackend, conn_id: str) -> str | None:
    """The app connection an account was linked through; None when its connection cannot be read."""
    try:
        return connection_extra(backend.get_connection(conn_id)).get("app_conn_id")
    except Exception:
        # Keep the account: its own report task will fail with a message naming the problem.
        log.warning("Could not read connection %s to check its app; keeping it.", conn_id)
        return None


def select_run_accounts(
    backend: StorageBackend, settings: ReportSettings, requested: list[str] | None
) -> list[str]:
    """Accounts of this run: registry (or the requested subset), filtered by ``app_conn_id`` when set."""
    accounts = select_accounts(parse_account_list(backend.get_variable(REGISTRY_VARIABLE)), requested)
    if settings.app_conn_id:
        kept = [a for a in accounts if _linked_through(backend, a) in (settings.app_conn_id, None)]
        skipped = sorted(set(accounts) - set(kept))
        if skipped:
            log.info("Skipping %s: linked through another app than %s", skipped, settings.app_conn_id)
        accounts = kept
    return accounts


def report_kwargs(settings: ReportSettings, conn_id: str, report_date: str) -> dict[str, Any]:
    """Keyword arguments of one account's mapped report task."""
    return {
        "account_conn_id": conn_id,
        "bucket": settings.bucket,
        "key": settings.key_template,
        "account_key": settings.account_key_template or None,
        "report_date": report_date,
        "report_timezone": settings.timezone,
        "aws_conn_id": settings.aws_conn_id,
        "encrypt": settings.encrypt,
        "formula_escaping": settings.formula_escaping,
    }


def prepare_run(
    context: Mapping[str, Any], *, default_timezone: str, backend: StorageBackend | None = None
) -> dict[str, Any]:
    """Resolve settings, accounts and report date of a run (the DAG's first task).

    Raises :class:`~airflow_provider_tiktok.errors.TikTokConfigError` with a message saying what to
    change when the bucket is missing, a setting is invalid or there are more accounts than
    ``[core] max_map_length``.

    :param context: the task context (``params``, ``logical_date``, ``dag_run``).
    :param default_timezone: report timezone when no setting names one (the schedule's).
    :param backend: Variable/Connection storage (default: Task SDK in a task, ORM elsewhere).
    """
    store = backend or AutoBackend()
    params = dict(context.get("params") or {})
    variable = parse_settings_variable(store.get_variable(SETTINGS_VARIABLE))
    settings = resolve_settings(params=params, variable=variable, default_timezone=default_timezone)
    accounts = select_run_accounts(store, settings, params.get("accounts"))
    check_map_length(len(accounts), _max_map_length())
    dag_run = context.get("dag_run")
    report_date = run_report_date(
        context.get("logical_date"), getattr(dag_run, "run_after", None), settings.timezone
    ).isoformat()
    log.info(
        "Report date %s (%s), %d account(s), bucket %s",
        report_date,
        settings.timezone,
        len(accounts),
        settings.bucket,
    )
    run = {
        **settings.to_dict(),
        "report_date": report_date,
        "accounts": accounts,
        "manifest_key": fill_key(settings.manifest_key_template, report_date=report_date),
    }
    return {
        "accounts": accounts,
        "report_kwargs": [report_kwargs(settings, conn_id, report_date) for conn_id in accounts],
        "run": run,
    }


def finalize_run(
    run: Mapping[str, Any],
    context: Mapping[str, Any],
    *,
    asset: Asset,
    report_task_id: str,
) -> dict[str, Any]:
    """Write ``_manifest.json``; fail (after writing it) when any account failed; else emit the asset event.

    :param run: the ``run`` output of :func:`prepare_run`.
    :param context: the task context (``ti``, ``run_id``, ``outlet_events``).
    :param asset: the DAG's report asset (event extra: report date, bucket, manifest, rows).
    :param report_task_id: the mapped report task whose summaries and errors the manifest collects.
    """
    from airflow_provider_tiktok.airflow_compat import AirflowFailException

    ti = context["ti"]
    manifest = build_manifest(
        accounts=run["accounts"],
        summaries=as_list(ti.xcom_pull(task_ids=report_task_id, key=SUMMARY_XCOM_KEY)),
        errors=as_list(ti.xcom_pull(task_ids=report_task_id, key=ERROR_XCOM_KEY)),
        report_date=run["report_date"],
        bucket=run["bucket"],
        timezone_name=run["timezone"],
        run_id=str(context.get("run_id")),
    )
    uri = _upload_manifest(run, manifest)
    if not manifest["complete"]:
        raise AirflowFailException(failure_message(manifest, uri))
    extra = {
        "report_date": run["report_date"],
        "bucket": run["bucket"],
        "manifest_key": run["manifest_key"],
        "manifest_uri": uri,
        "rows": manifest["totals"]["rows"],
        "accounts": manifest["totals"]["accounts"],
    }
    context["outlet_events"][asset].extra = extra
    return {"manifest_uri": uri, "totals": manifest["totals"]}


def _upload_manifest(run: Mapping[str, Any], manifest: Mapping[str, Any]) -> str:
    """Upload the manifest (replacing an earlier run's) and return its ``s3://`` URI."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=run["aws_conn_id"])
    hook.load_string(
        json.dumps(manifest, indent=2, ensure_ascii=False),
        run["manifest_key"],
        bucket_name=run["bucket"],
        replace=True,
        encrypt=bool(run.get("encrypt")),
    )
    uri = f"s3://{run['bucket']}/{run['manifest_key']}"
    log.info(
        "Manifest %s: %d/%d account(s), %d rows",
        uri,
        manifest["totals"]["succeeded"],
        manifest["totals"]["accounts"],
        manifest["totals"]["rows"],
    )
    return uri
