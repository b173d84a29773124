"""The per-date ``_manifest.json`` of the daily report: which accounts landed, with how many rows, where.

Readers should treat a date as complete when its manifest exists and ``failed`` is 0; the manifest is
rewritten by every run of the date (reruns and backfills included).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.reports import ACCOUNT_COLUMNS, VIDEO_COLUMNS, iso_utc

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

MANIFEST_VERSION = 1


def as_list(value: Any) -> list[Any]:
    """Normalise an ``xcom_pull`` result over map indexes (None, one value, or a list) to a list."""
    if value is None:
        return []
    if isinstance(value, list):
        return [item for item in value if item is not None]
    return [value]


def build_manifest(
    *,
    accounts: Iterable[str],
    summaries: Iterable[Mapping[str, Any]],
    errors: Iterable[Mapping[str, Any]],
    report_date: str,
    bucket: str,
    timezone_name: str,
    run_id: str,
    dag_id: str,
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """Build the manifest of one run.

    :param accounts: account connection ids the run was meant to report.
    :param summaries: the report tasks' ``report_summary`` XComs (successful accounts).
    :param errors: the report tasks' ``report_error`` XComs (``account_conn_id``, ``error``).
    :param report_date: the run's report date (``YYYY-MM-DD``).
    :param bucket: S3 bucket of the run.
    :param timezone_name: report timezone.
    :param run_id: the DAG run id.
    :param dag_id: the DAG of the run.
    :param generated_at: when the manifest was written (now by default).
    """
    done = {s["account_conn_id"]: s for s in summaries}
    failed = {e["account_conn_id"]: e.get("error") for e in errors}
    entries = [_entry(conn_id, done.get(conn_id), failed.get(conn_id)) for conn_id in accounts]
    ok = [e for e in entries if e["status"] == "ok"]
    return {
        "manifest_version": MANIFEST_VERSION,
        "dag_id": dag_id,
        "run_id": run_id,
        "report_date": report_date,
        "timezone": timezone_name,
        "generated_at": iso_utc(generated_at or datetime.now(timezone.utc)),
        "bucket": bucket,
        "complete": len(ok) == len(entries),
        "totals": {
            "accounts": len(entries),
            "succeeded": len(ok),
            "failed": len(entries) - len(ok),
            "rows": sum(e["rows"] for e in ok),
            "skipped_rows": sum(e["skipped_rows"] for e in ok),
        },
        "columns": {"video_stats": list(VIDEO_COLUMNS), "account_stats": list(ACCOUNT_COLUMNS)},
        "accounts": entries,
    }


def carry_over(manifest: dict[str, Any], previous: Mapping[str, Any] | None) -> dict[str, Any]:
    """``manifest`` plus the entries of ``previous`` for accounts this run did not cover.

    A rerun of a date for some accounts (the ``accounts`` param) leaves the others' files in place, so
    its manifest must not claim fewer accounts than the date has: their earlier entries are kept, marked
    with the run that wrote them.

    :param manifest: this run's manifest (:func:`build_manifest`).
    :param previous: the date's manifest before this run, or None.
    """
    if not previous or not isinstance(previous.get("accounts"), list):
        return manifest
    covered = {e["account_conn_id"] for e in manifest["accounts"]}
    kept = [
        {**e, "run_id": e.get("run_id") or previous.get("run_id")}
        for e in previous["accounts"]
        if isinstance(e, dict) and e.get("account_conn_id") not in covered
    ]
    if not kept:
        return manifest
    entries = manifest["accounts"] + kept
    ok = [e for e in entries if e.get("status") == "ok"]
    totals = {
        "accounts": len(entries),
        "succeeded": len(ok),
        "failed": len(entries) - len(ok),
        "rows": sum(int(e.get("rows") or 0) for e in ok),
        "skipped_rows": sum(int(e.get("skipped_rows") or 0) for e in ok),
    }
    return {**manifest, "accounts": entries, "complete": len(ok) == len(entries), "totals": totals}


def _entry(conn_id: str, summary: Mapping[str, Any] | None, error: str | None) -> dict[str, Any]:
    if summary is not None:
        return {
            "account_conn_id": conn_id,
            "account": summary.get("account"),
            "open_id": summary.get("open_id"),
            "status": "ok",
            "rows": int(summary.get("rows") or 0),
            "skipped_rows": int(summary.get("skipped_rows") or 0),
            "keys": list(summary.get("keys") or []),
            "written_at": summary.get("written_at"),
        }
    return {
        "account_conn_id": conn_id,
        "status": "failed",
        "error": error or "the report task did not run or did not finish (see its log)",
    }


def failure_message(manifest: Mapping[str, Any], manifest_uri: str) -> str:
    """The message that fails the run when some accounts did not land (names them and what to do)."""
    failed = [e for e in manifest["accounts"] if e["status"] != "ok"]
    lines = [
        f"{len(failed)} of {manifest['totals']['accounts']} TikTok account(s) were not reported for "
        f"{manifest['report_date']} (manifest: {manifest_uri}):"
    ]
    lines += [f"- {e['account_conn_id']}: {e['error']}" for e in failed]
    lines.append(
        "Fix the cause, then clear the failed report tasks of this run to retry only those accounts."
    )
    return "\n".join(lines)
