"""Settings that would lose or misplace data fail the run in ``prepare``, before anything is fetched, with one
error naming the setting; a rerun of fewer accounts never shrinks the date's manifest (``dag.test()``, the
emulator, moto_server, the real metadata DB)."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from report_dag_support import load_dag

if TYPE_CHECKING:
    from report_dag_support import Deployment


pytestmark = pytest.mark.integration


def logical_date(days_ago: int) -> datetime:
    day = datetime.now(timezone.utc).date() - timedelta(days=days_ago)
    return datetime.combine(day, time(2, 0), tzinfo=timezone.utc)


def run_failing_in_prepare(setup: Deployment, capfd: pytest.CaptureFixture[str], days_ago: int) -> str:
    """Run the DAG; check it failed in prepare alone, fetched and wrote nothing; return the task output."""
    run = load_dag().test(logical_date=logical_date(days_ago))
    states = {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "failed"
    assert states[("prepare", -1)] == "failed"
    assert states[("finalize", -1)] == "failed"  # at once, pointing at prepare: no XComNotFound retries
    assert {state for (task, _), state in states.items() if task in ("report", "refresh_tokens")} <= {
        "upstream_failed"
    }
    assert setup.emu.count() == 0  # nothing fetched
    assert setup.keys() == []  # nothing written (the bucket probe is removed again)
    output: str = capfd.readouterr().out
    assert "Nothing to finalize: task 'prepare' did not finish" in output
    return output


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"encrypt": "enabled"}, "setting 'encrypt' is \"enabled\", but it must be true or false"),
        ({"account_key_template": 0}, "setting 'account_key_template' is 0"),
        ({"bucket": ["a", "b"]}, 'setting \'bucket\' is ["a", "b"]'),
        ({"key_template": "tiktok/{report_date}/video_stats.csv"}, "would both write s3 key"),
        (
            {
                "key_template": "t/{report_date}/{open_id}.csv",
                "account_key_template": "t/{report_date}/{open_id}.csv",
            },
            "would both write s3 key",
        ),
    ],
)
def test_a_setting_that_loses_or_misplaces_data_fails_before_fetching(
    deployment: Deployment, capfd: pytest.CaptureFixture[str], settings: dict[str, Any], expected: str
) -> None:
    setup = deployment
    for user in setup.emu.target_users:
        setup.link(user)
    setup.settings(**{"bucket": setup.bucket, "aws_conn_id": "aws_test", **settings})
    assert expected in run_failing_in_prepare(setup, capfd, 7)


def test_a_bucket_that_does_not_exist_fails_before_fetching_naming_bucket_and_connection(
    deployment: Deployment, capfd: pytest.CaptureFixture[str]
) -> None:
    setup = deployment
    setup.link(setup.emu.target_users[0])
    setup.settings(bucket="no-such-bucket-here", aws_conn_id="aws_test")
    output = run_failing_in_prepare(setup, capfd, 8)
    assert (
        "cannot write to S3 bucket 'no-such-bucket-here' with connection 'aws_test' (NoSuchBucket" in output
    )


def test_no_linked_account_fails_and_writes_no_manifest(
    deployment: Deployment, capfd: pytest.CaptureFixture[str]
) -> None:
    assert "no TikTok account to report" in run_failing_in_prepare(deployment, capfd, 9)


def test_a_rerun_of_one_account_keeps_the_others_in_the_manifest(deployment: Deployment) -> None:
    setup = deployment
    conn_ids = [setup.link(user) for user in setup.emu.target_users]
    day = logical_date(10)
    report_date = (day.date()).isoformat()
    assert str(load_dag().test(logical_date=day).state) == "success"
    first = setup.manifest(report_date)
    run = load_dag().test(logical_date=day + timedelta(minutes=1), run_conf={"accounts": conn_ids[:1]})
    assert str(run.state) == "success"
    second = setup.manifest(report_date)
    assert second["totals"] == first["totals"]  # still three accounts, all their rows
    assert second["complete"] is True
    assert [e["account_conn_id"] for e in second["accounts"]] == [conn_ids[0], *conn_ids[1:]]
    assert {e.get("run_id") for e in second["accounts"][1:]} == {first["run_id"]}
    assert json.loads(json.dumps(second))["accounts"][0]["written_at"] != first["accounts"][0]["written_at"]
