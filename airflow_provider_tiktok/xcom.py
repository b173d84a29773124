"""The XCom contract between a report run's tasks: the keys each task pushes besides its return value, and
the shape of every value they exchange (TypedDicts: JSON-ready, no secrets).

Below the operators and the report run's library code alike, so neither imports the other for a key.
"""

from __future__ import annotations

from typing import TypedDict

#: The transfer operator's per-account summary (rows, keys), read by the finalize task's manifest.
SUMMARY_XCOM_KEY = "report_summary"
#: The transfer operator's per-account error message, pushed before the task fails.
ERROR_XCOM_KEY = "report_error"
#: The prepare task's account connection ids (for the refresh task).
ACCOUNTS_XCOM_KEY = "accounts"
#: The prepare task's resolved run: settings, report date, manifest key (for the finalize task).
RUN_XCOM_KEY = "run"


class RunSettings(TypedDict):
    """A run's resolved settings (``ReportSettings.to_dict()``), as the prepare task hands them on."""

    bucket: str
    key_template: str
    account_key_template: str
    manifest_key_template: str
    aws_conn_id: str
    app_conn_id: str | None
    timezone: str
    encrypt: bool
    formula_escaping: str


class ReportRun(RunSettings):
    """The prepare task's ``run`` XCom, read by the finalize task."""

    report_date: str
    accounts: list[str]
    manifest_key: str


class ReportKwargs(TypedDict):
    """Keyword arguments of one account's mapped ``TikTokToS3Operator`` (the prepare task returns a list)."""

    account_conn_id: str
    bucket: str
    key: str
    account_key: str | None
    report_date: str
    report_timezone: str
    aws_conn_id: str
    encrypt: bool
    formula_escaping: str
    #: how many report tasks share the app's request budget (see ``ratelimit.PARALLEL_REPORTS``)
    rate_share: int


class PreparedRun(TypedDict):
    """What ``prepare_run`` resolves: the accounts, one set of report kwargs per account, and the run."""

    accounts: list[str]
    report_kwargs: list[ReportKwargs]
    run: ReportRun


class ReportSummary(TypedDict):
    """The transfer operator's ``report_summary`` XCom: what landed for one account (no secrets)."""

    account_conn_id: str
    account: str
    open_id: str
    report_date: str
    rows: int
    skipped_rows: int
    bucket: str
    keys: list[str]
    written_at: str


class ReportError(TypedDict):
    """The transfer operator's ``report_error`` XCom, pushed before the task fails."""

    account_conn_id: str
    error: str


class RefreshSummary(TypedDict):
    """One account's line of the refresh task's result (``RefreshOutcome.to_summary()``, no secrets)."""

    conn_id: str
    account: str
    refreshed: bool
    access_token_expires_at: str
    refresh_token_expires_at: str
    refresh_days_left: float
    refresh_expiry_assumed: bool
    warning: str | None


class RefreshResult(TypedDict):
    """The refresh task's return value (XCom): which accounts were refreshed, left alone or failed."""

    refreshed: list[str]
    unchanged: list[str]
    failed: dict[str, str]
    accounts: dict[str, RefreshSummary]
