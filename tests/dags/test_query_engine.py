"""A query engine reads the report's files as they are: DuckDB over S3 after a three-date backfill.

Three dates run through ``dag.test()`` against the emulator and ``moto_server``; between them the
emulator's view counts grow, as TikTok's do. DuckDB then runs the statements of ``docs/querying.md``
verbatim (only the bucket name replaced) straight against the S3 endpoint, with the ``httpfs``
extension installed from PyPI (``duckdb-ext-httpfs``, built for the pinned DuckDB; autoinstall is off,
so nothing is downloaded at run time).
"""

from __future__ import annotations

import importlib.metadata
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import duckdb
import pytest
from report_dag_support import load_dag

from airflow_provider_tiktok.reports import ACCOUNT_COLUMNS, VIDEO_COLUMNS, unescape_formula
from tests.querying_contract import contract_type, sql_statements

if TYPE_CHECKING:
    from report_dag_support import Deployment

    from airflow_provider_tiktok.testing.emulator import EmulatedUser

pytestmark = pytest.mark.integration

#: Report dates of the backfill, in days before today (UTC), oldest first.
DAYS_AGO = (3, 2, 1)
DUCKDB_TYPES = {
    "integer": "BIGINT",
    "date": "DATE",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "text": "VARCHAR",
}
PARTITIONS = [("dt", "DATE"), ("account", "VARCHAR")]
#: (report date, open_id, video_id) -> the video as the emulator served it for that date.
Snapshots = dict[tuple[date, str, str], dict[str, Any]]


def logical_date(days_ago: int) -> datetime:
    """The logical date of the scheduled run that reports the day ``days_ago`` days before today (UTC)."""
    day = datetime.now(timezone.utc).date() - timedelta(days=days_ago)
    return datetime.combine(day, time(2, 0), tzinfo=timezone.utc)


def grow_views(users: list[EmulatedUser], step: int) -> None:
    """TikTok's lifetime counters grow between snapshots: video ``i`` gains ``step * (i + 1)`` views."""
    for user in users:
        for index, video in enumerate(user.videos):
            if "view_count" in video:
                video["view_count"] += step * (index + 1)


def backfill(setup: Deployment) -> Snapshots:
    """Link every target user, run the three dates; returns what the emulator served for each date."""
    users = setup.emu.target_users
    for user in users:
        setup.link(user)
    served: Snapshots = {}
    for number, days_ago in enumerate(DAYS_AGO):
        grow_views(users, step=1000 * number)
        day = logical_date(days_ago).date()
        cutoff = datetime.combine(day + timedelta(days=1), time.min, tzinfo=timezone.utc).timestamp()
        for user in users:
            for video in user.videos:
                if video["create_time"] < cutoff:
                    served[(day, user.open_id, video["id"])] = dict(video)
        run = load_dag().test(logical_date=logical_date(days_ago))
        assert str(run.state) == "success", day
    return served


def connect_to(endpoint_url: str) -> duckdb.DuckDBPyConnection:
    """DuckDB with the PyPI-installed httpfs extension and an S3 secret for ``moto_server``."""
    extensions = importlib.metadata.distribution("duckdb-ext-httpfs").locate_file("duckdb_ext/extensions")
    con = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "extension_directory": str(extensions),
        }
    )
    con.execute("LOAD httpfs")
    con.execute(
        "CREATE SECRET moto (TYPE s3, KEY_ID 'testing', SECRET 'testing', REGION 'us-east-1', "
        f"ENDPOINT '{urlsplit(endpoint_url).netloc}', URL_STYLE 'path', USE_SSL false)"
    )
    return con


def create_views(con: duckdb.DuckDBPyConnection, bucket: str) -> None:
    """The doc's two ``CREATE VIEW`` statements, with the doc's placeholder bucket replaced."""
    statements = sql_statements()
    for name in ("duckdb-video-stats", "duckdb-account-stats"):
        con.execute(statements[name].replace("s3://your-bucket/", f"s3://{bucket}/"))


def records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    """The rows of ``sql`` as dicts."""
    cursor = con.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_duckdb_reads_a_backfill_from_s3_with_the_documented_types(
    deployment: Deployment, moto_s3: str
) -> None:
    setup = deployment
    served = backfill(setup)
    con = connect_to(moto_s3)
    create_views(con, setup.bucket)

    for view, columns in (("video_stats", VIDEO_COLUMNS), ("account_stats", ACCOUNT_COLUMNS)):
        described = [row[:2] for row in con.execute(f"DESCRIBE {view}").fetchall()]
        # The file's columns in file order, then the partition columns (in DuckDB's order).
        assert described[: len(columns)] == [(c, DUCKDB_TYPES[contract_type(c)]) for c in columns]
        assert sorted(described[len(columns) :]) == sorted(PARTITIONS)

    print(con.sql("DESCRIBE video_stats"))  # shown with `pytest -s`
    per_date = "SELECT dt, count(DISTINCT account) AS accounts, count(*) AS rows FROM video_stats GROUP BY dt"
    print(con.sql(f"{per_date} ORDER BY dt"))
    check_counts_match_the_manifests(con, setup)
    rows = records(con, "SELECT * FROM video_stats")
    check_values(rows, served)
    check_hostile_titles(rows)
    check_account_stats(con, setup)
    check_daily_gains(con, served)


