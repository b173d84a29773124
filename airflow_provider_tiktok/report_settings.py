"""Settings of the ``tiktok_daily_report`` DAG, resolved at run time (never at parse time).

Where each setting comes from, highest priority first:

1. the run's params (``airflow dags trigger --conf '{"bucket": ...}'``, the trigger form, or
   ``airflow backfill create --dag-run-conf``) — per-run overrides;
2. the Variable ``tiktok_report_settings`` (a JSON object) — the deployment's standing config;
3. built-in defaults (below); ``timezone`` defaults to ``TIKTOK_REPORT_TIMEZONE``.

Only the schedule itself is read when the DAG file is parsed, from environment variables
(:func:`schedule_from_env`): a scheduler cannot read Variables while parsing.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from airflow_provider_tiktok.errors import TikTokConfigError
from airflow_provider_tiktok.reports import FORMULA_ESCAPING_MODES, report_date_for

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

SETTINGS_VARIABLE = "tiktok_report_settings"
SCHEDULE_ENV = "TIKTOK_REPORT_SCHEDULE"
TIMEZONE_ENV = "TIKTOK_REPORT_TIMEZONE"
DEFAULT_SCHEDULE_TIME = "02:00"
DEFAULT_TIMEZONE = "UTC"

DEFAULT_KEY_TEMPLATE = "tiktok/video_stats/dt={report_date}/account={open_id}/video_stats.csv"
DEFAULT_ACCOUNT_KEY_TEMPLATE = "tiktok/video_stats/dt={report_date}/account={open_id}/account_stats.csv"
DEFAULT_MANIFEST_KEY_TEMPLATE = "tiktok/video_stats/dt={report_date}/_manifest.json"

#: Keys accepted in the Variable and in params, with their built-in defaults (None: no default).
SETTING_DEFAULTS: dict[str, Any] = {
    "bucket": None,
    "key_template": DEFAULT_KEY_TEMPLATE,
    "account_key_template": DEFAULT_ACCOUNT_KEY_TEMPLATE,
    "manifest_key_template": DEFAULT_MANIFEST_KEY_TEMPLATE,
    "aws_conn_id": "aws_default",
    "app_conn_id": None,
    "timezone": None,
    "encrypt": False,
    "formula_escaping": "prefix",
}

_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class ReportSettings:
    """Resolved settings of one run.

    :param bucket: S3 bucket the CSVs and the manifest go to.
    :param key_template: key of ``video_stats.csv``; ``{report_date}``, ``{open_id}`` and ``{account}``
        (connection id) are filled per account, Jinja (e.g. ``{{ ds }}``) is rendered first.
    :param account_key_template: key of ``account_stats.csv`` (same placeholders); empty disables it.
    :param manifest_key_template: key of the run's ``_manifest.json`` (``{report_date}`` only).
    :param aws_conn_id: Airflow ``aws`` connection for S3.
    :param app_conn_id: when set, only accounts linked through this app connection are reported.
    :param timezone: IANA timezone of the report date (which day a run covers, and the video cut-off).
    :param encrypt: ask S3 for server-side encryption (SSE-S3, AES256).
    :param formula_escaping: ``prefix`` (default) or ``none``, see :mod:`airflow_provider_tiktok.reports`.
    """

    bucket: str
    key_template: str
    account_key_template: str
    manifest_key_template: str
    aws_conn_id: str
    app_conn_id: str | None
    timezone: str
    encrypt: bool
    formula_escaping: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (XCom)."""
        return asdict(self)


def _pick(name: str, params: Mapping[str, Any], variable: Mapping[str, Any], fallback: Any) -> Any:
    """The first value that is set (not None, not "") among params, Variable, fallback."""
    for source in (params, variable):
        value = source.get(name)
        if value is not None and value != "":
            return value
    return fallback


