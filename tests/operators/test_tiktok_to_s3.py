"""TikTokToS3Operator against the emulator over real HTTP and a real moto_server, shaped like
Airflow's own ``test_http_to_s3``: connections come from ``AIRFLOW_CONN_*`` environment variables and
the test checks the objects that landed in S3.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_tiktok.connections import AccountInfo
from airflow_provider_tiktok.errors import TikTokTransientError
from airflow_provider_tiktok.operators.tiktok import (
    ERROR_XCOM_KEY,
    SUMMARY_XCOM_KEY,
    TikTokToS3Operator,
)
from airflow_provider_tiktok.report_scratch import task_scratch_root
from airflow_provider_tiktok.reports import ACCOUNT_COLUMNS, VIDEO_COLUMNS, iso_utc, unescape_formula
from airflow_provider_tiktok.s3_errors import TikTokS3Error
from airflow_provider_tiktok.testing.connections import account_connection, app_connection
from airflow_provider_tiktok.tokens import TokenSet
from tests.xcom_stand_in import XComTaskInstance

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_tiktok.testing.emulator import EmulatedUser, TikTokEmulator

SCOPES = "user.info.basic,user.info.profile,user.info.stats,video.list"
FAST_HOOK = {
    "timeout": (2, 5),
    "max_retries": 1,
    "backoff_base": 0.01,
    "backoff_cap": 0.05,
    "refresh_race_wait": timedelta(0),  # no other task races these: invalid_grant is final at once
}


@pytest.fixture
def emu(tiktok_emulator_factory: Callable[..., TikTokEmulator]) -> TikTokEmulator:
    """Two target users with 45 videos each (three pages), hostile text included."""
    return tiktok_emulator_factory(users=2, videos=45, non_target_users=0, hang_seconds=2.0)


@pytest.fixture
def s3(moto_s3: str) -> Any:
    """A boto3 client of the session's moto_server."""
    return boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1")


@pytest.fixture
def bucket(s3: Any) -> str:
    """A fresh bucket per test."""
    name = f"reports-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def link_env(
    emu: TikTokEmulator, monkeypatch: pytest.MonkeyPatch, user: EmulatedUser, age: timedelta = timedelta(0)
) -> str:
    """Link ``user`` as an account connection given by an ``AIRFLOW_CONN_*`` env var; returns its id.

    ``age``: how long ago the stored token set was issued (by our data).
    """
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_DEFAULT", json.dumps(app_connection(emu, scopes=SCOPES)))
    now = datetime.now(timezone.utc) - age
    tokens = TokenSet.from_token_response(
        emu.issue_tokens(user.open_id, scopes=SCOPES), now=now, linked_at=now
    )
    conn_id = f"tiktok_account_{user.username.replace('.', '_')}"
    info = AccountInfo(
        conn_id=conn_id,
        app_conn_id="tiktok_default",
        open_id=user.open_id,
        display_name=user.display_name,
        username=user.username,
        linked_at=now,
        linked_by="tests",
    )
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(account_connection(info, tokens)))
    return conn_id


@pytest.fixture
def account(emu: TikTokEmulator, monkeypatch: pytest.MonkeyPatch, moto_s3: str) -> Iterator[str]:
    """The first emulator user linked as an account; its status Variable is removed afterwards."""
    conn_id = link_env(emu, monkeypatch, emu.target_users[0])
    yield conn_id
    from airflow.models import Variable

    Variable.delete(f"tiktok_report__{conn_id}")


def yesterday() -> date:
    return datetime.now(timezone.utc).date() - timedelta(days=1)


def make_operator(account: str, bucket: str, **kwargs: Any) -> TikTokToS3Operator:
    options: dict[str, Any] = {
        "task_id": "report",
        "account_conn_id": account,
        "bucket": bucket,
        "report_date": yesterday().isoformat(),
        "aws_conn_id": "aws_test",
        "hook_kwargs": FAST_HOOK,
    }
    options.update(kwargs)
    return TikTokToS3Operator(**options)


def run(operator: TikTokToS3Operator) -> tuple[list[str], XComTaskInstance]:
    ti = XComTaskInstance()
    result = operator.execute({"ti": ti})  # type: ignore[typeddict-item]
    return result, ti


def read_csv(s3: Any, bucket: str, key: str) -> tuple[bytes, list[dict[str, str]]]:
    raw: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return raw, list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))


