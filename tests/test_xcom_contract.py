"""The XCom TypedDicts describe what the tasks really exchange: the same keys, nothing more, nothing less."""

from __future__ import annotations

import inspect
from dataclasses import fields
from datetime import datetime, timedelta, timezone

from airflow_provider_tiktok.daily_report import report_kwargs
from airflow_provider_tiktok.models import RefreshOutcome
from airflow_provider_tiktok.operators.tiktok import TikTokToS3Operator
from airflow_provider_tiktok.report_settings import ReportSettings, resolve_settings
from airflow_provider_tiktok.xcom import RefreshSummary, ReportKwargs, ReportRun, RunSettings


def _settings() -> ReportSettings:
    return resolve_settings(params={}, variable={"bucket": "reports"}, default_timezone="UTC")


def test_run_settings_are_the_resolved_settings() -> None:
    assert RunSettings.__required_keys__ == {f.name for f in fields(ReportSettings)}
    assert set(_settings().to_dict()) == RunSettings.__required_keys__
    assert ReportRun.__required_keys__ == RunSettings.__required_keys__ | {
        "report_date",
        "accounts",
        "manifest_key",
    }


def test_report_kwargs_are_arguments_of_the_transfer_operator() -> None:
    kwargs = report_kwargs(_settings(), "tiktok_account_brand", "2026-11-30")
    assert set(kwargs) == ReportKwargs.__required_keys__
    assert ReportKwargs.__required_keys__ <= set(inspect.signature(TikTokToS3Operator.__init__).parameters)


def test_refresh_summary_is_what_an_outcome_reports() -> None:
    now = datetime(2026, 11, 30, tzinfo=timezone.utc)
    outcome = RefreshOutcome(
        conn_id="tiktok_account_brand",
        account="@brand",
        refreshed=True,
        access_token_expires_at=now + timedelta(hours=2),
        refresh_token_expires_at=now + timedelta(days=180),
        refresh_days_left=179.994,
        refresh_expiry_assumed=False,
    )
    summary = outcome.to_summary()
    assert set(summary) == RefreshSummary.__required_keys__ == {f.name for f in fields(RefreshOutcome)}
    assert summary["refresh_days_left"] == 179.99
    assert summary["access_token_expires_at"] == "2026-11-30T02:00:00+00:00"
