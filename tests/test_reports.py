"""The CSV contract: header, order, quoting, typing, cut-off and formula escaping."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone

import pytest

from airflow_provider_tiktok.reports import (
    ACCOUNT_COLUMNS,
    COLUMN_DOCS,
    VIDEO_COLUMNS,
    ReportAccount,
    escape_formula,
    iso_utc,
    report_cutoff,
    report_date_for,
    unescape_formula,
    write_account_report,
    write_video_report,
)

FETCHED = datetime(2024, 6, 2, 2, 0, 7, tzinfo=timezone.utc)
ACCOUNT = ReportAccount(
    report_date=date(2024, 6, 1),
    fetched_at=FETCHED,
    open_id="open-1",
    username="=brand",
    display_name='Brand, "Inc"',
)
CUTOFF = report_cutoff(date(2024, 6, 1), "UTC")
HOSTILE = '=HYPERLINK("http://x","click"),\n"quoted"\r\nemoji 🎉 ; tab\t@end'


def _video(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "7300000000000000001",
        "create_time": int(datetime(2024, 5, 30, 8, 0, tzinfo=timezone.utc).timestamp()),
        "title": "plain",
        "video_description": "desc",
        "duration": 15,
        "share_url": "https://www.tiktok.com/@brand/video/7300000000000000001",
        "view_count": 1234,
        "like_count": 56,
        "comment_count": 7,
        "share_count": 8,
    }
    base.update(fields)
    return base


def _write(videos: list[dict[str, object]], mode: str = "prefix") -> tuple[bytes, int]:
    buffer = io.BytesIO()
    text = io.TextIOWrapper(buffer, encoding="utf-8", newline="")
    rows = write_video_report(text, videos, ACCOUNT, created_before=CUTOFF, formula_escaping=mode)  # type: ignore[arg-type]
    text.flush()
    return buffer.getvalue(), rows


def _read(raw: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))


def test_header_always_written_even_without_videos() -> None:
    raw, rows = _write([])
    assert rows == 0
    assert raw == (",".join(VIDEO_COLUMNS) + "\r\n").encode()


def test_every_column_is_documented() -> None:
    assert set(VIDEO_COLUMNS) | set(ACCOUNT_COLUMNS) == set(COLUMN_DOCS)


def test_row_values_are_typed_and_in_fixed_order() -> None:
    # The API's key order must not matter: feed the fields reversed.
    video = dict(reversed(list(_video().items())))
    raw, rows = _write([video])
    assert rows == 1
    lines = raw.split(b"\r\n")
    assert lines[1].decode() == (
        '2024-06-01,2024-06-02T02:00:07Z,open-1,\'=brand,"Brand, ""Inc""",7300000000000000001,'
        "2024-05-30T08:00:00Z,plain,desc,15,https://www.tiktok.com/@brand/video/7300000000000000001,"
        "1234,56,7,8"
    )
    assert lines[2] == b""


def test_missing_fields_are_empty_cells_and_numeric_strings_become_integers() -> None:
    raw, _ = _write([{"id": "v1", "view_count": "42", "like_count": "n/a", "share_count": True}])
    (row,) = _read(raw)
    assert row["video_id"] == "v1"
    assert row["view_count"] == "42"
    assert row["like_count"] == ""
    assert row["share_count"] == ""
    for column in ("create_time", "title", "video_description", "duration", "share_url", "comment_count"):
        assert row[column] == "", column


def test_videos_created_after_the_report_date_are_left_out() -> None:
    last_second = int(datetime(2024, 6, 1, 23, 59, 59, tzinfo=timezone.utc).timestamp())
    midnight = int(datetime(2024, 6, 2, tzinfo=timezone.utc).timestamp())
    videos = [_video(id="late", create_time=midnight), _video(id="in", create_time=last_second)]
    raw, rows = _write(videos)
    assert rows == 1
    assert [r["video_id"] for r in _read(raw)] == ["in"]


def test_cutoff_follows_the_report_timezone() -> None:
    cutoff = report_cutoff(date(2024, 6, 1), "Europe/Paris")
    assert cutoff == datetime(2024, 6, 1, 22, 0, tzinfo=timezone.utc)
    logical = datetime(2024, 6, 1, 23, 30, tzinfo=timezone.utc)
    assert report_date_for(logical, "UTC") == date(2024, 6, 1)
    assert report_date_for(logical, "Europe/Paris") == date(2024, 6, 2)


def test_hostile_text_round_trips_exactly_without_escaping() -> None:
    raw, _ = _write([_video(title=HOSTILE, video_description="+1 -2 @3")], mode="none")
    (row,) = _read(raw)
    assert row["title"] == HOSTILE
    assert row["video_description"] == "+1 -2 @3"
    assert row["account_username"] == "=brand"


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "'quoted", "plain", ""])
def test_prefix_escaping_is_reversible(text: str) -> None:
    escaped = escape_formula(text, "prefix")
    assert not escaped.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert unescape_formula(escaped) == text
    assert escape_formula(text, "none") == text


def test_prefix_escaping_touches_text_cells_only() -> None:
    raw, _ = _write([_video(title="=cmd|' /C calc'!A0", view_count=-5, duration=-1)])
    (row,) = _read(raw)
    assert row["title"] == "'=cmd|' /C calc'!A0"
    assert unescape_formula(row["title"]) == "=cmd|' /C calc'!A0"
    assert row["view_count"] == "-5"
    assert row["duration"] == "-1"
    assert row["account_username"] == "'=brand"


def test_unknown_escaping_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="formula_escaping"):
        _write([], mode="strip")


def test_account_report_has_one_typed_row() -> None:
    buffer = io.StringIO(newline="")
    rows = write_account_report(buffer, {"follower_count": 10, "likes_count": "3"}, ACCOUNT)
    assert rows == 1
    (row,) = list(csv.DictReader(io.StringIO(buffer.getvalue(), newline="")))
    assert list(row) == list(ACCOUNT_COLUMNS)
    assert row["follower_count"] == "10"
    assert row["likes_count"] == "3"
    assert row["following_count"] == ""
    assert row["video_count"] == ""
    assert row["fetched_at"] == iso_utc(FETCHED)


def test_iso_utc_converts_offsets() -> None:
    from zoneinfo import ZoneInfo

    moment = datetime(2024, 6, 1, 4, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert iso_utc(moment) == "2024-06-01T02:00:00Z"
