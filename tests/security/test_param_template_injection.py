"""Attack: a user allowed to trigger the DAG puts Jinja in a run param to read secrets into S3 keys.

``--conf '{"key_template": "leak/s={{ conn.tiktok_default.password }}/{open_id}.csv"}'`` once wrote the app's
client secret into an object key, the manifest, the ``report_summary`` XCom and the task log. Params are data
now: a run cannot set a key template unless the Variable allows it, and even then nothing from params, the
Variable or XCom is ever rendered as Jinja.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from report_dag_support import load_dag

from airflow_provider_tiktok.operators.tiktok import TikTokToS3Operator
from airflow_provider_tiktok.xcom import ERROR_XCOM_KEY
from tests.xcom_stand_in import XComTaskInstance

if TYPE_CHECKING:
    from report_dag_support import Deployment

pytestmark = pytest.mark.integration

LEAK = "leak/s={{ conn.tiktok_default.password }}/{open_id}.csv"


def logical_date(days_ago: int) -> datetime:
    day = datetime.now(timezone.utc).date() - timedelta(days=days_ago)
    return datetime.combine(day, time(2, 0), tzinfo=timezone.utc)


def states(run: Any) -> dict[tuple[str, int], str]:
    return {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}


def everything_in(setup: Deployment) -> str:
    """Every key and every object's bytes in the bucket, as one text to search for the secret."""
    return "\n".join(f"{key}\n{setup.read(key).decode('utf-8', 'replace')}" for key in setup.keys(""))


def test_jinja_key_template_in_params_is_refused_and_nothing_is_written(
    deployment: Deployment, capfd: pytest.CaptureFixture[str]
) -> None:
    setup = deployment
    setup.link(setup.emu.target_users[0])
    run = load_dag().test(logical_date=logical_date(3), run_conf={"key_template": LEAK})
    out = capfd.readouterr().out
    assert str(run.state) == "failed"
    assert states(run)[("prepare", -1)] == "failed"
    assert ("report", 0) not in states(run)
    assert "params set ['key_template']" in out
    assert setup.keys() == []
    assert setup.emu.client_secret not in out


def test_even_an_allowed_key_override_is_never_rendered_as_jinja(
    deployment: Deployment, capfd: pytest.CaptureFixture[str]
) -> None:
    setup = deployment
    setup.link(setup.emu.target_users[0])
    setup.settings(bucket=setup.bucket, aws_conn_id="aws_test", allow_run_overrides=["key_template"])
    run = load_dag().test(logical_date=logical_date(3), run_conf={"key_template": LEAK})
    out = capfd.readouterr().out
    assert states(run)[("prepare", -1)] == "failed"
    assert "contains Jinja; settings are never rendered as templates" in out
    assert setup.keys() == []
    assert setup.emu.client_secret not in out
    # The same override without Jinja is honoured: the admin opted in.
    run = load_dag().test(
        logical_date=logical_date(3), run_conf={"key_template": "custom/{report_date}/{open_id}.csv"}
    )
    assert str(run.state) == "success", states(run)
    day = logical_date(3).date().isoformat()
    assert f"custom/{day}/{setup.emu.target_users[0].open_id}.csv" in setup.keys("")
    assert setup.emu.client_secret not in everything_in(setup)


def test_jinja_in_the_settings_variable_is_refused_too(
    deployment: Deployment, capfd: pytest.CaptureFixture[str]
) -> None:
    setup = deployment
    setup.link(setup.emu.target_users[0])
    setup.settings(bucket=setup.bucket, aws_conn_id="aws_test", manifest_key_template=LEAK)
    run = load_dag().test(logical_date=logical_date(3))
    assert states(run)[("prepare", -1)] == "failed"
    assert "manifest_key_template" in capfd.readouterr().out
    assert setup.keys() == []


def test_operator_never_renders_a_key_that_reached_it_unrendered(deployment: Deployment) -> None:
    setup = deployment
    conn_id = setup.link(setup.emu.target_users[0])
    operator = TikTokToS3Operator(
        task_id="report",
        account_conn_id=conn_id,
        bucket=setup.bucket,
        key="leak/{{ params.team }}/{open_id}.csv",
        account_key=None,
        report_date=logical_date(3).date().isoformat(),
        aws_conn_id="aws_test",
    )
    ti = XComTaskInstance()
    context = {"ti": ti, "params": {"team": "rendered"}}
    with pytest.raises(AirflowFailException, match="contains Jinja"):
        operator.execute(context)  # type: ignore[arg-type]
    assert setup.keys() == []
    assert "contains Jinja" in json.dumps(ti.pushed[ERROR_XCOM_KEY])
