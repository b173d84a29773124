"""The first and last steps of a report run (:mod:`airflow_provider_tiktok.daily_report`), called directly:
``prepare_run`` resolves settings, accounts and report date and fails before anything is fetched when a
run would lose or misplace data; ``finalize_run`` writes the date's manifest and decides the outcome.

Real things: linked account connections and Variables as ``AIRFLOW_CONN_*`` / ``AIRFLOW_VAR_*`` (read
through the ORM backend, as outside a task), the session's moto_server, the metadata DB. Only the task
instance's XCom seam stands in (:mod:`tests.xcom_stand_in`).
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pytest
from airflow.models import DagRun
from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.execution_time.context import OutletEventAccessors

from airflow_provider_tiktok.daily_report import (
    check_bucket_writable,
    finalize_run,
    prepare_run,
    report_kwargs,
    select_run_accounts,
)
from airflow_provider_tiktok.errors import TikTokConfigError, TikTokRunConfigError, accounts_page_url
from airflow_provider_tiktok.ratelimit import PARALLEL_REPORTS
from airflow_provider_tiktok.report_settings import resolve_settings
from airflow_provider_tiktok.storage import OrmBackend
from airflow_provider_tiktok.xcom import ERROR_XCOM_KEY, SUMMARY_XCOM_KEY
from tests.xcom_stand_in import XComTaskInstance

if TYPE_CHECKING:
    from airflow_provider_tiktok.xcom import ReportRun
    from tests.dags.report_dag_support import Deployment

pytestmark = pytest.mark.integration

#: A scheduled run: logical date Nov 20 02:00 UTC, allowed to start a day later; it reports Nov 20.
LOGICAL = datetime(2026, 11, 20, 2, tzinfo=timezone.utc)
REPORT_DATE = "2026-11-20"
MANIFEST_KEY = f"tiktok/video_stats/dt={REPORT_DATE}/_manifest.json"
ASSET = Asset(name="tiktok_video_stats", uri="x-tiktok://reports/video_stats", group="tiktok")


def run_context(**params: Any) -> dict[str, Any]:
    """The task context ``prepare_run`` reads: the run's params, logical date and DAG run."""
    dag_run = DagRun(
        dag_id="tiktok_daily_report",
        run_id="scheduled__2026-11-20T02:00:00+00:00",
        logical_date=LOGICAL,
        run_after=datetime(2026, 11, 21, 2, tzinfo=timezone.utc),
    )
    return {"params": params, "logical_date": LOGICAL, "dag_run": dag_run}


def link_all(setup: Deployment) -> list[str]:
    """Link every target user of the emulator; their connection ids in registry order."""
    return [setup.link(user) for user in setup.emu.target_users]


def prepare_error(setup: Deployment, kind: type[Exception] = TikTokRunConfigError, **params: Any) -> str:
    """The message ``prepare_run`` fails with; checks nothing was left in the bucket."""
    with pytest.raises(kind) as err:
        prepare_run(run_context(**params), default_timezone="UTC")
    assert setup.keys() == []
    return str(err.value)


# -- prepare_run -----------------------------------------------------------------------------------------
def test_prepare_resolves_every_account_its_task_arguments_and_the_run(deployment: Deployment) -> None:
    setup = deployment
    conn_ids = link_all(setup)
    prepared = prepare_run(run_context(), default_timezone="UTC")
    assert prepared["accounts"] == conn_ids
    assert [k["account_conn_id"] for k in prepared["report_kwargs"]] == conn_ids
    assert prepared["report_kwargs"][0] == {
        "account_conn_id": conn_ids[0],
        "bucket": setup.bucket,
        "key": "tiktok/video_stats/dt={report_date}/account={open_id}/video_stats.csv",
        "account_key": "tiktok/video_stats/dt={report_date}/account={open_id}/account_stats.csv",
        "report_date": REPORT_DATE,
        "report_timezone": "UTC",
        "aws_conn_id": "aws_test",
        "encrypt": False,
        "formula_escaping": "prefix",
        "rate_share": 3,  # three accounts share the app's request budget
    }
    run = prepared["run"]
    assert (run["report_date"], run["accounts"], run["manifest_key"]) == (REPORT_DATE, conn_ids, MANIFEST_KEY)
    assert run["bucket"] == setup.bucket
    assert setup.keys() == []  # the bucket probe was removed again
    assert setup.emu.count() == 0  # nothing was fetched


