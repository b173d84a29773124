"""The trigger form offers only per-run choices, each a real choice, and a manual run reports a finished day.

Before: the form offered bucket, key template and connections (see ``test_param_destination_override``),
``formula_escaping`` showed a raw ``null`` choice, and a manual run triggered from the form (logical date
"now") reported *today*, a day that had not ended.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from report_dag_support import load_dag

if TYPE_CHECKING:
    from report_dag_support import Deployment


pytestmark = pytest.mark.integration


def states(run: Any) -> dict[tuple[str, int], str]:
    return {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}


def reported_dates(setup: Deployment) -> set[str]:
    return {key.split("dt=", 1)[1].split("/", 1)[0] for key in setup.keys("")}


def test_form_shows_only_per_run_choices_without_null_choices() -> None:
    params = load_dag().params
    assert set(params.keys()) == {"accounts", "report_date", "formula_escaping"}
    escaping = params.get_param("formula_escaping").schema
    assert escaping["enum"] == ["default", "prefix", "none"]
    assert set(escaping["values_display"]) == set(escaping["enum"])
    assert params.get_param("report_date").schema["format"] == "date"
    params.validate()  # the form's defaults are valid as they are


def test_manual_run_from_the_form_reports_the_last_complete_day(deployment: Deployment) -> None:
    setup = deployment
    setup.link(setup.emu.target_users[0])
    now = datetime.now(timezone.utc)
    # What the trigger form sends: logical date "now".
    run = load_dag().test(logical_date=now)
    assert str(run.state) == "success", states(run)
    assert reported_dates(setup) == {(now.date() - timedelta(days=1)).isoformat()}


def test_report_date_param_chooses_the_day_and_an_unfinished_day_is_refused(
    deployment: Deployment, capfd: pytest.CaptureFixture[str]
) -> None:
    setup = deployment
    setup.link(setup.emu.target_users[0])
    today = datetime.now(timezone.utc).date()
    chosen = today - timedelta(days=9)
    run = load_dag().test(run_conf={"report_date": chosen.isoformat(), "formula_escaping": "none"})
    assert str(run.state) == "success", states(run)
    assert reported_dates(setup) == {chosen.isoformat()}

    refused = load_dag().test(run_conf={"report_date": today.isoformat()})
    assert states(refused)[("prepare", -1)] == "failed"
    assert f"report_date {today.isoformat()} is not over yet" in capfd.readouterr().out
    assert reported_dates(setup) == {chosen.isoformat()}


def test_scheduled_runs_still_report_their_logical_date() -> None:
    from airflow_provider_tiktok.report_dates import run_report_date

    logical = datetime.combine(date(2026, 6, 1), time(2, 0), tzinfo=timezone.utc)
    assert run_report_date(logical, logical + timedelta(days=1), "UTC") == date(2026, 6, 1)
    assert run_report_date(None, logical + timedelta(hours=12), "UTC") == date(2026, 5, 31)
