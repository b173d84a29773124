"""The settings contract of a report run (:mod:`airflow_provider_tiktok.report_settings`): params over the
Variable over the defaults, only the per-run choices (and the overrides an admin allowed) from params,
types never coerced, and every error naming the setting, what is wrong and where to fix it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_tiktok.errors import TikTokConfigError, TikTokRunConfigError
from airflow_provider_tiktok.report_settings import (
    ALLOW_OVERRIDES_KEY,
    DEPLOYMENT_DEFAULT,
    DEPLOYMENT_SETTINGS,
    RUN_CHOICES,
    SETTING_DEFAULTS,
    SETTINGS_VARIABLE,
    ReportSettings,
    check_distinct_keys,
    check_map_length,
    parse_settings_variable,
    resolve_settings,
    select_accounts,
)
from airflow_provider_tiktok.s3_keys import (
    DEFAULT_ACCOUNT_KEY_TEMPLATE,
    DEFAULT_KEY_TEMPLATE,
    DEFAULT_MANIFEST_KEY_TEMPLATE,
)

VARIABLE = {"bucket": "reports", "aws_conn_id": "aws_reports"}


def resolve(params: dict[str, Any] | None = None, /, **variable: Any) -> ReportSettings:
    """Resolve with ``variable`` (default: :data:`VARIABLE`) and the schedule's timezone Asia/Tokyo."""
    return resolve_settings(
        params=params or {}, variable=variable or dict(VARIABLE), default_timezone="Asia/Tokyo"
    )


def config_error(
    kind: type[TikTokConfigError], params: dict[str, Any] | None = None, /, **variable: Any
) -> str:
    """The message of the error ``kind`` that resolving raises."""
    with pytest.raises(kind) as err:
        resolve(params, **variable)
    return str(err.value)


# -- what is whose ---------------------------------------------------------------------------------------
def test_only_formula_escaping_is_a_run_choice_every_other_setting_is_the_deployments() -> None:
    assert RUN_CHOICES == ("formula_escaping",)
    assert set(DEPLOYMENT_SETTINGS) == set(SETTING_DEFAULTS) - {"formula_escaping"}
    assert {"bucket", "aws_conn_id", "app_conn_id", "key_template", "timezone", "encrypt"} <= set(
        DEPLOYMENT_SETTINGS
    )


# -- resolving ------------------------------------------------------------------------------------------
def test_a_variable_with_only_a_bucket_gets_the_documented_defaults() -> None:
    settings = resolve_settings(params={}, variable={"bucket": "reports"}, default_timezone="Asia/Tokyo")
    assert settings == ReportSettings(
        bucket="reports",
        key_template=DEFAULT_KEY_TEMPLATE,
        account_key_template=DEFAULT_ACCOUNT_KEY_TEMPLATE,
        manifest_key_template=DEFAULT_MANIFEST_KEY_TEMPLATE,
        aws_conn_id="aws_default",
        app_conn_id=None,
        timezone="Asia/Tokyo",  # the schedule's, when no setting names one
        encrypt=False,
        formula_escaping="prefix",
    )


def test_every_variable_setting_is_taken_as_given() -> None:
    variable = {
        "bucket": "  reports  ",
        "key_template": "t/{report_date}/{account}/v.csv",
        "account_key_template": "t/{report_date}/{account}/a.csv",
        "manifest_key_template": "t/{report_date}/m.json",
        "aws_conn_id": "aws_reports",
        "app_conn_id": "tiktok_app",
        "timezone": "Europe/Paris",
        "encrypt": True,
        "formula_escaping": "none",
    }
    settings = resolve(**variable)
    assert settings.to_dict() == {**variable, "bucket": "reports"}  # the bucket name is stripped
    assert json.loads(json.dumps(settings.to_dict())) == settings.to_dict()  # XCom-ready


@pytest.mark.parametrize("unset", [None, "", DEPLOYMENT_DEFAULT])
def test_a_run_choice_left_unset_falls_back_to_the_variable_then_the_default(unset: Any) -> None:
    assert (
        resolve({"formula_escaping": unset}, **VARIABLE, formula_escaping="none").formula_escaping == "none"
    )
    assert resolve({"formula_escaping": unset}).formula_escaping == "prefix"


