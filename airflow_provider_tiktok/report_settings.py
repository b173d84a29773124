"""Settings of the ``tiktok_daily_report`` DAG, resolved at run time (never at parse time).

Where each setting comes from, highest priority first:

1. the run's params (the trigger form, ``airflow dags trigger --conf``, or
   ``airflow backfill create --dag-run-conf``), for the per-run choices only: :data:`RUN_CHOICES`
   (``accounts``, ``report_date``, ``formula_escaping``);
2. the Variable ``tiktok_report_settings`` (a JSON object) — the deployment's standing config;
3. built-in defaults (below); ``timezone`` defaults to ``TIKTOK_REPORT_TIMEZONE``.

Trust model: whoever may *trigger* the DAG supplies params, and params are data. Settings that decide
where data goes or which credentials are used (:data:`DEPLOYMENT_SETTINGS`: bucket, key templates,
``aws_conn_id``, ``app_conn_id``, timezone, encryption) come from the Variable (admins) unless the
Variable names them in ``allow_run_overrides``; a run that sets one anyway fails in ``prepare``, before
anything is fetched or written. No value from params or from the Variable is ever rendered as Jinja:
key templates know only ``{report_date}``, ``{open_id}`` and ``{account}``.

When a run happens and which day it reports is :mod:`airflow_provider_tiktok.report_dates`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from airflow_provider_tiktok.errors import TikTokConfigError, TikTokRunConfigError
from airflow_provider_tiktok.report_dates import DEFAULT_TIMEZONE, run_report_date, schedule_from_env
from airflow_provider_tiktok.reports import FORMULA_ESCAPING_MODES
from airflow_provider_tiktok.s3_keys import (
    DEFAULT_ACCOUNT_KEY_TEMPLATE,
    DEFAULT_KEY_TEMPLATE,
    DEFAULT_MANIFEST_KEY_TEMPLATE,
    check_template,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from airflow_provider_tiktok.xcom import RunSettings

SETTINGS_VARIABLE = "tiktok_report_settings"

#: Keys accepted in the Variable (and, for the per-run choices, in params), with their built-in
#: defaults (None: no default).
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

#: Settings a run's params may choose (the trigger form shows them).
RUN_CHOICES: tuple[str, ...] = ("formula_escaping",)
#: Settings that decide where data goes or which credentials are used: the deployment's (the Variable),
#: settable by a run only when the Variable lists them in ``allow_run_overrides``.
DEPLOYMENT_SETTINGS: tuple[str, ...] = tuple(name for name in SETTING_DEFAULTS if name not in RUN_CHOICES)
#: Key of the Variable listing the deployment settings runs may override (admins opt in explicitly).
ALLOW_OVERRIDES_KEY = "allow_run_overrides"
#: What the ``formula_escaping`` param says when it leaves the choice to the Variable (or ``prefix``).
DEPLOYMENT_DEFAULT = "default"
#: Settings whose empty text in the Variable is a choice, not "unset": ``""`` writes no account file.
_EMPTY_DISABLES: tuple[str, ...] = ("account_key_template",)


@dataclass(frozen=True)
class ReportSettings:
    """Resolved settings of one run.

    :param bucket: S3 bucket the CSVs and the manifest go to.
    :param key_template: key of ``video_stats.csv``; ``{report_date}``, ``{open_id}`` and ``{account}``
        (connection id) are filled per account; never rendered as Jinja.
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

    def to_dict(self) -> RunSettings:
        """JSON-ready dict (XCom)."""
        return cast("RunSettings", asdict(self))


def _is_set(value: Any) -> bool:
    return value is not None and value not in ("", DEPLOYMENT_DEFAULT)


def _pick(name: str, params: Mapping[str, Any], variable: Mapping[str, Any], fallback: Any) -> Any:
    """The first value that is set (not None, not "", not "default") among params, Variable, fallback.

    An empty param is an empty form field (unset), but the Variable's ``""`` for a setting of
    :data:`_EMPTY_DISABLES` is the admin's "none".
    """
    for source in (params, variable):
        value = source.get(name)
        if _is_set(value):
            return value
    if name in _EMPTY_DISABLES and variable.get(name) == "":
        return ""
    return fallback


