"""The report run's operators (:mod:`airflow_provider_tiktok.operators.report_run`), ``execute`` called
directly: prepare pushes the ``accounts`` and ``run`` XComs and returns the mapped task's arguments, or
fails without retrying with a message naming the DAG; finalize runs whatever happened upstream, fails at
once when prepare did not finish, and reports the run's objects as lineage.

Connections and Variables are ``AIRFLOW_CONN_*`` / ``AIRFLOW_VAR_*``, S3 is the session's moto_server; only
the task instance's XCom seam stands in (:mod:`tests.xcom_stand_in`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from airflow.sdk import DAG, Asset, TriggerRule
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.execution_time.context import OutletEventAccessors

from airflow_provider_tiktok.operators.report_run import (
    PREPARE_TASK_ID,
    REPORT_TASK_ID,
    TikTokReportFinalizeOperator,
    TikTokReportPrepareOperator,
)
from airflow_provider_tiktok.xcom import ACCOUNTS_XCOM_KEY, RUN_XCOM_KEY, SUMMARY_XCOM_KEY
from tests.xcom_stand_in import XComTaskInstance

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_tiktok.xcom import ReportKwargs
    from tests.dags.report_dag_support import Deployment

pytestmark = pytest.mark.integration

Op = TypeVar("Op")

DAG_ID = "tiktok_report_run_operators"
ASSET = Asset(name="tiktok_video_stats", uri="x-tiktok://reports/video_stats", group="tiktok")
LOGICAL = datetime(2026, 11, 20, 2, tzinfo=timezone.utc)


def in_dag(make: Callable[[], Op]) -> Op:
    """Build an operator inside a DAG, so it has the ``dag_id`` its messages name."""
    with DAG(DAG_ID, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)):
        return make()


def prepare(ti: XComTaskInstance, **params: Any) -> list[ReportKwargs]:
    """Execute a prepare task (default timezone Asia/Tokyo) of a run with ``params``; its return value."""
    op = in_dag(lambda: TikTokReportPrepareOperator(task_id=PREPARE_TASK_ID, default_timezone="Asia/Tokyo"))
    return op.execute({"ti": ti, "params": params, "logical_date": LOGICAL})  # type: ignore[typeddict-item]


# -- prepare ---------------------------------------------------------------------------------------------
def test_prepare_pushes_accounts_and_run_and_returns_one_argument_set_per_account(
    deployment: Deployment,
) -> None:
    setup = deployment
    conn_ids = [setup.link(user) for user in setup.emu.target_users[:2]]
    ti = XComTaskInstance()
    kwargs = prepare(ti)
    assert [k["account_conn_id"] for k in kwargs] == conn_ids
    assert ti.pushed[ACCOUNTS_XCOM_KEY] == conn_ids
    run = ti.pushed[RUN_XCOM_KEY]
    # No run_after: the run is taken to start at its logical date, so it reports the last complete day
    # before it in the operator's default timezone (Nov 20 11:00 in Tokyo: Nov 19).
    assert (run["report_date"], run["timezone"], run["accounts"]) == ("2026-11-19", "Asia/Tokyo", conn_ids)
    assert {k["report_date"] for k in kwargs} == {"2026-11-19"}


def test_a_run_config_error_fails_without_retry_naming_the_dag(deployment: Deployment) -> None:
    ti = XComTaskInstance()
    with pytest.raises(AirflowFailException) as err:
        prepare(ti)  # no linked account
    assert str(err.value).startswith(f"{DAG_ID}: no TikTok account to report")
    assert ti.pushed == {}  # nothing for refresh or finalize to act on


def test_a_params_override_is_refused_naming_the_dag_and_the_setting(deployment: Deployment) -> None:
    deployment.link(deployment.emu.target_users[0])
    with pytest.raises(AirflowFailException) as err:
        prepare(XComTaskInstance(), bucket="elsewhere")
    assert str(err.value).startswith(f"{DAG_ID}: the run's params set ['bucket']")


def test_a_deployment_config_error_keeps_its_own_message(deployment: Deployment) -> None:
    """An error that is not the run's (the Variable itself is wrong) names the Variable, not the DAG."""
    setup = deployment
    setup.link(setup.emu.target_users[0])
    setup.settings(bucket=setup.bucket, buckets="typo")
    with pytest.raises(AirflowFailException) as err:
        prepare(XComTaskInstance())
    assert str(err.value).startswith("Variable 'tiktok_report_settings' has unknown keys ['buckets']")