def test_a_run_choice_in_params_wins_over_the_variable() -> None:
    settings = resolve({"formula_escaping": "none"}, **VARIABLE, formula_escaping="prefix")
    assert settings.formula_escaping == "none"


def test_run_params_that_are_not_settings_are_ignored() -> None:
    settings = resolve({"accounts": ["tiktok_account_a"], "report_date": "2026-11-01"})
    assert settings == resolve()


def test_an_empty_account_key_template_in_the_variable_writes_no_account_file() -> None:
    """The README: ``"account_key_template": ""`` disables ``account_stats.csv``."""
    assert resolve(**VARIABLE, account_key_template="").account_key_template == ""
    # An empty trigger-form field is "unset", not "disable": the Variable's choice stands.
    allowed = {
        **VARIABLE,
        ALLOW_OVERRIDES_KEY: ["account_key_template"],
        "account_key_template": "a/{account}",
    }
    assert resolve({"account_key_template": ""}, **allowed).account_key_template == "a/{account}"


# -- who may set what ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        {"bucket": "elsewhere"},
        {"aws_conn_id": "aws_other"},
        {"app_conn_id": "tiktok_other"},
        {"key_template": "etl/config.json"},
        {"manifest_key_template": "etl/config.json"},
        {"timezone": "UTC"},
        {"encrypt": True},
    ],
)
def test_a_run_setting_a_deployment_setting_is_refused_naming_it_and_the_way_to_allow_it(
    params: dict[str, Any],
) -> None:
    (name,) = params
    message = config_error(TikTokRunConfigError, params, **VARIABLE)
    assert message.startswith(f"the run's params set ['{name}'], which decide where the report is written")
    assert f"only Variable {SETTINGS_VARIABLE!r} sets them" in message
    assert "Trigger the run without them, or ask an Airflow admin" in message
    assert f'"{ALLOW_OVERRIDES_KEY}": ["{name}"]' in message


def test_every_refused_setting_is_named_at_once() -> None:
    message = config_error(TikTokRunConfigError, {"bucket": "x", "aws_conn_id": "y"}, **VARIABLE)
    assert "params set ['aws_conn_id', 'bucket']" in message
    assert f'"{ALLOW_OVERRIDES_KEY}": ["aws_conn_id", "bucket"]' in message


@pytest.mark.parametrize("unset", [None, "", DEPLOYMENT_DEFAULT])
def test_a_deployment_setting_left_unset_in_params_is_no_override(unset: Any) -> None:
    assert resolve({"bucket": unset, "aws_conn_id": unset}) == resolve()


def test_an_allowed_override_wins_and_only_that_one() -> None:
    variable = {**VARIABLE, ALLOW_OVERRIDES_KEY: ["bucket"]}
    assert resolve({"bucket": "per-run"}, **variable).bucket == "per-run"
    assert resolve({}, **variable).bucket == "reports"
    message = config_error(TikTokRunConfigError, {"bucket": "per-run", "aws_conn_id": "x"}, **variable)
    assert "params set ['aws_conn_id']" in message


@pytest.mark.parametrize("allowed", ["bucket", {"bucket": True}, ["bucket", 3]])
def test_allow_run_overrides_that_is_not_a_list_of_names_is_refused(allowed: Any) -> None:
    message = config_error(TikTokConfigError, **VARIABLE, allow_run_overrides=allowed)
    assert message.startswith(f"Variable {SETTINGS_VARIABLE!r}: {ALLOW_OVERRIDES_KEY!r} must be a JSON list")
    assert 'e.g. ["bucket"]' in message
    assert str(list(DEPLOYMENT_SETTINGS)) in message


def test_allow_run_overrides_naming_something_else_is_refused_naming_it() -> None:
    message = config_error(TikTokConfigError, **VARIABLE, allow_run_overrides=["formula_escaping", "bukket"])
    assert (
        f"{ALLOW_OVERRIDES_KEY!r} names ['bukket', 'formula_escaping'], which are not deployment" in message
    )
    assert f"allowed names are {list(DEPLOYMENT_SETTINGS)}" in message


