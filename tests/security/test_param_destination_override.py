"""Attack: a user allowed to trigger the DAG sends the report (or an arbitrary object) somewhere else.

``--conf '{"bucket": "victim", "key_template": "etl/config.json", "account_key_template": ""}'`` once
replaced an unrelated object in another bucket, through whatever ``aws_conn_id`` the run named. Where data
goes and which credentials are used is the deployment's choice (Variable ``tiktok_report_settings``); a run
may override a listed setting only when an admin put it in ``allow_run_overrides``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from report_dag_support import load_dag

if TYPE_CHECKING:
    from report_dag_support import Deployment

pytestmark = pytest.mark.integration

DESTINATION_PARAMS = [
    {"bucket": "victim", "key_template": "etl/config.json", "account_key_template": ""},
    {"aws_conn_id": "aws_other"},
    {"app_conn_id": "tiktok_other_app"},
    {"manifest_key_template": "etl/config.json"},
]


def logical_date(days_ago: int) -> datetime:
    day = datetime.now(timezone.utc).date() - timedelta(days=days_ago)
    return datetime.combine(day, time(2, 0), tzinfo=timezone.utc)


def states(run: Any) -> dict[tuple[str, int], str]:
    return {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}


@pytest.fixture
def victim(deployment: Deployment) -> str:
    """Another bucket holding an unrelated object the run must not touch."""
    name = f"victim-{uuid.uuid4().hex[:12]}"
    deployment.s3.create_bucket(Bucket=name)
    deployment.s3.put_object(Bucket=name, Key="etl/config.json", Body=b'{"keep": true}')
    return name


def test_destination_params_fail_the_run_before_anything_is_written(
    deployment: Deployment, victim: str, capfd: pytest.CaptureFixture[str]
) -> None:
    setup = deployment
    setup.link(setup.emu.target_users[0])
    for params in DESTINATION_PARAMS:
        conf = {k: (victim if v == "victim" else v) for k, v in params.items()}
        run = load_dag().test(logical_date=logical_date(4), run_conf=conf)
        assert states(run)[("prepare", -1)] == "failed", conf
        assert ("report", 0) not in states(run)
        out = capfd.readouterr().out
        assert "which decide where the report is written or which connection is used" in out
    assert setup.keys() == []
    assert setup.emu.count() == 0  # nothing was fetched either
    body = setup.s3.get_object(Bucket=victim, Key="etl/config.json")["Body"].read()
    assert body == b'{"keep": true}'


def test_an_admin_can_allow_a_bucket_override_explicitly(deployment: Deployment, victim: str) -> None:
    setup = deployment
    user = setup.emu.target_users[0]
    setup.link(user)
    setup.settings(bucket=setup.bucket, aws_conn_id="aws_test", allow_run_overrides=["bucket"])
    run = load_dag().test(logical_date=logical_date(4), run_conf={"bucket": victim})
    assert str(run.state) == "success", states(run)
    day = logical_date(4).date().isoformat()
    listed = setup.s3.list_objects_v2(Bucket=victim)["Contents"]
    assert f"tiktok/video_stats/dt={day}/account={user.open_id}/video_stats.csv" in {o["Key"] for o in listed}
    assert setup.keys() == []
    # ... and only that one: the key templates stay the deployment's.
    refused = load_dag().test(logical_date=logical_date(4), run_conf={"key_template": "etl/config.json"})
    assert states(refused)[("prepare", -1)] == "failed"
    body = setup.s3.get_object(Bucket=victim, Key="etl/config.json")["Body"].read()
    assert body == b'{"keep": true}'
