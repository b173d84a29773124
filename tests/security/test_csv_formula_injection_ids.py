"""Attack: a formula in a cell the escaping skipped (``video_id``, ``account_open_id``).

Formula escaping once covered only titles, descriptions, links and names; an id starting with ``=``, ``+``,
``-`` or ``@`` reached the spreadsheet as a formula. Real open_ids do start with ``-`` (``-000OBX2o...``).
Every text cell is escaped now; integers stay integers.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone

from airflow_provider_tiktok.reports import (
    ReportAccount,
    report_cutoff,
    unescape_formula,
    write_account_report,
    write_video_report,
)

OPEN_ID = "-000OBX2oClC2dFk0y5u3-YFpcVgMMgmw7PB"
ACCOUNT = ReportAccount(
    report_date=date(2024, 6, 1),
    fetched_at=datetime(2024, 6, 2, 2, 0, 7, tzinfo=timezone.utc),
    open_id=OPEN_ID,
    username="brand",
    display_name="Brand",
)
VIDEO = {
    "id": '=HYPERLINK("http://evil.example","7300000000000000001")',
    "create_time": int(datetime(2024, 5, 30, tzinfo=timezone.utc).timestamp()),
    "title": "plain",
    "view_count": -5,
}


def _rows(write: object) -> list[dict[str, str]]:
    buffer = io.StringIO(newline="")
    write(buffer)  # type: ignore[operator]
    return list(csv.DictReader(io.StringIO(buffer.getvalue(), newline="")))


def test_video_id_and_open_id_are_escaped_in_both_files() -> None:
    cutoff = report_cutoff(date(2024, 6, 1), "UTC")
    (video,) = _rows(lambda f: write_video_report(f, [VIDEO], ACCOUNT, created_before=cutoff))
    (account,) = _rows(lambda f: write_account_report(f, {}, ACCOUNT))
    assert video["video_id"] == "'" + str(VIDEO["id"])
    assert video["account_open_id"] == "'" + OPEN_ID
    assert account["account_open_id"] == "'" + OPEN_ID
    assert unescape_formula(video["video_id"]) == VIDEO["id"]
    assert video["view_count"] == "-5"  # an integer is a number, not a formula
    # No cell of either file starts with a formula trigger any more.
    for row in (video, account):
        assert not [v for v in row.values() if v and v[0] in "=+-@\t\r" and not v.lstrip("-").isdigit()], row


def test_none_mode_still_writes_ids_exactly() -> None:
    cutoff = report_cutoff(date(2024, 6, 1), "UTC")
    rows = _rows(
        lambda f: write_video_report(f, [VIDEO], ACCOUNT, created_before=cutoff, formula_escaping="none")
    )
    assert rows[0]["video_id"] == VIDEO["id"]
    assert rows[0]["account_open_id"] == OPEN_ID
