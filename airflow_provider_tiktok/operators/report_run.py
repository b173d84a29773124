"""The first and last tasks of a TikTok report run, as operators (so DAGs stay declarative).

``TikTokReportPrepareOperator`` resolves a run's settings, accounts and report date and returns one set
of keyword arguments per account for a mapped :class:`~airflow_provider_tiktok.operators.tiktok.
TikTokToS3Operator`. ``TikTokReportFinalizeOperator`` writes the date's ``_manifest.json``, emits the
report Asset's event and fails the run when an account failed. The work itself lives in
:mod:`airflow_provider_tiktok.daily_report`; these classes only bind it to Airflow.

Plain operators rather than ``@task`` functions: TaskFlow loads the standard provider's Python
operator stack into every parse of the DAG file, a cost paid every few seconds by the dag-processor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, TriggerRule

from airflow_provider_tiktok.airflow_compat import AirflowFailException
from airflow_provider_tiktok.report_dates import DEFAULT_TIMEZONE
from airflow_provider_tiktok.xcom import ACCOUNTS_XCOM_KEY, RUN_XCOM_KEY

if TYPE_CHECKING:
    from airflow.sdk import Asset, Context

    from airflow_provider_tiktok.xcom import ReportKwargs

#: Task ids of the prepare task and of the mapped report task, as the DAG names them.
PREPARE_TASK_ID = "prepare"
REPORT_TASK_ID = "report"


class TikTokReportPrepareOperator(BaseOperator):
    """Resolve a report run: settings (params > Variable ``tiktok_report_settings`` > defaults), the
    accounts (Variable ``tiktok_accounts``, or the ``accounts`` param) and the report date.

    Fails at once, without retrying, when the bucket is missing, a setting is invalid or there are
    more accounts than ``[core] max_map_length``, with a message saying what to change.

    Returns one dict of :class:`TikTokToS3Operator` keyword arguments per account (map over it with
    ``expand_kwargs``) and pushes the XComs ``accounts`` (connection ids, for the refresh task) and
    ``run`` (settings, report date, manifest key, for the finalize task).

    :param default_timezone: report timezone when no setting names one (usually the schedule's).
    """

    ui_color = "#25f4ee"

    def __init__(self, *, default_timezone: str = DEFAULT_TIMEZONE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.default_timezone = default_timezone

    def execute(self, context: Context) -> list[ReportKwargs]:
        """Resolve the run and push its XComs; see the class docstring."""
        from airflow_provider_tiktok.daily_report import prepare_run
        from airflow_provider_tiktok.errors import TikTokConfigError, config_message

        try:
            prepared = prepare_run(context, default_timezone=self.default_timezone)
        except TikTokConfigError as exc:
            raise AirflowFailException(config_message(exc, self.dag_id)) from None
        context["ti"].xcom_push(key=ACCOUNTS_XCOM_KEY, value=prepared["accounts"])
        context["ti"].xcom_push(key=RUN_XCOM_KEY, value=prepared["run"])
        return prepared["report_kwargs"]


class TikTokReportFinalizeOperator(BaseOperator):
    """Write ``_manifest.json`` next to a run's data, then fail the run if any account failed.

    Runs whatever happened upstream (``trigger_rule`` all done). When every account landed, the
    event of ``asset`` gets the extra ``report_date``, ``bucket``, ``manifest_key``, ``manifest_uri``,
    ``rows`` and ``accounts``; a partly failed run emits no event. When the prepare task did not finish
    there is nothing to finalize: the task fails at once, without retries, pointing at prepare's error.

    :param asset: the report's Asset (also set as the task's outlet).
    :param prepare_task_id: task id of the :class:`TikTokReportPrepareOperator` whose ``run`` XCom this reads.
    :param report_task_id: task id of the mapped report task whose summaries and errors are collected.
    """

    ui_color = "#25f4ee"

    def __init__(
        self,
        *,
        asset: Asset,
        prepare_task_id: str = PREPARE_TASK_ID,
        report_task_id: str = REPORT_TASK_ID,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("trigger_rule", TriggerRule.ALL_DONE)
        super().__init__(outlets=[asset], **kwargs)
        self.asset = asset
        self.prepare_task_id = prepare_task_id
        self.report_task_id = report_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        """Upload the manifest and decide the run's outcome; see the class docstring."""
        from airflow_provider_tiktok.daily_report import finalize_run

        run = context["ti"].xcom_pull(task_ids=self.prepare_task_id, key=RUN_XCOM_KEY)
        if not run:
            raise AirflowFailException(
                f"Nothing to finalize: task {self.prepare_task_id!r} did not finish, so nothing was fetched "
                "or written. Its log says why and what to change."
            )
        result = finalize_run(run, context, asset=self.asset, report_task_id=self.report_task_id)
        self._lineage = _manifest_lineage(run, context, self.report_task_id)
        return result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the run's report objects in, the manifest out (:mod:`..lineage`)."""
        from airflow_provider_tiktok.lineage import operator_lineage

        return operator_lineage(*getattr(self, "_lineage", ([], [])))


def _manifest_lineage(
    run: dict[str, Any], context: Context, report_task_id: str
) -> tuple[list[Any], list[Any]]:
    """(inputs, outputs) of the finalize step: every object the report tasks wrote, and the manifest."""
    from airflow_provider_tiktok.lineage import s3_object
    from airflow_provider_tiktok.operators.tiktok import SUMMARY_XCOM_KEY
    from airflow_provider_tiktok.report_manifest import as_list

    summaries = as_list(context["ti"].xcom_pull(task_ids=report_task_id, key=SUMMARY_XCOM_KEY))
    inputs = [s3_object(s["bucket"], key) for s in summaries for key in s.get("keys") or []]
    return inputs, [s3_object(run["bucket"], run["manifest_key"])]
