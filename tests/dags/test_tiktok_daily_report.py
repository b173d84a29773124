"""tiktok_daily_report end to end with ``dag.test()``: the emulator over real HTTP, a real moto_server and
the session's real sqlite metadata DB. Objects are read back and checked row by row against the emulator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from report_dag_support import DAG_FILE, load_dag

from airflow_provider_tiktok.daily_report import report_kwargs
from airflow_provider_tiktok.ratelimit import PARALLEL_REPORTS
from airflow_provider_tiktok.report_settings import resolve_settings
from airflow_provider_tiktok.reports import ACCOUNT_COLUMNS, VIDEO_COLUMNS, iso_utc, unescape_formula

if TYPE_CHECKING:
    from pathlib import Path

    from report_dag_support import Deployment

    from airflow_provider_tiktok.testing.emulator import EmulatedUser

pytestmark = pytest.mark.integration


def logical_date(days_ago: int) -> datetime:
    """The logical date of the scheduled run that reports the day ``days_ago`` days before today (UTC)."""
    day = datetime.now(timezone.utc).date() - timedelta(days=days_ago)
    return datetime.combine(day, time(2, 0), tzinfo=timezone.utc)


def expected_videos(user: EmulatedUser, report_date: date) -> list[dict[str, Any]]:
    cutoff = datetime.combine(report_date + timedelta(days=1), time.min, tzinfo=timezone.utc).timestamp()
    return [v for v in user.videos if v["create_time"] < cutoff]


def video_key(day: date, user: EmulatedUser, name: str = "video_stats.csv") -> str:
    return f"tiktok/video_stats/dt={day.isoformat()}/account={user.open_id}/{name}"


def core_timetable(dag: Any) -> Any:
    """The scheduler's view of the DAG's timetable."""
    from airflow.serialization.encoders import coerce_to_core_timetable

    return coerce_to_core_timetable(dag.timetable)


def task_states(run: Any) -> dict[tuple[str, int], str]:
    return {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}


def check_account_rows(setup: Deployment, user: EmulatedUser, day: date, *, escaped: bool) -> int:
    """Compare one account's CSV with the emulator's videos, row by row; returns the row count."""
    raw = setup.read(video_key(day, user))
    assert raw.startswith((",".join(VIDEO_COLUMNS) + "\r\n").encode())
    rows = setup.rows(video_key(day, user))
    expected = expected_videos(user, day)
    assert len(rows) == len(expected)
    for row, video in zip(rows, expected, strict=True):
        assert row["report_date"] == day.isoformat()
        assert row["account_open_id"] == user.open_id
        assert row["account_username"] == user.username
        assert row["video_id"] == video["id"]
        assert row["create_time"] == iso_utc(datetime.fromtimestamp(video["create_time"], tz=timezone.utc))
        for name in ("title", "video_description", "share_url"):
            value = unescape_formula(row[name]) if escaped else row[name]
            assert value == video.get(name, ""), name
        for name in ("duration", "view_count", "like_count", "comment_count", "share_count"):
            assert row[name] == str(video.get(name, "")), name
    (stats,) = setup.rows(video_key(day, user, "account_stats.csv"))
    assert list(stats) == list(ACCOUNT_COLUMNS)
    assert stats["follower_count"] == str(user.follower_count)
    return len(rows)


def test_dag_parses_without_work_and_has_the_documented_shape() -> None:
    dag = load_dag(fast=False)
    assert set(dag.task_ids) == {"prepare", "refresh_tokens", "report", "finalize", "relink_reminders"}
    assert dag.catchup is False
    assert core_timetable(dag).periodic  # backfill needs a periodic timetable
    assert dag.get_task("refresh_tokens").max_active_tis_per_dag == 1
    # every run together: at most this many reports share the app's rate budget
    assert dag.get_task("report").max_active_tis_per_dag == PARALLEL_REPORTS == 16
    assert dag.get_task("finalize").trigger_rule == "all_done"
    reminders = dag.get_task("relink_reminders")  # after the refresh, whatever the reports do
    assert reminders.upstream_task_ids == {"refresh_tokens"}
    assert reminders.trigger_rule == "all_done"
    assert reminders.max_active_tis_per_dag == 1
    assert dag.get_task("report").retry_exponential_backoff
    assert [o.name for o in dag.get_task("finalize").outlets] == ["tiktok_video_stats"]


def test_each_report_takes_its_part_of_the_rate_budget_among_those_that_run_at_once() -> None:
    settings = resolve_settings(params={}, variable={"bucket": "b"}, default_timezone="UTC")
    shares = [report_kwargs(settings, "tiktok_account_a", "2026-11-30", n)["rate_share"] for n in (1, 5, 40)]
    assert shares == [1, 5, PARALLEL_REPORTS]  # a lone account has the whole budget


PARSE_WITHOUT_WORK = """
import socket, sys
def refuse(*args, **kwargs):
    raise AssertionError("network access while parsing the DAG file")