def test_prepare_takes_the_runs_accounts_report_date_and_escaping_from_params(deployment: Deployment) -> None:
    setup = deployment
    conn_ids = link_all(setup)
    context = run_context(
        accounts=[conn_ids[2], conn_ids[0]], report_date="2026-11-02", formula_escaping="none"
    )
    prepared = prepare_run(context, default_timezone="UTC")
    assert prepared["accounts"] == [conn_ids[2], conn_ids[0]]
    assert {
        (k["report_date"], k["formula_escaping"], k["rate_share"]) for k in prepared["report_kwargs"]
    } == {("2026-11-02", "none", 2)}
    assert prepared["run"]["manifest_key"] == "tiktok/video_stats/dt=2026-11-02/_manifest.json"


def test_the_report_date_is_the_logical_dates_day_in_the_report_timezone(deployment: Deployment) -> None:
    setup = deployment
    link_all(setup)
    # Nov 20 02:00 UTC is still Nov 19 in Los Angeles; the default timezone is the schedule's.
    prepared = prepare_run(run_context(), default_timezone="America/Los_Angeles")
    assert prepared["run"]["report_date"] == "2026-11-19"
    assert prepared["run"]["timezone"] == "America/Los_Angeles"


def test_no_linked_account_fails_saying_where_to_link_one(deployment: Deployment) -> None:
    message = prepare_error(deployment)
    assert message == (
        "no TikTok account to report (Variable 'tiktok_accounts' is empty or the run's selection matched "
        f"none); link one at {accounts_page_url()}. Nothing was written."
    )


