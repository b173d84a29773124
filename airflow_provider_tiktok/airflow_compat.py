"""Names that moved between the Airflow versions this provider supports (3.1 to 3.3).

Each one is imported from where the newest Airflow has it, else from where Airflow 3.1 keeps it; the
matrix in ``docs/compatibility.md`` (``make compat``) proves every supported version imports and runs.
Drop a fallback when its Airflow version leaves the supported range.
"""

from __future__ import annotations

try:  # Airflow 3.2+: the Task SDK's exception (airflow.exceptions re-exports the same class)
    from airflow.sdk.exceptions import AirflowFailException
except ImportError:  # Airflow 3.1
    from airflow.exceptions import AirflowFailException  # type: ignore[no-redef]

try:  # Airflow 3.2+: the Task SDK's timetable
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 3.1: only the scheduler's one (same name, same arguments)
    from airflow.timetables.interval import CronDataIntervalTimetable  # type: ignore[assignment]

__all__ = ["AirflowFailException", "CronDataIntervalTimetable"]