def test_prepare_defaults_to_utc() -> None:
    assert TikTokReportPrepareOperator(task_id="p").default_timezone == "UTC"


# -- finalize --------------------------------------------------------------------------------------------
def test_finalize_runs_whatever_happened_upstream_and_names_the_dags_tasks_by_default() -> None:
    op = TikTokReportFinalizeOperator(task_id="finalize", asset=ASSET)
    assert op.trigger_rule == TriggerRule.ALL_DONE
    assert op.outlets == [ASSET]
    assert (
        (op.prepare_task_id, op.report_task_id) == (PREPARE_TASK_ID, REPORT_TASK_ID) == ("prepare", "report")
    )
    chosen = TikTokReportFinalizeOperator(task_id="f", asset=ASSET, trigger_rule=TriggerRule.ALL_SUCCESS)
    assert chosen.trigger_rule == TriggerRule.ALL_SUCCESS


def test_finalize_without_a_run_fails_at_once_pointing_at_prepare() -> None:
    op = TikTokReportFinalizeOperator(task_id="finalize", asset=ASSET, prepare_task_id="resolve")
    with pytest.raises(AirflowFailException) as err:
        op.execute({"ti": XComTaskInstance()})  # type: ignore[typeddict-item]
    assert str(err.value) == (
        "Nothing to finalize: task 'resolve' did not finish, so nothing was fetched or written. "
        "Its log says why and what to change."
    )


def test_finalize_writes_the_manifest_and_reports_the_runs_objects_as_lineage(deployment: Deployment) -> None:
    setup = deployment
    conn_id = setup.link(setup.emu.target_users[0])
    prepared = XComTaskInstance()
    prepare(prepared)
    run = prepared.pushed[RUN_XCOM_KEY]
    keys = [
        f"tiktok/video_stats/dt=2026-11-19/account=o/{name}"
        for name in ("video_stats.csv", "account_stats.csv")
    ]
    done = {"account_conn_id": conn_id, "rows": 3, "skipped_rows": 0, "bucket": setup.bucket, "keys": keys}
    ti = XComTaskInstance(
        dag_id=DAG_ID, pulled={("resolve", RUN_XCOM_KEY): run, ("fetch", SUMMARY_XCOM_KEY): [done]}
    )
    op = TikTokReportFinalizeOperator(
        task_id="finalize", asset=ASSET, prepare_task_id="resolve", report_task_id="fetch"
    )
    events = OutletEventAccessors()
    result = op.execute({"ti": ti, "run_id": "r1", "outlet_events": events})  # type: ignore[typeddict-item]
    manifest_uri = f"s3://{setup.bucket}/{run['manifest_key']}"
    assert result["manifest_uri"] == manifest_uri
    assert result["totals"]["rows"] == 3
    assert events[ASSET].extra["manifest_uri"] == manifest_uri
    assert setup.manifest("2026-11-19")["dag_id"] == DAG_ID

    lineage = op.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [(f"s3://{setup.bucket}", key) for key in keys]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [(f"s3://{setup.bucket}", run["manifest_key"])]


def test_finalize_lineage_before_execute_is_empty() -> None:
    lineage = TikTokReportFinalizeOperator(
        task_id="finalize", asset=ASSET
    ).get_openlineage_facets_on_complete(None)
    assert (lineage.inputs, lineage.outputs) == ([], [])
