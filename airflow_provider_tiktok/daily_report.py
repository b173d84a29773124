"""What the first and last tasks of ``tiktok_daily_report`` do (kept out of the DAG file: no parse-time work).

``prepare_run`` resolves the run's settings, accounts and report date and builds one set of keyword
arguments per account for the mapped :class:`~airflow_provider_tiktok.operators.tiktok.TikTokToS3Operator`.
``finalize_run`` writes the date's ``_manifest.json`` and decides the run's outcome.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.connections import REGISTRY_VARIABLE, connection_extra, parse_registry
from airflow_provider_tiktok.errors import TikTokRunConfigError, accounts_page_url
from airflow_provider_tiktok.ratelimit import PARALLEL_REPORTS
from airflow_provider_tiktok.report_dates import run_report_date
from airflow_provider_tiktok.report_manifest import as_list, build_manifest, carry_over, failure_message
from airflow_provider_tiktok.report_settings import (
    SETTINGS_VARIABLE,
    ReportSettings,
    check_distinct_keys,
    check_map_length,
    parse_settings_variable,
    resolve_settings,
    select_accounts,
)
from airflow_provider_tiktok.s3_errors import s3_reason
from airflow_provider_tiktok.s3_keys import fill_key
from airflow_provider_tiktok.storage import AutoBackend
from airflow_provider_tiktok.xcom import ERROR_XCOM_KEY, SUMMARY_XCOM_KEY

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow.sdk import Asset

    from airflow_provider_tiktok.storage import StorageBackend
    from airflow_provider_tiktok.xcom import PreparedRun, ReportKwargs, ReportRun

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
    accounts = select_accounts(parse_registry(backend.get_variable(REGISTRY_VARIABLE)), requested)
    if settings.app_conn_id:
        kept = [a for a in accounts if _linked_through(backend, a) in (settings.app_conn_id, None)]
        skipped = sorted(set(accounts) - set(kept))
        if skipped:
            log.info("Skipping %s: linked through another app than %s", skipped, settings.app_conn_id)
        accounts = kept
    return accounts


def _run_keys(
    backend: StorageBackend, settings: ReportSettings, accounts: list[str], report_date: str
) -> dict[str, list[str]]:
    """The S3 keys each account's report task will write (the account file's too, when enabled)."""
    templates = [settings.key_template] + (
        [settings.account_key_template] if settings.account_key_template else []
    )
    keys = {}
    for conn_id in accounts:
        open_id = _open_id(backend, conn_id)
        if open_id is None:
            continue  # its report task fails on its own, naming the problem
        keys[conn_id] = [
            fill_key(t, report_date=report_date, open_id=open_id, account=conn_id) for t in templates
        ]
    return keys


def _open_id(backend: StorageBackend, conn_id: str) -> str | None:
    try:
        value = connection_extra(backend.get_connection(conn_id)).get("open_id")
    except Exception:
        log.warning(
            "Could not read connection %s to compute its keys; its report task will say why.", conn_id
        )
        return None
    return str(value) if value else None


def check_bucket_writable(bucket: str, aws_conn_id: str, *, probe_key: str) -> None:
    """Write and delete a zero-byte probe object, so a missing or read-only bucket fails before any fetch.

    :param bucket: the run's bucket.
    :param aws_conn_id: the connection the report tasks will use.
    :param probe_key: key of the probe object (next to the run's manifest).
    """
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=aws_conn_id)
    try:
        client = hook.get_conn()
        client.put_object(Bucket=bucket, Key=probe_key, Body=b"")
        client.delete_object(Bucket=bucket, Key=probe_key)
    except Exception as exc:
        raise TikTokRunConfigError(
            f"cannot write to S3 bucket {bucket!r} with connection {aws_conn_id!r} "
            f"({s3_reason(exc)}). Create the bucket or give that connection write access, or fix 'bucket' "
            f"/ 'aws_conn_id' in Variable {SETTINGS_VARIABLE!r}. Nothing was fetched."
        ) from None


def report_kwargs(
    settings: ReportSettings, conn_id: str, report_date: str, accounts: int = 1
) -> ReportKwargs:
    """Keyword arguments of one account's mapped report task.

    :param accounts: how many accounts the run reports (their tasks share the app's request budget).
    """
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
        "rate_share": min(accounts, PARALLEL_REPORTS),
    }


def prepare_run(
    context: Mapping[str, Any], *, default_timezone: str, backend: StorageBackend | None = None
) -> PreparedRun:
    """Resolve settings, accounts and report date of a run (the DAG's first task).

    Raises :class:`~airflow_provider_tiktok.errors.TikTokConfigError` with a message saying what to
    change when the bucket is missing, a setting is invalid or there are more accounts than
    ``[core] max_map_length``.

    Params are data: only the per-run choices (``accounts``, ``report_date``, ``formula_escaping``) and
    the overrides the Variable allows are read from them, and nothing in them is rendered as Jinja.

    :param context: the task context (``params``, ``logical_date``, ``dag_run``).
    :param default_timezone: report timezone when no setting names one (the schedule's).
    :param backend: Variable/Connection storage (default: Task SDK in a task, ORM elsewhere).
    """
    store = backend or AutoBackend()
    params = dict(context.get("params") or {})
    variable = parse_settings_variable(store.get_variable(SETTINGS_VARIABLE))
    settings = resolve_settings(params=params, variable=variable, default_timezone=default_timezone)
    accounts = select_run_accounts(store, settings, params.get("accounts"))
    if not accounts:
        raise TikTokRunConfigError(
            "no TikTok account to report (Variable 'tiktok_accounts' is empty or the "
            f"run's selection matched none); link one at {accounts_page_url()}. Nothing was written."
        )
    check_map_length(len(accounts), _max_map_length())
    dag_run = context.get("dag_run")
    report_date = run_report_date(
        context.get("logical_date"),
        getattr(dag_run, "run_after", None),
        settings.timezone,
        requested=params.get("report_date"),
    ).isoformat()
    log.info(
        "Report date %s (%s), %d account(s), bucket %s",
        report_date,
        settings.timezone,
        len(accounts),
        settings.bucket,
    )
    manifest_key = fill_key(settings.manifest_key_template, report_date=report_date)
    check_distinct_keys(_run_keys(store, settings, accounts, report_date), manifest_key)
    check_bucket_writable(settings.bucket, settings.aws_conn_id, probe_key=f"{manifest_key}.prepare-probe")
    run: ReportRun = {
        **settings.to_dict(),
        "report_date": report_date,
        "accounts": accounts,
        "manifest_key": manifest_key,
    }
    return {
        "accounts": accounts,
        "report_kwargs": [
            report_kwargs(settings, conn_id, report_date, len(accounts)) for conn_id in accounts
        ],
        "run": run,
    }


def finalize_run(
    run: ReportRun,
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
        dag_id=str(ti.dag_id),
    )
    manifest = carry_over(manifest, _previous_manifest(run))
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


def _previous_manifest(run: ReportRun) -> dict[str, Any] | None:
    """The date's manifest written by an earlier run, if any (a rerun of fewer accounts keeps the rest)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=run["aws_conn_id"])
    if not hook.check_for_key(run["manifest_key"], bucket_name=run["bucket"]):
        return None
    try:
        previous = json.loads(hook.read_key(run["manifest_key"], bucket_name=run["bucket"]))
    except ValueError:
        log.warning("The earlier manifest %s is not JSON; replacing it.", run["manifest_key"])
        return None
    return previous if isinstance(previous, dict) else None


def _upload_manifest(run: ReportRun, manifest: Mapping[str, Any]) -> str:
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
