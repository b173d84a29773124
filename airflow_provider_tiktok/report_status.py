"""What the report task recorded about an account, as the accounts page reads it.

The report task records into the Variable ``tiktok_report__<conn_id>`` (JSON)::

    {"report_date": "<last date written>", "newest_report_date": "<max date ever written>",
     "rows": 174, "keys": [...], "bucket": "...", "written_at": "<iso>",
     "last_run": {"report_date": "...", "at": "<iso>", "ok": false, "error": "...", "needs_relink": true}}

Records written before ``newest_report_date`` and ``last_run`` existed hold only ``report_date``,
``rows``, ``keys``, ``bucket`` and ``written_at``: there, the date written is the newest known, and the
last run is that write. Reading never fails: an unreadable record reads as "no report yet".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any


@dataclass(frozen=True)
class LastRun:
    """The last report run of an account, successful or not.

    :param report_date: the date that run reported (YYYY-MM-DD).
    :param at: when it finished (UTC), None when unknown.
    :param ok: True when its CSV landed.
    :param error: what went wrong (no secret), None when it succeeded.
    :param needs_relink: True when TikTok refused the account's token: only relinking fixes it.
    """

    report_date: str | None
    at: datetime | None
    ok: bool
    error: str | None = None
    needs_relink: bool = False


@dataclass(frozen=True)
class ReportStatus:
    """The report side of an account's row on the page.

    :param newest_report_date: the newest date ever written (what an operator asks first), or None.
    :param written_at: when the last CSV was written.
    :param rows: rows of the last CSV written.
    :param last_run: the last run, None when the account was never reported.
    """

    newest_report_date: str | None = None
    written_at: datetime | None = None
    rows: int | None = None
    last_run: LastRun | None = None

    @property
    def failed(self) -> bool:
        """True when the last run failed."""
        return self.last_run is not None and not self.last_run.ok

    def needs_relink_since(self, issued_at: datetime) -> bool:
        """True when the last run failed for want of a relink, after the tokens issued at ``issued_at``
        (a relink or refresh since then issued newer tokens, which may have fixed it)."""
        run = self.last_run
        return bool(run and not run.ok and run.needs_relink and (run.at is None or run.at > issued_at))


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _last_run(data: dict[str, Any], written_at: datetime | None) -> LastRun | None:
    run = data.get("last_run")
    if isinstance(run, dict):
        return LastRun(
            report_date=_text(run.get("report_date")),
            at=_when(run.get("at")),
            ok=bool(run.get("ok")),
            error=_text(run.get("error")),
            needs_relink=bool(run.get("needs_relink")),
        )
    if data.get("report_date"):  # an older record: its write is the last run known
        return LastRun(report_date=_text(data.get("report_date")), at=written_at, ok=True)
    return None


def parse_report_status(raw: str | None) -> ReportStatus:
    """Read the JSON of a ``tiktok_report__<conn_id>`` Variable (either shape; None or junk: no report).

    :param raw: the Variable's value, None when it does not exist.
    """
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        return ReportStatus()
    written_at = _when(data.get("written_at"))
    rows = data.get("rows")
    return ReportStatus(
        newest_report_date=_text(data.get("newest_report_date")) or _text(data.get("report_date")),
        written_at=written_at,
        rows=rows if isinstance(rows, int) else None,
        last_run=_last_run(data, written_at),
    )
