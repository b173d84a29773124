"""The CSV contract of the daily report and a streaming writer for it.

Two CSV files are written per account and report date:

``video_stats.csv`` (:data:`VIDEO_COLUMNS`), one row per public video created on or before the
report date, and ``account_stats.csv`` (:data:`ACCOUNT_COLUMNS`), one row with the account's
lifetime counters. Both files are UTF-8 (no BOM), always start with the header, quote as RFC 4180
says (``csv`` module, minimal quoting, ``\\r\\n`` line ends; newlines inside a value are kept inside
a quoted value), and keep the column order below whatever the API sends.

Values are typed: integer columns hold base-10 integers, timestamps are ISO-8601 UTC with a ``Z``
suffix (``2024-06-01T12:34:56Z``), dates are ``YYYY-MM-DD``. A field the API did not send is an
empty cell (never ``0``, never ``None``).

TikTok's counters are lifetime totals *at fetch time* (the API has no per-day numbers): every row
carries the ``report_date`` it stands for and the real ``fetched_at``, so a late (backfilled)
snapshot is honest about when it was taken.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import IO

log = logging.getLogger(__name__)

FormulaEscaping = Literal["prefix", "none"]
FORMULA_ESCAPING_MODES: tuple[str, ...] = ("prefix", "none")

#: Characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection"), plus the
#: escape character itself so that escaping can be undone without ambiguity.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "'")

#: Columns of ``video_stats.csv``, in file order. Never reorder; add new columns at the end only.
VIDEO_COLUMNS: tuple[str, ...] = (
    "report_date",
    "fetched_at",
    "account_open_id",
    "account_username",
    "account_display_name",
    "video_id",
    "create_time",
    "title",
    "video_description",
    "duration",
    "share_url",
    "view_count",
    "like_count",
    "comment_count",
    "share_count",
)

#: Columns of ``account_stats.csv``, in file order.
ACCOUNT_COLUMNS: tuple[str, ...] = (
    "report_date",
    "fetched_at",
    "account_open_id",
    "account_username",
    "account_display_name",
    "follower_count",
    "following_count",
    "likes_count",
    "video_count",
)

#: Human-readable meaning of every column (the README's table is generated from this).
COLUMN_DOCS: dict[str, str] = {
    "report_date": "Day the row stands for (YYYY-MM-DD, in the report timezone).",
    "fetched_at": "When the numbers were fetched from TikTok (ISO-8601 UTC, e.g. 2024-06-02T02:00:07Z).",
    "account_open_id": "TikTok open_id of the linked account (stable per app).",
    "account_username": "TikTok @username without '@' (empty unless the user.info.profile scope is granted).",
    "account_display_name": "Display name of the account at fetch time.",
    "video_id": "TikTok video id (text: it is longer than a spreadsheet's integer precision).",
    "create_time": "When the video was posted (ISO-8601 UTC).",
    "title": "Video title (up to 150 characters, any Unicode).",
    "video_description": "Video description (up to 150 characters, any Unicode).",
    "duration": "Video length in seconds (integer).",
    "share_url": "Public link to the video.",
    "view_count": "Lifetime views at fetched_at (integer).",
    "like_count": "Lifetime likes at fetched_at (integer).",
    "comment_count": "Lifetime comments at fetched_at (integer).",
    "share_count": "Lifetime shares at fetched_at (integer).",
    "follower_count": "Followers at fetched_at (integer; empty without the user.info.stats scope).",
    "following_count": "Accounts followed at fetched_at (integer; empty without user.info.stats).",
    "likes_count": "Likes received by all videos at fetched_at (integer; empty without user.info.stats).",
    "video_count": "Public videos at fetched_at (integer; empty without user.info.stats).",
}

#: Display API fields the video report asks for (``fields`` query parameter of /v2/video/list/).
VIDEO_FIELDS: tuple[str, ...] = (
    "id",
    "create_time",
    "title",
    "video_description",
    "duration",
    "share_url",
    "view_count",
    "like_count",
    "comment_count",
    "share_count",
)

#: user.info.stats fields copied into ``account_stats.csv``.
ACCOUNT_STAT_FIELDS: tuple[str, ...] = ("follower_count", "following_count", "likes_count", "video_count")

_VIDEO_INT_FIELDS = ("duration", "view_count", "like_count", "comment_count", "share_count")
_VIDEO_TEXT_FIELDS = ("title", "video_description", "share_url")
#: First Unix second that is not a time of the CSV contract (year 10000); TikTok started in 2016.
_END_OF_TIME = 253_402_300_800


class InvalidVideoError(ValueError):
    """A video object that cannot become a row (e.g. a ``create_time`` that is no point in time).

    :param video_id: the video's id as TikTok sent it (may be None).
    :param reason: what is wrong, for the warning.
    """

    def __init__(self, video_id: Any, reason: str) -> None:
        super().__init__(f"video {video_id!r}: {reason}")
        self.video_id = video_id
        self.reason = reason


@dataclass(frozen=True)
class ReportAccount:
    """Who a report is about and when it was fetched; repeated on every row.

    :param report_date: the day the report stands for.
    :param fetched_at: when the snapshot was taken (aware datetime; written in UTC).
    :param open_id: the account's TikTok open_id.
    :param username: the account's @username without ``@``, or None when not granted.
    :param display_name: the account's display name, or None.
    """

    report_date: date
    fetched_at: datetime
    open_id: str
    username: str | None
    display_name: str | None


def iso_utc(moment: datetime) -> str:
    """Format an aware datetime as ISO-8601 UTC with a ``Z`` suffix, to the second."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def report_date_for(logical_date: datetime, tz: str) -> date:
    """The report date of a DAG run: its logical date (start of its data interval) in ``tz``.

    :param logical_date: aware logical date of the run.
    :param tz: IANA timezone name of the report, e.g. ``UTC`` or ``Europe/Paris``.
    """
    return logical_date.astimezone(ZoneInfo(tz)).date()