def _allowed_overrides(variable: Mapping[str, Any]) -> frozenset[str]:
    """The deployment settings the Variable lets runs override (``allow_run_overrides``)."""
    allowed = variable.get(ALLOW_OVERRIDES_KEY) or []
    if not isinstance(allowed, list) or not all(isinstance(item, str) for item in allowed):
        raise TikTokConfigError(
            f"Variable {SETTINGS_VARIABLE!r}: {ALLOW_OVERRIDES_KEY!r} must be a JSON list of setting "
            f'names, e.g. ["bucket"]; allowed names are {list(DEPLOYMENT_SETTINGS)}.'
        )
    unknown = sorted(set(allowed) - set(DEPLOYMENT_SETTINGS))
    if unknown:
        raise TikTokConfigError(
            f"Variable {SETTINGS_VARIABLE!r}: {ALLOW_OVERRIDES_KEY!r} names {unknown}, which are not "
            f"deployment settings; allowed names are {list(DEPLOYMENT_SETTINGS)}."
        )
    return frozenset(allowed)


def _run_overrides(params: Mapping[str, Any], variable: Mapping[str, Any]) -> dict[str, Any]:
    """The params that may set a setting: the per-run choices and the overrides the Variable allows.

    A param setting any other deployment setting fails the run: it would decide where data goes or
    which credentials are used, which is the deployment's (an admin's) decision.
    """
    allowed = _allowed_overrides(variable)
    refused = sorted(n for n in DEPLOYMENT_SETTINGS if _is_set(params.get(n)) and n not in allowed)
    if refused:
        raise TikTokRunConfigError(
            f"the run's params set {refused}, which decide where the report is "
            f"written or which connection is used, so only Variable {SETTINGS_VARIABLE!r} sets them. "
            f"Trigger the run without them, or ask an Airflow admin to set them in the Variable (or to "
            f'allow them per run with "{ALLOW_OVERRIDES_KEY}": {json.dumps(refused)} there).'
        )
    return {n: params.get(n) for n in (*RUN_CHOICES, *sorted(allowed))}


def _check_type(name: str, value: Any, kinds: tuple[type, ...], meaning: str) -> Any:
    """``value`` if it has one of ``kinds``; else an error naming the key, the value and what it must be.

    A setting of the wrong type is never coerced: ``"encrypt": "enabled"`` would silently mean "no".
    """
    # True/False are ints in Python, never a bucket or a template here
    wrong_bool = isinstance(value, bool) and bool not in kinds
    if wrong_bool or not isinstance(value, kinds):
        shown = json.dumps(value) if isinstance(value, str | int | float | list | dict | bool) else "?"
        raise TikTokRunConfigError(
            f"setting {name!r} is {shown}, but it must be {meaning}; "
            f"fix it in Variable {SETTINGS_VARIABLE!r}."
        )
    return value


def _check_types(values: Mapping[str, Any]) -> None:
    """Every resolved setting has the type it must have (see the README's settings table)."""
    text = (str,)
    optional_text = (str, type(None))
    _check_type("bucket", values["bucket"], optional_text, "a bucket name (text)")
    for name in ("key_template", "manifest_key_template"):
        _check_type(name, values[name], text, "a key template (text)")
    _check_type(
        "account_key_template",
        values["account_key_template"],
        optional_text,
        'a key template, or "" for none',
    )
    _check_type("aws_conn_id", values["aws_conn_id"], text, "a connection id (text)")
    _check_type("app_conn_id", values["app_conn_id"], optional_text, "a connection id (text) or null")
    _check_type("timezone", values["timezone"], optional_text, "an IANA timezone name (text) or null")
    _check_type("encrypt", values["encrypt"], (bool,), "true or false (JSON booleans)")


