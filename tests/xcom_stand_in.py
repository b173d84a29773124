"""The XCom side of a task instance, for tests that call a report task's code directly.

``prepare_run``, ``finalize_run`` and the report-run operators' ``execute`` are called here outside a task
runner, where Airflow's own task instance has no supervisor to pull XComs from or push them to (the DAG
tests run the same code through Airflow's real task runner and metadata DB). Only this one seam stands in:
settings, connections, Variables and S3 are real.
"""

from __future__ import annotations

from typing import Any


class XComTaskInstance:
    """What the upstream tasks pushed (``pulled``), and what this task pushes (``pushed``).

    :param dag_id: the DAG of the task (``ti.dag_id``).
    :param pulled: ``{(task id, key): value}``, the value as ``xcom_pull`` returns it over map indexes.
    """

    def __init__(self, dag_id: str = "tiktok_daily_report", pulled: dict[tuple[str, str], Any] | None = None):
        self.dag_id = dag_id
        self.pulled = dict(pulled or {})
        self.pushed: dict[str, Any] = {}

    def xcom_pull(self, task_ids: str, key: str) -> Any:
        """The value the task ``task_ids`` pushed under ``key``; None when it pushed none."""
        return self.pulled.get((task_ids, key))

    def xcom_push(self, key: str, value: Any) -> None:
        """Record a value this task pushes."""
        self.pushed[key] = value
