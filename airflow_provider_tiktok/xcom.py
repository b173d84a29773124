"""The XCom contract between a report run's tasks: the keys each task pushes besides its return value.

Below the operators and the report run's library code alike, so neither imports the other for a key.
"""

from __future__ import annotations

#: The transfer operator's per-account summary (rows, keys), read by the finalize task's manifest.
SUMMARY_XCOM_KEY = "report_summary"
#: The transfer operator's per-account error message, pushed before the task fails.
ERROR_XCOM_KEY = "report_error"
#: The prepare task's account connection ids (for the refresh task).
ACCOUNTS_XCOM_KEY = "accounts"
#: The prepare task's resolved run: settings, report date, manifest key (for the finalize task).
RUN_XCOM_KEY = "run"