def report_cutoff(report_date: date, tz: str) -> datetime:
    """First instant after ``report_date`` in ``tz`` (as UTC): videos created then or later are left out.

    :param report_date: the day the report stands for.
    :param tz: IANA timezone name of the report.
    """
    next_midnight = datetime.combine(report_date + timedelta(days=1), time.min, tzinfo=ZoneInfo(tz))
    return next_midnight.astimezone(timezone.utc)


def escape_formula(text: str, mode: FormulaEscaping) -> str:
    """Neutralise spreadsheet formulas in a text cell.

    With ``"prefix"`` a cell starting with ``= + - @``, tab, CR or ``'`` gets one leading ``'``
    (spreadsheets show the rest as plain text; :func:`unescape_formula` undoes it exactly).
    With ``"none"`` the text is written unchanged.

    :param text: the cell's text.
    :param mode: ``"prefix"`` or ``"none"``.
    """
    if mode == "prefix" and text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def unescape_formula(text: str) -> str:
    """Undo :func:`escape_formula` with ``"prefix"``: drop one leading ``'`` if the text has it."""
    return text[1:] if text.startswith("'") else text


def _as_int(value: Any, *, field: str) -> int | None:
    """Coerce an API integer (int or numeric string) to ``int``; None (empty cell) when missing or bad."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        log.warning("Field %s is not an integer (%r); leaving the cell empty.", field, value)
        return None


def _as_text(value: Any) -> str | None:
    """Text value of an API field; None when missing."""
    return None if value is None else str(value)


def _create_time(video: Mapping[str, Any]) -> datetime | None:
    """A video's ``create_time`` (Unix seconds) as an aware UTC datetime; None when missing or not a number.

    :raises InvalidVideoError: the number is no time a row can hold (before 1970 or after year 9999).
    """
    seconds = _as_int(video.get("create_time"), field="create_time")
    if seconds is None:
        return None
    if not 0 <= seconds < _END_OF_TIME:
        raise InvalidVideoError(video.get("id"), f"create_time {video.get('create_time')!r} is not a time")
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


class _CsvSink:
    """A ``csv`` writer with this report's dialect that counts data rows and escapes every text cell.

    Every ``str`` value is a text cell (ids, names, titles, links: whatever TikTok sent), so every one is
    formula-escaped; integers stay integers.

    :param fileobj: text file opened with ``newline=""`` and UTF-8 encoding.
    :param columns: header, in order.
    :param formula_escaping: ``"prefix"`` or ``"none"``.
    """

    def __init__(self, fileobj: IO[str], columns: tuple[str, ...], formula_escaping: FormulaEscaping) -> None:
        if formula_escaping not in FORMULA_ESCAPING_MODES:
            raise ValueError(
                f"formula_escaping must be one of {FORMULA_ESCAPING_MODES}, got {formula_escaping!r}"
            )
        self._writer = csv.writer(fileobj, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        self._columns = columns
        self._mode = formula_escaping
        self.rows = 0
        self._writer.writerow(columns)

    def write(self, record: Mapping[str, Any]) -> None:
        """Write one row; missing keys and None become empty cells."""
        self._writer.writerow([self._cell(record.get(name)) for name in self._columns])
        self.rows += 1

    def _cell(self, value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, str):
            return escape_formula(value, self._mode)
        return value


def _account_cells(account: ReportAccount) -> dict[str, Any]:
    """The columns every row repeats."""
    return {
        "report_date": account.report_date.isoformat(),
        "fetched_at": iso_utc(account.fetched_at),
        "account_open_id": account.open_id,
        "account_username": account.username,
        "account_display_name": account.display_name,
    }


def video_record(video: Mapping[str, Any], account: ReportAccount) -> dict[str, Any]:
    """Map one Display API video object to a ``video_stats.csv`` record (typed, unescaped).

    :param video: video object as returned by /v2/video/list/ (any field may be missing).
    :param account: the account and snapshot the row belongs to.
    """
    created = _create_time(video)
    record = _account_cells(account)
    record["video_id"] = _as_text(video.get("id"))
    record["create_time"] = iso_utc(created) if created else None
    for name in _VIDEO_TEXT_FIELDS:
        record[name] = _as_text(video.get(name))
    for name in _VIDEO_INT_FIELDS:
        record[name] = _as_int(video.get(name), field=name)
    return record


def write_video_report(
    fileobj: IO[str],
    videos: Iterable[Mapping[str, Any]],
    account: ReportAccount,
    *,
    created_before: datetime,
    formula_escaping: FormulaEscaping = "prefix",
    on_row: Callable[[int], None] | None = None,
    on_skip: Callable[[InvalidVideoError], None] | None = None,
) -> int:
    """Stream ``videos`` into ``fileobj`` as ``video_stats.csv``; return the number of data rows.

    Memory stays constant: each video is written as soon as it arrives. Videos created at or after
    ``created_before`` are left out; a video without ``create_time`` is kept (its age is unknown). A
    video whose ``create_time`` is no time at all (e.g. ``10**20``) is skipped with a warning and reported
    to ``on_skip``: one bad row never fails the account's report.

    :param fileobj: text file opened with ``newline=""`` and ``encoding="utf-8"``.
    :param videos: video objects, e.g. ``TikTokHook.iter_videos()``.
    :param account: the account and snapshot every row carries.
    :param created_before: exclusive upper bound on ``create_time`` (see :func:`report_cutoff`).
    :param formula_escaping: ``"prefix"`` (default) or ``"none"``, see :func:`escape_formula`.
    :param on_row: called with the running row count after each row (progress logging).
    :param on_skip: called with the reason for each skipped video (counting).
    """
    sink = _CsvSink(fileobj, VIDEO_COLUMNS, formula_escaping)
    for video in videos:
        try:
            created = _create_time(video)
        except InvalidVideoError as exc:
            log.warning("Skipping %s; the row is left out and counted as skipped.", exc)
            if on_skip is not None:
                on_skip(exc)
            continue
        if created is not None and created >= created_before:
            continue
        sink.write(video_record(video, account))
        if on_row is not None:
            on_row(sink.rows)
    return sink.rows


def write_account_report(
    fileobj: IO[str],
    user: Mapping[str, Any],
    account: ReportAccount,
    *,
    formula_escaping: FormulaEscaping = "prefix",
) -> int:
    """Write ``account_stats.csv`` (header + one row) from a /v2/user/info/ ``user`` object.

    :param fileobj: text file opened with ``newline=""`` and ``encoding="utf-8"``.
    :param user: ``data.user`` of /v2/user/info/; stats fields may be missing (scope not granted).
    :param account: the account and snapshot the row carries.
    :param formula_escaping: ``"prefix"`` (default) or ``"none"``.
    """
    sink = _CsvSink(fileobj, ACCOUNT_COLUMNS, formula_escaping)
    record = _account_cells(account)
    for name in ACCOUNT_STAT_FIELDS:
        record[name] = _as_int(user.get(name), field=name)
    sink.write(record)
    return sink.rows