socket.socket.connect = refuse
socket.create_connection = refuse
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
assert list(bag.dags) == ["tiktok_daily_report"]
heavy = ["requests", "boto3", "botocore", "airflow_provider_tiktok.hooks.tiktok"]
print("IMPORTED", [name for name in heavy if name in sys.modules])
"""


def test_parsing_reads_no_database_no_network_and_loads_no_http_or_aws_stack(tmp_path: Path) -> None:
    """No Variable or Connection read, no socket opened, no HTTP/AWS client imported at parse time."""
    env = {
        **os.environ,
        # A metadata DB that cannot be opened: any read of a Variable or Connection would fail.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'missing' / 'airflow.db'}",
    }
    env = {k: v for k, v in env.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    result = subprocess.run(
        [sys.executable, "-c", PARSE_WITHOUT_WORK, str(DAG_FILE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "IMPORTED []" in result.stdout


def test_schedule_time_and_timezone_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOK_REPORT_SCHEDULE", "05:30")
    monkeypatch.setenv("TIKTOK_REPORT_TIMEZONE", "Europe/Paris")
    dag = load_dag(fast=False)
    timetable = core_timetable(dag)
    assert timetable.summary == "30 5 * * *"
    assert timetable.serialize()["timezone"] == "Europe/Paris"


def test_daily_run_reports_every_account_row_by_row(deployment: Deployment) -> None:
    setup = deployment
    users = setup.emu.target_users
    conn_ids = [setup.link(user) for user in users]
    run = load_dag().test(logical_date=logical_date(1), run_conf={"formula_escaping": "none"})
    assert str(run.state) == "success", task_states(run)

    day = logical_date(1).date()
    total = sum(check_account_rows(setup, user, day, escaped=False) for user in users)
    assert total < sum(len(u.videos) for u in users)  # videos posted "today" are left out

    manifest = setup.manifest(day.isoformat())
    assert manifest["complete"] is True
    totals = {"accounts": 3, "succeeded": 3, "failed": 0, "rows": total, "skipped_rows": 0}
    assert manifest["totals"] == totals
    assert [a["account_conn_id"] for a in manifest["accounts"]] == conn_ids
    assert all(a["status"] == "ok" for a in manifest["accounts"])

    labels = {ti.rendered_map_index for ti in run.get_task_instances() if ti.task_id == "report"}
    assert labels == {f"@{u.username}" for u in users}
    assert_status_variables(conn_ids, day)
    assert_asset_event(run, day)


def assert_status_variables(conn_ids: list[str], day: date) -> None:
    from airflow.models import Variable

    for conn_id in conn_ids:
        status = json.loads(Variable.get(f"tiktok_report__{conn_id}"))
        assert status["report_date"] == day.isoformat()
        assert status["rows"] > 0


def assert_asset_event(run: Any, day: date) -> None:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        events = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == "tiktok_video_stats", AssetEvent.source_run_id == run.run_id)
        ).all()
        assert len(events) == 1
        assert events[0].extra["report_date"] == day.isoformat()


def test_rerun_replaces_keys_and_prefix_escaping_is_default(deployment: Deployment) -> None:
    setup = deployment
    user = setup.emu.target_users[0]
    setup.link(user)
    dag = load_dag()
    first = dag.test(logical_date=logical_date(2))
    assert str(first.state) == "success", task_states(first)
    keys = setup.keys()
    second = load_dag().test(logical_date=logical_date(2) + timedelta(minutes=1))
    assert str(second.state) == "success", task_states(second)
    assert setup.keys() == keys  # same date, same keys: replaced, not duplicated
    day = logical_date(2).date()
    rows = setup.rows(video_key(day, user))
    assert any(r["title"].startswith("'=") for r in rows)
    check_account_rows(setup, user, day, escaped=True)


def test_faults_fail_only_their_accounts_and_leave_nothing_partial(deployment: Deployment) -> None:
    setup = deployment
    revoked, first, second = setup.emu.target_users
    # Every access token has expired: the refresh task refreshes (rotates) all three for real.
    conn_ids = [setup.link(user, expired=True) for user in (revoked, first, second)]
    setup.emu.revoke_all(revoked.open_id)  # the user removed the app: refresh fails, relink needed
    # The first account to page through its videos gets page one, then 500s until its retries run
    # out (mid-pagination); the fault is then spent, so the other account pages normally.
    setup.emu.inject_fault("500", path="/v2/video/list/", nth=2, every=1, times=2)

    run = load_dag().test(logical_date=logical_date(3))
    assert str(run.state) == "failed"
    states = task_states(run)
    assert states[("prepare", -1)] == "success"
    assert states[("refresh_tokens", -1)] == "success"
    assert states[("finalize", -1)] == "failed"

    day = logical_date(3).date()
    manifest = setup.manifest(day.isoformat())
    by_id = {a["account_conn_id"]: a for a in manifest["accounts"]}
    assert by_id[conn_ids[0]]["error"].startswith("Relink TikTok account @")
    assert manifest["totals"]["succeeded"] == 1
    assert manifest["totals"]["failed"] == 2
    landed = [uid for uid in conn_ids[1:] if by_id[uid]["status"] == "ok"]
    paged_out = [uid for uid in conn_ids[1:] if by_id[uid]["status"] == "failed"]
    assert len(landed) == 1
    assert len(paged_out) == 1
    assert "500" in by_id[paged_out[0]]["error"] or "Transient" in by_id[paged_out[0]]["error"]

    good = setup.accounts[landed[0]]
    check_account_rows(setup, good, day, escaped=True)
    for failed in (revoked, setup.accounts[paged_out[0]]):
        assert setup.keys(f"tiktok/video_stats/dt={day.isoformat()}/account={failed.open_id}/") == []
    assert_rotated_tokens_kept(conn_ids[1:])


def assert_rotated_tokens_kept(conn_ids: list[str]) -> None:
    """The refresh task saved the rotated sets; they are the effective tokens now."""
    from airflow.models import Variable

    from airflow_provider_tiktok.tokens import TokenStore

    for conn_id in conn_ids:
        assert Variable.get(f"tiktok_token__{conn_id}", default_var=None) is not None
        _, tokens = TokenStore().load(conn_id)
        assert tokens.access_token_expires_at > datetime.now(timezone.utc)


def test_s3_down_fails_the_run_before_fetching(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dev.ports import free_port

    setup = deployment
    setup.link(setup.emu.target_users[0])
    dead = {"endpoint_url": f"http://127.0.0.1:{free_port()}", "region_name": "us-east-1"}
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEAD",
        json.dumps({"conn_type": "aws", "login": "x", "password": "y", "extra": dead}),
    )
    setup.settings(bucket=setup.bucket, aws_conn_id="aws_dead")  # runs cannot choose the connection
    run = load_dag().test(logical_date=logical_date(4))
    states = task_states(run)
    assert str(run.state) == "failed"
    assert states[("prepare", -1)] == "failed"  # found before anything is fetched
    assert ("report", 0) not in states
    assert states[("finalize", -1)] == "failed"
    assert setup.emu.count() == 0
    assert setup.keys() == []


def test_missing_bucket_fails_the_first_task_clearly(
    deployment: Deployment, capfd: pytest.CaptureFixture[str]
) -> None:
    setup = deployment
    setup.link(setup.emu.target_users[0])
    setup.settings(aws_conn_id="aws_test")  # no bucket
    run = load_dag().test(logical_date=logical_date(5))
    states = task_states(run)
    assert str(run.state) == "failed"
    assert states[("prepare", -1)] == "failed"
    assert ("report", 0) not in states
    assert "no S3 bucket configured" in capfd.readouterr().out
    assert setup.emu.count() == 0  # nothing was fetched


def test_too_many_accounts_fails_early_saying_what_to_change(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    setup = deployment
    for user in setup.emu.target_users:
        setup.link(user)
    monkeypatch.setenv("AIRFLOW__CORE__MAX_MAP_LENGTH", "2")
    run = load_dag().test(logical_date=logical_date(6))
    assert task_states(run)[("prepare", -1)] == "failed"
    assert "AIRFLOW__CORE__MAX_MAP_LENGTH=3" in capfd.readouterr().out
