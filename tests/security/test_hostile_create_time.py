"""Attack: TikTok (or a man in the middle of a misconfigured proxy) sends a ``create_time`` that is no time.

``10**20``, ``-10**15`` and ``"99999999999999"`` once raised OverflowError/ValueError inside the CSV writer
and failed the whole account's report. Such a video is now skipped with a warning and counted: the report
summary XCom and the manifest carry ``skipped_rows``.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from report_dag_support import load_dag

from airflow_provider_tiktok.xcom import SUMMARY_XCOM_KEY

if TYPE_CHECKING:
    from report_dag_support import Deployment

pytestmark = pytest.mark.integration

HOSTILE = [10**20, -(10**15), "99999999999999"]


def test_rows_with_impossible_create_time_are_skipped_counted_and_the_rest_lands(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    setup = deployment
    user = setup.emu.target_users[0]
    setup.link(user)
    # The oldest videos (always before the report date) get impossible create_times, served over HTTP.
    hostile_ids = []
    for video, value in zip(reversed(user.videos), HOSTILE, strict=False):
        video["create_time"] = value
        hostile_ids.append(video["id"])
    day = datetime.now(timezone.utc).date() - timedelta(days=1)
    run = load_dag().test(logical_date=datetime.combine(day, time(2, 0), tzinfo=timezone.utc))
    states = {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "success", states

    rows = setup.rows(f"tiktok/video_stats/dt={day.isoformat()}/account={user.open_id}/video_stats.csv")
    cutoff = datetime.combine(day + timedelta(days=1), time.min, tzinfo=timezone.utc).timestamp()
    good = [v for v in user.videos if isinstance(v["create_time"], int) and 0 <= v["create_time"] < cutoff]
    assert [r["video_id"] for r in rows] == [v["id"] for v in good]
    assert not {r["video_id"] for r in rows} & set(hostile_ids)

    manifest = setup.manifest(day.isoformat())
    assert manifest["totals"]["skipped_rows"] == 3
    assert manifest["totals"]["rows"] == len(rows)
    assert manifest["accounts"][0]["skipped_rows"] == 3
    summary = _summary(run)
    assert summary["skipped_rows"] == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    for video_id in hostile_ids:
        assert any(m.startswith(f"Skipping video {video_id!r}: create_time") for m in warnings), warnings


def _summary(run: Any) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        value = session.scalar(
            select(XComModel.value).where(
                XComModel.run_id == run.run_id,
                XComModel.task_id == "report",
                XComModel.key == SUMMARY_XCOM_KEY,
            )
        )
    assert value is not None
    data = json.loads(value) if isinstance(value, str) else value
    assert isinstance(data, dict)
    return data