def _check_timezone(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise TikTokRunConfigError(
            f"timezone {tz!r} is not an IANA timezone name (e.g. 'UTC', "
            f"'Europe/Paris'); fix 'timezone' in Variable {SETTINGS_VARIABLE!r} or the run's params."
        ) from None
    return tz


def _check_bucket(bucket: Any) -> str:
    if not bucket or not str(bucket).strip():
        raise TikTokRunConfigError(
            "no S3 bucket configured. Set Variable "
            f"{SETTINGS_VARIABLE!r} to a JSON object such as "
            '{"bucket": "my-analytics-bucket", "aws_conn_id": "aws_default"} '
            "(Admin > Variables, or `airflow variables set`)."
        )
    return str(bucket).strip()


def _check_escaping(mode: Any) -> str:
    if mode not in FORMULA_ESCAPING_MODES:
        raise TikTokRunConfigError(
            f"formula_escaping {mode!r} is not one of {FORMULA_ESCAPING_MODES}; "
            f"fix it in Variable {SETTINGS_VARIABLE!r} or the run's params."
        )
    return str(mode)


def resolve_settings(
    *, params: Mapping[str, Any], variable: Mapping[str, Any], default_timezone: str
) -> ReportSettings:
    """Merge the per-run choices (and allowed overrides) of params over the Variable over the defaults.

    :param params: the run's params (values None, "" or "default" count as unset).
    :param variable: the parsed ``tiktok_report_settings`` Variable ({} when missing).
    :param default_timezone: timezone when neither sets one (the schedule's, from the environment).
    :raises TikTokConfigError: a setting is invalid, or params set a deployment setting the Variable does
        not allow runs to override.
    """
    unknown = sorted(set(variable) - set(SETTING_DEFAULTS) - {ALLOW_OVERRIDES_KEY})
    if unknown:
        raise TikTokConfigError(
            f"Variable {SETTINGS_VARIABLE!r} has unknown keys {unknown}; "
            f"allowed keys are {sorted([*SETTING_DEFAULTS, ALLOW_OVERRIDES_KEY])}."
        )
    overrides = _run_overrides(params, variable)
    values = {name: _pick(name, overrides, variable, default) for name, default in SETTING_DEFAULTS.items()}
    _check_types(values)
    return ReportSettings(
        bucket=_check_bucket(values["bucket"]),
        key_template=check_template("key_template", values["key_template"]),
        account_key_template=check_template("account_key_template", values["account_key_template"] or ""),
        manifest_key_template=check_template("manifest_key_template", values["manifest_key_template"]),
        aws_conn_id=str(values["aws_conn_id"]),
        app_conn_id=values["app_conn_id"] or None,
        timezone=_check_timezone(str(values["timezone"] or default_timezone)),
        encrypt=values["encrypt"],
        formula_escaping=_check_escaping(values["formula_escaping"]),
    )


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
        raise TikTokRunConfigError(
            f"accounts {unknown} requested in the run's params are not linked "
            f"(linked: {registered}); link them on the TikTok accounts page or fix the params."
        )
    return list(dict.fromkeys(wanted))


def check_map_length(count: int, max_map_length: int) -> None:
    """Fail early when there are more accounts than Airflow can map into one task.

    :param count: number of accounts to report.
    :param max_map_length: ``[core] max_map_length``.
    """
    if count > max_map_length:
        raise TikTokRunConfigError(
            f"{count} linked accounts but [core] max_map_length is {max_map_length}, "
            "so the per-account report task cannot be expanded. Raise it in airflow.cfg or with "
            f"AIRFLOW__CORE__MAX_MAP_LENGTH={count} on the scheduler and workers."
        )


def check_distinct_keys(keys_by_account: Mapping[str, list[str]], manifest_key: str) -> None:
    """Every account's keys differ from every other account's and from the manifest's.

    A template without a per-account placeholder would make every account write the same object, each
    replacing the last, while the manifest says all landed.

    :param keys_by_account: the run's actual keys (video file, then account file) per account conn id.
    :param manifest_key: the run's manifest key.
    """
    owner: dict[str, str] = {manifest_key: "the manifest"}
    for conn_id, keys in keys_by_account.items():
        for key in keys:
            other = owner.setdefault(key, conn_id)
            if other != conn_id or keys.count(key) > 1:
                raise TikTokRunConfigError(
                    f"{conn_id} and {other} would both write s3 key {key!r}, each "
                    "replacing the other. Give key_template and account_key_template a per-account "
                    "placeholder ({open_id} or {account}) and make them differ, in Variable "
                    f"{SETTINGS_VARIABLE!r}."
                )


# run_report_date, schedule_from_env and DEFAULT_TIMEZONE are report_dates.py's; still importable from here.
__all__ = [
    "ALLOW_OVERRIDES_KEY",
    "DEFAULT_TIMEZONE",
    "DEPLOYMENT_DEFAULT",
    "DEPLOYMENT_SETTINGS",
    "RUN_CHOICES",
    "SETTINGS_VARIABLE",
    "SETTING_DEFAULTS",
    "ReportSettings",
    "check_distinct_keys",
    "check_map_length",
    "parse_settings_variable",
    "resolve_settings",
    "run_report_date",
    "schedule_from_env",
    "select_accounts",
]