def _check_timezone(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise TikTokConfigError(
            f"tiktok_daily_report: timezone {tz!r} is not an IANA timezone name (e.g. 'UTC', "
            f"'Europe/Paris'); fix 'timezone' in Variable {SETTINGS_VARIABLE!r} or the run's params."
        ) from None
    return tz


def _check_bucket(bucket: Any) -> str:
    if not bucket or not str(bucket).strip():
        raise TikTokConfigError(
            "tiktok_daily_report: no S3 bucket configured. Set Variable "
            f"{SETTINGS_VARIABLE!r} to a JSON object such as "
            '{"bucket": "my-analytics-bucket", "aws_conn_id": "aws_default"} '
            "(Admin > Variables, or `airflow variables set`), or trigger the run with "
            '--conf \'{"bucket": "my-analytics-bucket"}\'.'
        )
    return str(bucket).strip()


def _check_escaping(mode: Any) -> str:
    if mode not in FORMULA_ESCAPING_MODES:
        raise TikTokConfigError(
            f"tiktok_daily_report: formula_escaping {mode!r} is not one of {FORMULA_ESCAPING_MODES}; "
            f"fix it in Variable {SETTINGS_VARIABLE!r} or the run's params."
        )
    return str(mode)


def resolve_settings(
    *, params: Mapping[str, Any], variable: Mapping[str, Any], default_timezone: str
) -> ReportSettings:
    """Merge params over the Variable over the defaults, and validate.

    :param params: the run's params (values None or "" count as unset).
    :param variable: the parsed ``tiktok_report_settings`` Variable ({} when missing).
    :param default_timezone: timezone when neither sets one (the schedule's, from the environment).
    """
    unknown = sorted(set(variable) - set(SETTING_DEFAULTS))
    if unknown:
        raise TikTokConfigError(
            f"Variable {SETTINGS_VARIABLE!r} has unknown keys {unknown}; "
            f"allowed keys are {sorted(SETTING_DEFAULTS)}."
        )
    values = {name: _pick(name, params, variable, default) for name, default in SETTING_DEFAULTS.items()}
    return ReportSettings(
        bucket=_check_bucket(values["bucket"]),
        key_template=str(values["key_template"]),
        account_key_template=str(values["account_key_template"] or ""),
        manifest_key_template=str(values["manifest_key_template"]),
        aws_conn_id=str(values["aws_conn_id"]),
        app_conn_id=values["app_conn_id"] or None,
        timezone=_check_timezone(str(values["timezone"] or default_timezone)),
        encrypt=_as_bool(values["encrypt"]),
        formula_escaping=_check_escaping(values["formula_escaping"]),
    )


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def parse_settings_variable(raw: str | None) -> dict[str, Any]:
    """Parse the raw ``tiktok_report_settings`` Variable; {} when it does not exist.

    :param raw: the Variable's text, or None.
    """
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise TikTokConfigError(
            f"Variable {SETTINGS_VARIABLE!r} must hold a JSON object, e.g. "
            '{"bucket": "my-analytics-bucket"}; fix it in Admin > Variables.'
        )
    return value


def parse_account_list(raw: str | None) -> list[str]:
    """Parse the registry Variable ``tiktok_accounts`` (JSON list of account connection ids).

    :param raw: the Variable's text, or None when no account was ever linked.
    """
    if raw is None or not raw.strip():
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TikTokConfigError(
            "Variable 'tiktok_accounts' must be a JSON list of account connection ids "
            '(e.g. ["tiktok_account_brand"]); it is written by the TikTok accounts page — '
            "fix or delete it and relink the accounts."
        )
    return list(dict.fromkeys(value))


def select_accounts(registered: Iterable[str], requested: Iterable[str] | None) -> list[str]:
    """Accounts to report: the registry, or the requested subset of it (run param ``accounts``).

    :param registered: account connection ids in the registry.
    :param requested: ids asked for by the run, or None/empty for every registered account.
    """
    registered = list(registered)
    wanted = [item for item in (requested or []) if item]
    if not wanted:
        return registered
    unknown = [item for item in wanted if item not in registered]
    if unknown:
        raise TikTokConfigError(
            f"tiktok_daily_report: accounts {unknown} requested in the run's params are not linked "
            f"(linked: {registered}); link them on the TikTok accounts page or fix the params."
        )
    return list(dict.fromkeys(wanted))


def check_map_length(count: int, max_map_length: int) -> None:
    """Fail early when there are more accounts than Airflow can map into one task.

    :param count: number of accounts to report.
    :param max_map_length: ``[core] max_map_length``.
    """
    if count > max_map_length:
        raise TikTokConfigError(
            f"tiktok_daily_report: {count} linked accounts but [core] max_map_length is {max_map_length}, "
            "so the per-account report task cannot be expanded. Raise it in airflow.cfg or with "
            f"AIRFLOW__CORE__MAX_MAP_LENGTH={count} on the scheduler and workers."
        )


def run_report_date(logical_date: datetime | None, run_after: datetime | None, tz: str) -> date:
    """Which day a run reports.

    A scheduled run's logical date is the start of its data interval, so a run that fires at
    02:00 on June 2 has logical date June 1 02:00 and reports June 1 (in ``tz``). A manual run
    without a logical date reports the day before it was triggered.

    :param logical_date: the run's logical date, None for manual runs without one.
    :param run_after: when the run was allowed to start.
    :param tz: IANA timezone of the report.
    """
    if logical_date is not None:
        return report_date_for(logical_date, tz)
    if run_after is None:
        raise TikTokConfigError("tiktok_daily_report: the run has neither a logical date nor run_after.")
    return report_date_for(run_after, tz) - timedelta(days=1)


def schedule_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Read the daily schedule at parse time: ``(cron expression, timezone)``.

    ``TIKTOK_REPORT_SCHEDULE`` is a time of day ``HH:MM`` (default ``02:00``) and
    ``TIKTOK_REPORT_TIMEZONE`` an IANA timezone (default ``UTC``); the DAG runs daily at that time.
    Environment variables only: nothing is read from the metadata DB while parsing.

    :param environ: environment to read (``os.environ`` by default).
    """
    env = os.environ if environ is None else environ
    raw_time = env.get(SCHEDULE_ENV, "").strip() or DEFAULT_SCHEDULE_TIME
    match = _TIME_RE.match(raw_time)
    if not match:
        raise TikTokConfigError(
            f"{SCHEDULE_ENV}={raw_time!r} is not a time of day HH:MM (e.g. 02:00); fix the environment "
            "of the scheduler and dag-processor."
        )
    tz = env.get(TIMEZONE_ENV, "").strip() or DEFAULT_TIMEZONE
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise TikTokConfigError(
            f"{TIMEZONE_ENV}={tz!r} is not an IANA timezone name (e.g. UTC, Europe/Paris); fix the "
            "environment of the scheduler and dag-processor."
        ) from None
    return f"{int(match.group(2))} {int(match.group(1))} * * *", tz


def fill_key(template: str, *, report_date: date | str, open_id: str = "", account: str = "") -> str:
    """Fill the ``{report_date}``, ``{open_id}`` and ``{account}`` placeholders of a key template.

    :param template: key template after Jinja rendering.
    :param report_date: the run's report date.
    :param open_id: the account's open_id.
    :param account: the account connection id.
    """
    values = {"report_date": str(report_date), "open_id": open_id, "account": account}
    try:
        key = template.format_map(values)
    except (KeyError, IndexError, ValueError) as exc:
        raise TikTokConfigError(
            f"S3 key template {template!r} is invalid ({type(exc).__name__}: {exc}); it may use only "
            "{report_date}, {open_id} and {account} (and Jinja such as {{ ds }})."
        ) from None
    if not key or key.startswith("/"):
        raise TikTokConfigError(f"S3 key template {template!r} gives the invalid key {key!r}.")
    return key