def test_more_accounts_than_max_map_length_fail_before_the_bucket_is_probed(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = deployment
    link_all(setup)
    monkeypatch.setenv("AIRFLOW__CORE__MAX_MAP_LENGTH", "2")
    setup.settings(bucket="no-such-bucket-here", aws_conn_id="aws_test")  # never reached
    message = prepare_error(setup)
    assert message.startswith("3 linked accounts but [core] max_map_length is 2")
    assert "AIRFLOW__CORE__MAX_MAP_LENGTH=3" in message


def test_a_key_template_shared_by_every_account_fails_naming_two_of_them(deployment: Deployment) -> None:
    setup = deployment
    conn_ids = link_all(setup)
    setup.settings(
        bucket=setup.bucket, aws_conn_id="aws_test", key_template="t/{report_date}/video_stats.csv"
    )
    message = prepare_error(setup)
    assert message.startswith(
        f"{conn_ids[1]} and {conn_ids[0]} would both write s3 key 't/{REPORT_DATE}/video_stats.csv'"
    )


def test_a_bucket_that_cannot_be_written_fails_naming_bucket_connection_and_reason(
    deployment: Deployment,
) -> None:
    setup = deployment
    link_all(setup)
    setup.settings(bucket="no-such-bucket-here", aws_conn_id="aws_test")
    message = prepare_error(setup)
    assert message.startswith(
        "cannot write to S3 bucket 'no-such-bucket-here' with connection 'aws_test' (NoSuchBucket:"
    )
    assert message.endswith(
        "Create the bucket or give that connection write access, or fix 'bucket' / 'aws_conn_id' in "
        "Variable 'tiktok_report_settings'. Nothing was fetched."
    )


def test_a_settings_variable_that_is_not_json_fails_prepare(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    link_all(deployment)
    monkeypatch.setenv("AIRFLOW_VAR_TIKTOK_REPORT_SETTINGS", "bucket=reports")
    message = prepare_error(deployment, TikTokConfigError)
    assert message.startswith("Variable 'tiktok_report_settings' must hold a JSON object")


def test_an_account_without_a_connection_is_kept_for_its_own_task_to_report(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    setup = deployment
    conn_ids = link_all(setup)
    registry = [*conn_ids, "tiktok_account_gone"]
    monkeypatch.setenv("AIRFLOW_VAR_TIKTOK_ACCOUNTS", json.dumps(registry))
    with caplog.at_level(logging.WARNING, logger="airflow_provider_tiktok.daily_report"):
        prepared = prepare_run(run_context(), default_timezone="UTC")
    assert prepared["accounts"] == registry
    assert "Could not read connection tiktok_account_gone to compute its keys" in caplog.text


# -- select_run_accounts ---------------------------------------------------------------------------------
def relink_through(monkeypatch: pytest.MonkeyPatch, conn_id: str, app_conn_id: str) -> None:
    """Make ``conn_id``'s connection say it was linked through ``app_conn_id``."""
    name = f"AIRFLOW_CONN_{conn_id.upper()}"
    conn = json.loads(os.environ[name])
    conn["extra"]["app_conn_id"] = app_conn_id
    monkeypatch.setenv(name, json.dumps(conn))


def test_app_conn_id_keeps_only_the_accounts_linked_through_that_app(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    setup = deployment
    conn_ids = link_all(setup)
    relink_through(monkeypatch, conn_ids[1], "tiktok_other_app")
    settings = resolve_settings(
        params={}, variable={"bucket": setup.bucket, "app_conn_id": "tiktok_default"}, default_timezone="UTC"
    )
    with caplog.at_level(logging.INFO, logger="airflow_provider_tiktok.daily_report"):
        assert select_run_accounts(OrmBackend(), settings, None) == [conn_ids[0], conn_ids[2]]
    assert f"Skipping ['{conn_ids[1]}']: linked through another app than tiktok_default" in caplog.text
    # Without app_conn_id every registered account is reported, whichever app linked it.
    unfiltered = resolve_settings(params={}, variable={"bucket": setup.bucket}, default_timezone="UTC")
    assert select_run_accounts(OrmBackend(), unfiltered, None) == conn_ids


def test_an_unreadable_account_is_kept_when_filtering_by_app(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    setup = deployment
    conn_ids = link_all(setup)
    monkeypatch.setenv("AIRFLOW_VAR_TIKTOK_ACCOUNTS", json.dumps([*conn_ids, "tiktok_account_gone"]))
    settings = resolve_settings(
        params={}, variable={"bucket": setup.bucket, "app_conn_id": "tiktok_default"}, default_timezone="UTC"
    )
    with caplog.at_level(logging.WARNING, logger="airflow_provider_tiktok.daily_report"):
        assert select_run_accounts(OrmBackend(), settings, ["tiktok_account_gone"]) == ["tiktok_account_gone"]
    assert "Could not read connection tiktok_account_gone to check its app; keeping it." in caplog.text


def test_a_selection_of_unlinked_accounts_fails_naming_them(deployment: Deployment) -> None:
    conn_ids = link_all(deployment)
    settings = resolve_settings(params={}, variable={"bucket": deployment.bucket}, default_timezone="UTC")
    with pytest.raises(TikTokRunConfigError, match=r"accounts \['tiktok_account_nobody'\] requested"):
        select_run_accounts(OrmBackend(), settings, [conn_ids[0], "tiktok_account_nobody"])


# -- report_kwargs ---------------------------------------------------------------------------------------
def test_report_kwargs_share_the_budget_among_at_most_the_parallel_reports() -> None:
    settings = resolve_settings(params={}, variable={"bucket": "reports"}, default_timezone="UTC")
    assert report_kwargs(settings, "tiktok_account_a", REPORT_DATE)["rate_share"] == 1
    assert report_kwargs(settings, "tiktok_account_a", REPORT_DATE, 5)["rate_share"] == 5
    many = report_kwargs(settings, "tiktok_account_a", REPORT_DATE, PARALLEL_REPORTS + 30)
    assert many["rate_share"] == PARALLEL_REPORTS


def test_report_kwargs_without_an_account_file_pass_no_account_key() -> None:
    variable = {"bucket": "reports", "account_key_template": "", "encrypt": True}
    settings = resolve_settings(params={}, variable=variable, default_timezone="UTC")
    kwargs = report_kwargs(settings, "tiktok_account_a", REPORT_DATE)
    assert kwargs["account_key"] is None
    assert kwargs["encrypt"] is True


# -- check_bucket_writable -------------------------------------------------------------------------------
def test_a_writable_bucket_is_probed_with_an_object_written_then_deleted(deployment: Deployment) -> None:
    setup = deployment
    # A versioned bucket keeps what was written and deleted: the probe leaves a version and a delete marker.
    setup.s3.put_bucket_versioning(Bucket=setup.bucket, VersioningConfiguration={"Status": "Enabled"})
    probe = f"{MANIFEST_KEY}.prepare-probe"
    check_bucket_writable(setup.bucket, "aws_test", probe_key=probe)
    assert setup.keys() == []
    history = setup.s3.list_object_versions(Bucket=setup.bucket, Prefix=probe)
    assert [(v["Key"], v["Size"]) for v in history["Versions"]] == [(probe, 0)]
    assert [m["Key"] for m in history["DeleteMarkers"]] == [probe]


def test_an_unwritable_bucket_says_what_s3_said_and_that_nothing_was_fetched(moto_s3: str) -> None:
    with pytest.raises(TikTokRunConfigError) as err:
        check_bucket_writable("no-such-bucket-here", "aws_test", probe_key="probe")
    message = str(err.value)
    assert "S3 bucket 'no-such-bucket-here' with connection 'aws_test' (NoSuchBucket: " in message
    assert message.endswith("Nothing was fetched.")
    assert "Traceback" not in message


# -- finalize_run ----------------------------------------------------------------------------------------
def report_run(setup: Deployment, accounts: list[str], **settings: Any) -> ReportRun:
    """The ``run`` a prepare task of ``accounts`` hands to finalize (settings over the deployment's)."""
    variable = {"bucket": setup.bucket, "aws_conn_id": "aws_test", **settings}
    resolved = resolve_settings(params={}, variable=variable, default_timezone="UTC")
    return {
        **resolved.to_dict(),
        "report_date": REPORT_DATE,
        "accounts": accounts,
        "manifest_key": MANIFEST_KEY,
    }


def summary(conn_id: str, rows: int) -> dict[str, Any]:
    """The ``report_summary`` XCom of one account's landed report."""
    return {
        "account_conn_id": conn_id,
        "account": f"@{conn_id}",
        "open_id": f"open-{conn_id}",
        "report_date": REPORT_DATE,
        "rows": rows,
        "skipped_rows": 0,
        "bucket": "reports",
        "keys": [f"k/{conn_id}.csv"],
        "written_at": "2026-11-21T02:05:00Z",
    }


def finalize(
    run: ReportRun, summaries: list[dict[str, Any]], run_id: str = "manual__2026-11-21"
) -> tuple[dict[str, Any], OutletEventAccessors]:
    """Run ``finalize_run`` with these report summaries; its result and the run's outlet events."""
    ti = XComTaskInstance(pulled={("report", SUMMARY_XCOM_KEY): summaries})
    events = OutletEventAccessors()
    context = {"ti": ti, "run_id": run_id, "outlet_events": events}
    return finalize_run(run, context, asset=ASSET, report_task_id="report"), events


def test_finalize_writes_the_manifest_and_emits_the_asset_event(deployment: Deployment) -> None:
    setup = deployment
    run = report_run(setup, ["tiktok_account_a", "tiktok_account_b"])
    result, events = finalize(run, [summary("tiktok_account_a", 4), summary("tiktok_account_b", 6)])
    uri = f"s3://{setup.bucket}/{MANIFEST_KEY}"
    assert result == {
        "manifest_uri": uri,
        "totals": {"accounts": 2, "succeeded": 2, "failed": 0, "rows": 10, "skipped_rows": 0},
    }
    written = setup.manifest(REPORT_DATE)
    assert (written["complete"], written["run_id"], written["dag_id"]) == (
        True,
        "manual__2026-11-21",
        "tiktok_daily_report",
    )
    assert [e["account_conn_id"] for e in written["accounts"]] == run["accounts"]
    assert events[ASSET].extra == {
        "report_date": REPORT_DATE,
        "bucket": setup.bucket,
        "manifest_key": MANIFEST_KEY,
        "manifest_uri": uri,
        "rows": 10,
        "accounts": 2,
    }


def test_finalize_of_a_partly_failed_run_writes_the_manifest_then_fails_naming_the_account(
    deployment: Deployment,
) -> None:
    setup = deployment
    run = report_run(setup, ["tiktok_account_a", "tiktok_account_b"])
    errors = [{"account_conn_id": "tiktok_account_b", "error": "Relink TikTok account @b: invalid_grant"}]
    ti = XComTaskInstance(
        pulled={
            ("report", SUMMARY_XCOM_KEY): summary("tiktok_account_a", 4),
            ("report", ERROR_XCOM_KEY): errors,
        }
    )
    events = OutletEventAccessors()
    with pytest.raises(AirflowFailException) as err:
        finalize_run(
            run, {"ti": ti, "run_id": "r1", "outlet_events": events}, asset=ASSET, report_task_id="report"
        )
    assert str(err.value).splitlines()[:2] == [
        f"1 of 2 TikTok account(s) were not reported for {REPORT_DATE} "
        f"(manifest: s3://{setup.bucket}/{MANIFEST_KEY}):",
        "- tiktok_account_b: Relink TikTok account @b: invalid_grant",
    ]
    assert setup.manifest(REPORT_DATE)["complete"] is False  # written before failing
    assert len(events) == 0  # no asset event for a partly failed run


def test_finalize_of_a_rerun_keeps_the_other_accounts_of_the_dates_manifest(deployment: Deployment) -> None:
    setup = deployment
    both = [summary("tiktok_account_a", 4), summary("tiktok_account_b", 6)]
    finalize(report_run(setup, ["tiktok_account_a", "tiktok_account_b"]), both, run_id="first")
    result, _ = finalize(report_run(setup, ["tiktok_account_b"]), [summary("tiktok_account_b", 9)], "rerun")
    assert result["totals"]["accounts"] == 2
    assert result["totals"]["rows"] == 13
    entries = setup.manifest(REPORT_DATE)["accounts"]
    assert [(e["account_conn_id"], e["rows"], e.get("run_id")) for e in entries] == [
        ("tiktok_account_b", 9, None),
        ("tiktok_account_a", 4, "first"),
    ]


def test_an_earlier_manifest_that_is_not_json_is_replaced(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    setup = deployment
    setup.s3.put_object(Bucket=setup.bucket, Key=MANIFEST_KEY, Body=b"not json {")
    with caplog.at_level(logging.WARNING, logger="airflow_provider_tiktok.daily_report"):
        result, _ = finalize(report_run(setup, ["tiktok_account_a"]), [summary("tiktok_account_a", 4)])
    assert result["totals"]["accounts"] == 1
    assert f"The earlier manifest {MANIFEST_KEY} is not JSON; replacing it." in caplog.text
    assert setup.manifest(REPORT_DATE)["complete"] is True


def test_the_manifest_is_encrypted_when_the_run_asks_for_it(deployment: Deployment) -> None:
    setup = deployment
    finalize(report_run(setup, ["tiktok_account_a"], encrypt=True), [summary("tiktok_account_a", 4)])
    head = setup.s3.head_object(Bucket=setup.bucket, Key=MANIFEST_KEY)
    assert head["ServerSideEncryption"] == "AES256"