def test_unknown_variable_keys_are_refused_listing_the_allowed_ones() -> None:
    message = config_error(TikTokConfigError, **VARIABLE, Bucket="x", encrypted=True)
    assert f"Variable {SETTINGS_VARIABLE!r} has unknown keys ['Bucket', 'encrypted']" in message
    assert str(sorted([*SETTING_DEFAULTS, ALLOW_OVERRIDES_KEY])) in message


# -- types and values ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (
            {"encrypt": "enabled"},
            "setting 'encrypt' is \"enabled\", but it must be true or false (JSON booleans)",
        ),
        ({"encrypt": 1}, "setting 'encrypt' is 1, but it must be true or false"),
        ({"bucket": ["a", "b"]}, 'setting \'bucket\' is ["a", "b"], but it must be a bucket name (text)'),
        ({"bucket": True}, "setting 'bucket' is true, but it must be a bucket name (text)"),
        ({"key_template": 7}, "setting 'key_template' is 7, but it must be a key template (text)"),
        ({"manifest_key_template": {"a": 1}}, "setting 'manifest_key_template' is {\"a\": 1}"),
        ({"account_key_template": 0}, "setting 'account_key_template' is 0, but it must be a key template"),
        ({"aws_conn_id": False}, "setting 'aws_conn_id' is false, but it must be a connection id (text)"),
        ({"app_conn_id": 3.5}, "setting 'app_conn_id' is 3.5, but it must be a connection id (text) or null"),
        ({"timezone": 1}, "setting 'timezone' is 1, but it must be an IANA timezone name (text) or null"),
    ],
)
def test_a_setting_of_the_wrong_type_is_never_coerced(setting: dict[str, Any], expected: str) -> None:
    message = config_error(TikTokRunConfigError, **{**VARIABLE, **setting})
    assert expected in message
    assert message.endswith(f"fix it in Variable {SETTINGS_VARIABLE!r}.")


@pytest.mark.parametrize("bucket", [None, "", "   "])
def test_no_bucket_says_how_to_set_the_variable(bucket: Any) -> None:
    message = config_error(TikTokRunConfigError, bucket=bucket, aws_conn_id="aws_reports")
    assert message.startswith(f"no S3 bucket configured. Set Variable {SETTINGS_VARIABLE!r} to a JSON object")
    assert '{"bucket": "my-analytics-bucket", "aws_conn_id": "aws_default"}' in message
    assert "`airflow variables set`" in message


@pytest.mark.parametrize("tz", ["Mars/Olympus", "../etc/passwd", "Europe/"])
def test_a_timezone_that_is_not_an_iana_name_is_refused_naming_it(tz: str) -> None:
    message = config_error(TikTokRunConfigError, **VARIABLE, timezone=tz)
    assert message.startswith(f"timezone {tz!r} is not an IANA timezone name")
    assert f"fix 'timezone' in Variable {SETTINGS_VARIABLE!r}" in message


def test_a_default_timezone_that_is_not_an_iana_name_is_refused_too() -> None:
    with pytest.raises(TikTokRunConfigError, match="timezone 'Nowhere/City' is not an IANA timezone name"):
        resolve_settings(params={}, variable=VARIABLE, default_timezone="Nowhere/City")


@pytest.mark.parametrize(
    ("params", "variable"), [({"formula_escaping": "strip"}, {}), ({}, {"formula_escaping": "x"})]
)
def test_an_unknown_formula_escaping_is_refused_listing_the_modes(
    params: dict[str, Any], variable: dict[str, Any]
) -> None:
    message = config_error(TikTokRunConfigError, params, **VARIABLE, **variable)
    assert "is not one of ('prefix', 'none')" in message
    assert f"fix it in Variable {SETTINGS_VARIABLE!r} or the run's params" in message


@pytest.mark.parametrize("name", ["key_template", "account_key_template", "manifest_key_template"])
def test_a_key_template_holding_jinja_is_refused_never_rendered(name: str) -> None:
    message = config_error(TikTokRunConfigError, **VARIABLE, **{name: "t/{{ var.value.secret }}/x.csv"})
    assert message.startswith(f"{name} 't/{{{{ var.value.secret }}}}/x.csv' contains Jinja")
    assert "Use the placeholders {report_date}, {open_id} and {account}" in message


