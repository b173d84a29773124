"""What a relink reminder says: the account, the deadline, the page and what to do (never a token).

Account names come from TikTok (data): they are stripped of control characters for the subject line
(no header injection) and HTML-escaped in the HTML body.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_tiktok.reminders import BROKEN

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from airflow_provider_tiktok.reminders import Due

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_MAX_NAME = 80
#: A broken account's reason is a whole sentence of ours (e.g. TikTok's refusal): longer than a name.
_MAX_REASON = 400


@dataclass(frozen=True)
class ReminderMessage:
    """One reminder, in the forms notifiers take.

    :param subject: one line (e-mail subject, chat headline).
    :param text: plain text body.
    :param html: HTML body (the same words, names escaped).
    """

    subject: str
    text: str
    html: str


def one_line(name: str, limit: int = _MAX_NAME) -> str:
    """``name`` without control characters or line breaks, at most ``limit`` characters."""
    flat = " ".join(_CONTROL.sub(" ", name).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def utc_text(moment: datetime | None) -> str:
    """``2026-12-08 14:00 UTC`` (``unknown`` when None)."""
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment is not None else "unknown"


def build_message(due: Due, *, page_url: str, thresholds: Iterable[int]) -> ReminderMessage:
    """The message of a due reminder.

    :param due: what is due (:func:`~airflow_provider_tiktok.reminders.decide`).
    :param page_url: the accounts page inside the Airflow UI.
    :param thresholds: the configured days-left thresholds (named in the footer).
    """
    c = due.condition
    name = f"{one_line(c.label)} (connection {c.conn_id})"
    deadline = utc_text(c.refresh_token_expires_at)
    if due.kind == BROKEN:
        reason = one_line(c.broken or "broken", _MAX_REASON)
        subject = f"TikTok account {name} is broken: relink it now"
        lead = (
            f"The TikTok account {name} can no longer be reported: {reason}. "
            f"Its daily reports fail until it is relinked (its refresh token was valid until {deadline})."
        )
    else:
        left = max(c.days_left or 0.0, 0.0)
        subject = f"TikTok account {name}: relink within {due.kind} day(s), by {deadline}"
        lead = (
            f"The TikTok account {name} must be relinked by {deadline} ({left:.1f} days left): its "
            "refresh token expires then, and Airflow can no longer fetch its reports after that."
        )
    todo = (
        f'What to do: open {page_url}, find {one_line(c.label)} and press "Regenerate token", then log in '
        f"to TikTok as {one_line(c.label)}."
    )
    days = ", ".join(str(t) for t in thresholds)
    footer = f"Airflow sends one reminder at {days} days left and one if the account breaks."
    return ReminderMessage(
        subject=subject,
        text="\n\n".join((lead, todo, footer)) + "\n",
        html="".join(f"<p>{_html_paragraph(p, page_url)}</p>" for p in (lead, todo, footer)),
    )


def _html_paragraph(text: str, page_url: str) -> str:
    escaped, url = html.escape(text), html.escape(page_url)
    return escaped.replace(url, f'<a href="{url}">{url}</a>')