def keys_in(s3: Any, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def expected_videos(user: EmulatedUser, report_date: date) -> list[dict[str, Any]]:
    cutoff = datetime.combine(report_date + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)
    return [v for v in user.videos if v["create_time"] < cutoff.timestamp()]


def assert_row_matches(row: dict[str, str], video: dict[str, Any], *, escaped: bool) -> None:
    def text(value: str) -> str:
        return unescape_formula(value) if escaped else value

    assert row["video_id"] == video["id"]
    assert row["create_time"] == iso_utc(datetime.fromtimestamp(video["create_time"], tz=timezone.utc))
    for name in ("title", "video_description", "share_url"):
        assert text(row[name]) == video.get(name, ""), name
    for name in ("duration", "view_count", "like_count", "comment_count", "share_count"):
        assert row[name] == ("" if name not in video else str(video[name])), name


def test_init_keeps_arguments_and_templates() -> None:
    operator = TikTokToS3Operator(task_id="r", account_conn_id="tiktok_account_x", bucket="b")
    assert operator.report_date == "{{ ds }}"
    assert operator.key == "tiktok/video_stats/dt={report_date}/account={open_id}/video_stats.csv"
    assert set(operator.template_fields) >= {"account_conn_id", "bucket", "key", "report_date"}
    with pytest.raises(TypeError):
        TikTokToS3Operator("r", "tiktok_account_x", "b")  # type: ignore[call-arg]


def test_execute_writes_every_video_row_by_row(
    emu: TikTokEmulator, account: str, bucket: str, s3: Any
) -> None:
    user = emu.target_users[0]
    before = datetime.now(timezone.utc).replace(microsecond=0)
    uris, ti = run(make_operator(account, bucket, formula_escaping="none"))

    day = yesterday().isoformat()
    video_key = f"tiktok/video_stats/dt={day}/account={user.open_id}/video_stats.csv"
    account_key = f"tiktok/video_stats/dt={day}/account={user.open_id}/account_stats.csv"
    assert uris == [f"s3://{bucket}/{video_key}", f"s3://{bucket}/{account_key}"]
    assert keys_in(s3, bucket) == sorted([video_key, account_key])

    raw, rows = read_csv(s3, bucket, video_key)
    assert raw.startswith((",".join(VIDEO_COLUMNS) + "\r\n").encode())
    expected = expected_videos(user, yesterday())
    assert 0 < len(expected) < len(user.videos)  # the emulator has videos posted "today": left out
    assert len(rows) == len(expected)
    for row, video in zip(rows, expected, strict=True):
        assert_row_matches(row, video, escaped=False)
        assert row["report_date"] == day
        assert row["account_open_id"] == user.open_id
        assert row["account_username"] == user.username
        assert row["account_display_name"] == user.display_name
        assert before <= datetime.fromisoformat(row["fetched_at"].replace("Z", "+00:00"))

    _, (stats,) = read_csv(s3, bucket, account_key)
    assert list(stats) == list(ACCOUNT_COLUMNS)
    for name in ("follower_count", "following_count", "likes_count", "video_count"):
        assert stats[name] == str(getattr(user, name)), name

    summary = ti.pushed[SUMMARY_XCOM_KEY]
    assert summary["rows"] == len(expected)
    assert summary["keys"] == [video_key, account_key]
    assert "token" not in json.dumps(summary).lower()


def test_prefix_escaping_is_the_default_and_reversible(
    emu: TikTokEmulator, account: str, bucket: str, s3: Any
) -> None:
    uris, _ = run(make_operator(account, bucket))
    _, rows = read_csv(s3, bucket, uris[0].split(f"s3://{bucket}/", 1)[1])
    expected = expected_videos(emu.target_users[0], yesterday())
    hostile = [r for r in rows if r["title"].startswith("'")]
    assert hostile, "the emulator serves titles starting with = + - @"
    for row, video in zip(rows, expected, strict=True):
        assert not row["title"].startswith(("=", "+", "-", "@"))
        assert_row_matches(row, video, escaped=True)


def test_rerun_replaces_the_same_keys_and_records_status(
    emu: TikTokEmulator, account: str, bucket: str, s3: Any
) -> None:
    from airflow.models import Variable

    first, _ = run(make_operator(account, bucket))
    second, _ = run(make_operator(account, bucket))
    assert first == second
    assert len(keys_in(s3, bucket)) == 2
    status = json.loads(Variable.get(f"tiktok_report__{account}"))
    assert status["report_date"] == yesterday().isoformat()
    assert status["keys"] == [u.split(f"s3://{bucket}/", 1)[1] for u in second]
    assert status["rows"] == len(expected_videos(emu.target_users[0], yesterday()))


def test_older_report_date_leaves_out_newer_videos(
    emu: TikTokEmulator, account: str, bucket: str, s3: Any
) -> None:
    user = emu.target_users[0]
    day = date.fromtimestamp(user.videos[len(user.videos) // 2]["create_time"])
    uris, ti = run(make_operator(account, bucket, report_date=day.isoformat(), account_key=None))
    assert len(uris) == 1
    _, rows = read_csv(s3, bucket, uris[0].split(f"s3://{bucket}/", 1)[1])
    assert [r["video_id"] for r in rows] == [v["id"] for v in expected_videos(user, day)]
    assert ti.pushed[SUMMARY_XCOM_KEY]["rows"] == len(rows)


def test_custom_key_template_with_jinja_and_placeholders(account: str, bucket: str, s3: Any) -> None:
    operator = make_operator(
        account, bucket, key="x/{{ params.team }}/{account}/{report_date}.csv", account_key=""
    )
    uris, _ = run_rendered(operator, {"params": {"team": "growth"}})
    assert uris == [f"s3://{bucket}/x/growth/{account}/{yesterday().isoformat()}.csv"]


def run_rendered(operator: TikTokToS3Operator, context: dict[str, Any]) -> tuple[list[str], XComTaskInstance]:
    ti = XComTaskInstance()
    full = {"ti": ti, **context}
    operator.render_template_fields(full)  # type: ignore[arg-type]
    return operator.execute(full), ti  # type: ignore[arg-type]


def test_encrypt_asks_for_sse_s3(account: str, bucket: str, s3: Any) -> None:
    uris, _ = run(make_operator(account, bucket, encrypt=True, account_key=None))
    head = s3.head_object(Bucket=bucket, Key=uris[0].split(f"s3://{bucket}/", 1)[1])
    assert head["ServerSideEncryption"] == "AES256"


def test_revoked_account_fails_without_retry_and_writes_nothing(
    emu: TikTokEmulator, account: str, bucket: str, s3: Any
) -> None:
    from airflow.models import Variable

    from airflow_provider_tiktok.tokens import TokenStore

    emu.revoke_all(emu.target_users[0].open_id)
    with pytest.raises(AirflowFailException) as raised:
        run(make_operator(account, bucket))
    lines = str(raised.value).splitlines()
    # What to do comes first, on lines Airflow's log viewer shows whole; then why; then the connection.
    assert lines[0] == 'Relink TikTok account @ana.lucia: press "Regenerate token" on the accounts page,'
    assert lines[1].strip().endswith("/plugin/tiktok-accounts")
    assert lines[2].startswith("Cause: Its refresh token is no longer valid (invalid_grant")
    assert lines[-1] == f"Connection: {account}"
    assert max(len(line) for line in lines) <= 100
    assert str(raised.value).lower().count("relink") == 1
    assert keys_in(s3, bucket) == []
    assert TokenStore().refresh_failure(account) is not None  # the page shows it broken at once
    last_run = json.loads(Variable.get(f"tiktok_report__{account}"))["last_run"]
    assert (last_run["ok"], last_run["needs_relink"]) == (False, True)


def test_a_report_starting_with_an_aged_token_refreshes_first_and_lands(
    emu: TikTokEmulator, monkeypatch: pytest.MonkeyPatch, bucket: str, s3: Any
) -> None:
    from airflow_provider_tiktok.tokens import TokenStore

    account = link_env(emu, monkeypatch, emu.target_users[1], age=timedelta(seconds=7200 - 60))
    try:
        uris, ti = run(make_operator(account, bucket))
        assert len(uris) == 2
        assert ti.pushed[SUMMARY_XCOM_KEY]["rows"] == len(expected_videos(emu.target_users[1], yesterday()))
        assert emu.count("/v2/oauth/token/") == 1
        assert TokenStore().load_rotated(account) is not None  # saved for every later task
    finally:
        from airflow.models import Variable

        for key in (f"tiktok_report__{account}", f"tiktok_token__{account}"):
            Variable.delete(key)


def test_status_keeps_the_newest_date_when_an_older_one_is_backfilled(
    account: str, bucket: str, s3: Any
) -> None:
    from airflow.models import Variable

    newest = yesterday()
    older = newest - timedelta(days=3)
    run(make_operator(account, bucket, report_date=newest.isoformat(), account_key=None))
    run(make_operator(account, bucket, report_date=older.isoformat(), account_key=None))
    status = json.loads(Variable.get(f"tiktok_report__{account}"))
    assert (status["report_date"], status["newest_report_date"]) == (older.isoformat(), newest.isoformat())
    assert status["last_run"] == {**status["last_run"], "report_date": older.isoformat(), "ok": True}


def test_api_failing_mid_pagination_is_transient_and_writes_nothing(
    emu: TikTokEmulator, account: str, bucket: str, s3: Any
) -> None:
    ti = XComTaskInstance()
    # Page one succeeds, every later page answers 500: retries run out half-way through the list.
    emu.inject_fault("500", path="/v2/video/list/", nth=2, every=1)
    with pytest.raises(TikTokTransientError):
        make_operator(account, bucket).execute({"ti": ti})  # type: ignore[typeddict-item]
    assert emu.count(path="/v2/video/list/") >= 2
    assert keys_in(s3, bucket) == []
    assert ti.pushed[ERROR_XCOM_KEY]["account_conn_id"] == account
    assert SUMMARY_XCOM_KEY not in ti.pushed


def test_s3_down_fails_and_writes_nothing(
    emu: TikTokEmulator, account: str, bucket: str, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dev.ports import free_port

    dead = json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": f"http://127.0.0.1:{free_port()}", "region_name": "us-east-1"},
        }
    )
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEAD", dead)
    operator = make_operator(account, bucket, aws_conn_id="aws_dead")
    with pytest.raises(Exception, match=r"(?i)connect"):
        run(operator)
    assert keys_in(s3, bucket) == []


def test_second_upload_failing_removes_the_first(
    account: str, bucket: str, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = make_operator(account, bucket)
    real_load_file = operator.s3_hook.load_file
    calls: list[str] = []

    # A server that accepts one PUT and refuses the next cannot be arranged with moto, so the second
    # upload's failure is injected here; the first upload and the clean-up run against moto for real.
    def flaky_load_file(filename: str, key: str, **kwargs: Any) -> None:
        calls.append(key)
        if len(calls) == 2:
            raise ConnectionError("S3 went away")
        real_load_file(filename, key, **kwargs)

    monkeypatch.setattr(operator.s3_hook, "load_file", flaky_load_file)
    with pytest.raises(TikTokS3Error, match=r"account_stats\.csv failed \(ConnectionError: S3 went away\)"):
        run(operator)
    assert len(calls) == 2
    assert keys_in(s3, bucket) == []


class AttemptTaskInstance(XComTaskInstance):
    """A task instance with the identity of a real one (dag, run, task, map index, try number)."""

    def __init__(self, run_id: str, try_number: int) -> None:
        super().__init__()
        self.dag_id, self.run_id, self.task_id, self.map_index = "tiktok_daily_report", run_id, "report", 3
        self.try_number = try_number


def test_the_next_try_removes_what_a_killed_attempt_left_in_the_temporary_folder(
    account: str, bucket: str, s3: Any
) -> None:
    run_id = f"scheduled__2026-11-30T02:00:00+00:00-{uuid.uuid4().hex[:8]}"
    root = task_scratch_root(AttemptTaskInstance(run_id, 1), "report")
    killed = root / "try-1"  # what a SIGKILLed first try leaves: its half-written CSVs
    killed.mkdir(parents=True)
    (killed / "tiktok-abc123.csv").write_text("report_date,fetched_at\n2026-11-30,", encoding="utf-8")
    written: list[str] = []
    operator = make_operator(account, bucket)
    real_load_file = operator.s3_hook.load_file

    def load_file(filename: str, key: str, **kwargs: Any) -> None:
        written.append(filename)
        real_load_file(filename, key, **kwargs)

    operator.s3_hook.load_file = load_file  # type: ignore[method-assign] # records where the CSVs were
    operator.execute({"ti": AttemptTaskInstance(run_id, 2)})  # type: ignore[typeddict-item]
    assert not killed.exists()
    assert [Path(name).parent for name in written] == [root / "try-2"] * 2
    assert not root.parent.parent.exists()  # the second try cleaned up after itself, empty folders too
    assert len(keys_in(s3, bucket)) == 2


def test_a_failed_upload_names_the_bucket_the_key_and_what_to_do(account: str, s3: Any) -> None:
    missing = f"no-such-bucket-{uuid.uuid4().hex[:8]}"
    operator = make_operator(account, missing)
    with pytest.raises(TikTokS3Error) as failed:
        run(operator)
    message = str(failed.value)
    assert f"to s3://{missing}/tiktok/video_stats/dt={yesterday()}/account=" in message
    assert "/video_stats.csv failed (NoSuchBucket: " in message
    assert f"Check that bucket '{missing}' exists and that connection 'aws_test' may write to it" in message
    assert "account @" in message