# -- the Variable's text ---------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", [None, "", "  \n"])
def test_a_missing_or_blank_variable_is_empty(raw: str | None) -> None:
    assert parse_settings_variable(raw) == {}


def test_the_variable_is_parsed_as_json() -> None:
    assert parse_settings_variable('{"bucket": "reports", "encrypt": true}') == {
        "bucket": "reports",
        "encrypt": True,
    }


@pytest.mark.parametrize("raw", ["{oops", '["bucket"]', '"reports"', "null", "3"])
def test_a_variable_that_is_not_a_json_object_says_where_to_fix_it(raw: str) -> None:
    with pytest.raises(TikTokConfigError) as err:
        parse_settings_variable(raw)
    assert str(err.value) == (
        f"Variable {SETTINGS_VARIABLE!r} must hold a JSON object, e.g. "
        '{"bucket": "my-analytics-bucket"}; fix it in Admin > Variables.'
    )


# -- accounts --------------------------------------------------------------------------------------------
REGISTRY = ["tiktok_account_a", "tiktok_account_b", "tiktok_account_c"]


@pytest.mark.parametrize("requested", [None, [], [""], ["", None]])
def test_no_selection_reports_every_registered_account_in_registry_order(requested: Any) -> None:
    assert select_accounts(iter(REGISTRY), requested) == REGISTRY


def test_a_selection_keeps_its_order_once_per_account() -> None:
    wanted = ["tiktok_account_c", "tiktok_account_a", "tiktok_account_c", ""]
    assert select_accounts(REGISTRY, wanted) == ["tiktok_account_c", "tiktok_account_a"]


def test_a_selection_naming_unlinked_accounts_names_them_and_the_linked_ones() -> None:
    with pytest.raises(TikTokRunConfigError) as err:
        select_accounts(REGISTRY, ["tiktok_account_a", "tiktok_account_x", "tiktok_account_y"])
    assert str(err.value) == (
        "accounts ['tiktok_account_x', 'tiktok_account_y'] requested in the run's params are not linked "
        f"(linked: {REGISTRY}); link them on the TikTok accounts page or fix the params."
    )


def test_more_accounts_than_max_map_length_say_which_setting_to_raise() -> None:
    check_map_length(1024, 1024)  # as many as fit pass
    with pytest.raises(TikTokRunConfigError) as err:
        check_map_length(1025, 1024)
    message = str(err.value)
    assert message.startswith("1025 linked accounts but [core] max_map_length is 1024")
    assert "AIRFLOW__CORE__MAX_MAP_LENGTH=1025 on the scheduler and workers" in message


# -- distinct keys ---------------------------------------------------------------------------------------
DISTINCT = {"tiktok_account_a": ["d/a/v.csv", "d/a/s.csv"], "tiktok_account_b": ["d/b/v.csv", "d/b/s.csv"]}


@pytest.mark.parametrize(
    ("added", "who"),
    [
        ({"tiktok_account_c": ["d/c/v.csv", "d/a/s.csv"]}, "tiktok_account_c and tiktok_account_a"),
        ({"tiktok_account_c": ["d/c.csv", "d/c.csv"]}, "tiktok_account_c and tiktok_account_c"),
        ({"tiktok_account_c": ["d/_manifest.json"]}, "tiktok_account_c and the manifest"),
    ],
)
def test_two_writers_of_one_key_are_refused_naming_both_the_key_and_the_fix(
    added: dict[str, list[str]], who: str
) -> None:
    check_distinct_keys(DISTINCT, "d/_manifest.json")  # distinct keys pass
    with pytest.raises(TikTokRunConfigError) as err:
        check_distinct_keys({**DISTINCT, **added}, "d/_manifest.json")
    message = str(err.value)
    assert message.startswith(f"{who} would both write s3 key 'd/")
    assert "each replacing the other" in message
    assert "placeholder ({open_id} or {account})" in message
    assert f"in Variable {SETTINGS_VARIABLE!r}" in message