def check_counts_match_the_manifests(con: duckdb.DuckDBPyConnection, setup: Deployment) -> None:
    counted = {
        (dt, account): rows
        for dt, account, rows in con.execute(
            "SELECT dt, account, count(*) FROM video_stats GROUP BY ALL"
        ).fetchall()
    }
    expected = {}
    for days_ago in DAYS_AGO:
        day = logical_date(days_ago).date()
        manifest = setup.manifest(day.isoformat())
        assert manifest["complete"] is True
        assert sum(n for (dt, _), n in counted.items() if dt == day) == manifest["totals"]["rows"]
        expected.update({(day, entry["open_id"]): entry["rows"] for entry in manifest["accounts"]})
    assert counted == expected
    assert len(expected) == len(DAYS_AGO) * len(setup.accounts)


def check_values(rows: list[dict[str, Any]], served: Snapshots) -> None:
    """Every row is the video TikTok served for that date, typed; a missing field is NULL."""
    assert len(rows) == len(served)
    for row in rows:
        video = served[(row["dt"], row["account"], row["video_id"])]
        assert row["report_date"] == row["dt"]
        assert row["account_open_id"] == row["account"]
        assert isinstance(row["video_id"], str)
        assert row["create_time"] == datetime.fromtimestamp(video["create_time"], tz=timezone.utc)
        assert row["fetched_at"].date() >= row["dt"]
        for name in ("duration", "view_count", "like_count", "comment_count", "share_count"):
            assert row[name] == video.get(name), name
        for name in ("title", "video_description", "share_url"):
            text = None if row[name] is None else unescape_formula(row[name])
            assert text == (video.get(name) or None), name
    missing = Counter(
        name for video in served.values() for name in ("view_count", "duration") if name not in video
    )
    nulls = Counter(name for row in rows for name in ("view_count", "duration") if row[name] is None)
    assert nulls == missing
    assert nulls["view_count"] > 0
    assert nulls["duration"] > 0


def check_hostile_titles(rows: list[dict[str, Any]]) -> None:
    """Commas, quotes, line breaks, emoji and formula-like titles come back intact (one ``'`` escaped)."""
    titles = {row["title"] for row in rows}
    assert "Morning routine, part 2" in titles
    assert 'She said "wow", then left' in titles
    assert "Line one\nline two" in titles
    assert "Windows line\r\nbreak" in titles
    assert "Dance 💃🔥 challenge 👨‍👩‍👧" in titles
    assert '\'=HYPERLINK("http://evil.example","click")' in titles  # formula_escaping: prefix


def check_account_stats(con: duckdb.DuckDBPyConnection, setup: Deployment) -> None:
    followers = {user.open_id: user.follower_count for user in setup.accounts.values()}
    rows = records(con, "SELECT dt, account, account_open_id, follower_count FROM account_stats")
    assert len(rows) == len(DAYS_AGO) * len(followers)
    for row in rows:
        assert row["account_open_id"] == row["account"]
        assert row["follower_count"] == followers[row["account"]]


def check_daily_gains(con: duckdb.DuckDBPyConnection, served: Snapshots) -> None:
    """The doc's day-over-day query: gains match the growth; a backfill's late snapshots are no daily gain."""
    print(con.sql(sql_statements()["duckdb-daily-gains"]))  # shown with `pytest -s`
    gains = records(con, sql_statements()["duckdb-daily-gains"])
    assert len(gains) == len(served)
    first, *later = (logical_date(days_ago).date() for days_ago in DAYS_AGO)
    compared = 0
    for row in gains:
        previous = served.get((row["dt"] - timedelta(days=1), row["account"], row["video_id"]))
        current = served[(row["dt"], row["account"], row["video_id"])]
        if previous is None or "view_count" not in current:
            assert row["view_gain"] is None
        else:
            assert row["view_gain"] == current["view_count"] - previous["view_count"]
            assert row["view_gain"] > 0
            assert row["between_snapshots"] > timedelta(0)
            compared += 1
        # Every date was fetched today: dt-3 and dt-2 are late snapshots, so no difference is a daily gain.
        assert row["is_daily_gain"] is False
    assert compared > len(served) // 3
    assert {row["dt"] for row in gains} == {first, *later}
