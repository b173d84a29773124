"""When to remind someone to relink a TikTok account: thresholds, per-account state, the decision.

A reminder is due when an account's refresh token has fewer days left than a threshold (default 30, 7
and 1) or when the account is broken (TikTok refused its refresh or report token, or the refresh token
expired). Each condition is notified once: the Variable ``tiktok_reminder__<conn_id>`` records which were
sent, and a record is dropped as soon as its condition stops holding (a relink brings 180 days back and
fixes a broken account), so the next crossing is notified again. Keying on the condition rather than on
the exact expiry keeps one reminder per threshold even when each refresh moves the stored expiry by a
second.

When several conditions are new at once (an account first seen with 5 days left), one message goes out,
for the most urgent; the less urgent ones count as sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.connections import report_status_variable_key
from airflow_provider_tiktok.errors import TikTokConfigError, TikTokError, failure_cause
from airflow_provider_tiktok.report_status import parse_report_status

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from airflow_provider_tiktok.tokens import TokenStore

DEFAULT_THRESHOLDS: tuple[int, ...] = (30, 7, 1)
#: The state key of the "broken" condition (thresholds are keyed by their number of days).
BROKEN = "broken"


def reminder_state_variable_key(conn_id: str) -> str:
    """Variable recording which reminders of an account were sent (no secrets)."""
    return f"tiktok_reminder__{conn_id}"


def parse_thresholds(raw: str | Iterable[Any] | None) -> tuple[int, ...]:
    """Days-left thresholds from a setting (``"30,7,1"`` or a list), most distant first.

    :param raw: the configured value; None or empty gives :data:`DEFAULT_THRESHOLDS`.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return DEFAULT_THRESHOLDS
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    try:
        days = {int(str(item).strip()) for item in items if str(item).strip()}
    except ValueError:
        days = set()
    if not days or min(days) < 1:
        raise TikTokConfigError(
            f"[tiktok] reminder_days = {raw!r} is not a list of whole days >= 1 (e.g. 30,7,1); fix it in "
            "airflow.cfg or AIRFLOW__TIKTOK__REMINDER_DAYS on the workers."
        )
    return tuple(sorted(days, reverse=True))


@dataclass(frozen=True)
class AccountCondition:
    """What a reminder is about, for one account at one moment (no secrets).

    :param conn_id: the account connection id.
    :param label: how messages name the account (display name, else ``@username``, else the conn id).
    :param refresh_token_expires_at: when the account must be relinked by; None when unreadable.
    :param days_left: days until then (negative once expired); None when unreadable.
    :param broken: why the account is broken (a sentence for a person), None when it is not.
    """

    conn_id: str
    label: str
    refresh_token_expires_at: datetime | None
    days_left: float | None
    broken: str | None = None


@dataclass(frozen=True)
class Due:
    """A reminder to send: its condition and the state keys it settles once sent.

    :param condition: the account's condition.
    :param kind: :data:`BROKEN` or the threshold (days) crossed.
    :param settles: state keys recorded as sent when the message went out.
    """

    condition: AccountCondition
    kind: str | int
    settles: tuple[str, ...]


@dataclass
class ReminderState:
    """Which conditions of an account were notified: state key -> ``{"at": iso, "deadline": iso}``."""

    sent: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str | None) -> ReminderState:
        """Read the Variable's JSON; junk reads as "nothing sent" (at worst, one message again)."""
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {}
        sent = data.get("sent") if isinstance(data, dict) else None
        return cls(
            {str(k): v for k, v in sent.items() if isinstance(v, dict)} if isinstance(sent, dict) else {}
        )

    def dumps(self) -> str:
        """The Variable's JSON."""
        return json.dumps({"sent": self.sent}, sort_keys=True)


def holding(condition: AccountCondition, thresholds: Iterable[int]) -> set[str]:
    """The state keys whose condition holds now (broken, and every threshold the days left are under)."""
    keys = {BROKEN} if condition.broken else set()
    if condition.days_left is not None:
        keys |= {str(t) for t in thresholds if condition.days_left < t}
    return keys


def decide(
    condition: AccountCondition, state: ReminderState, thresholds: Iterable[int]
) -> tuple[ReminderState, Due | None]:
    """The account's state with conditions that stopped holding dropped, and the reminder due, if any.

    :param condition: the account now.
    :param state: what was sent before.
    :param thresholds: days-left thresholds.
    """
    thresholds = tuple(thresholds)
    now_holding = holding(condition, thresholds)
    kept = ReminderState({k: v for k, v in state.sent.items() if k in now_holding})
    new = now_holding - set(kept.sent)
    if not new:
        return kept, None
    if BROKEN in new:
        # Nothing is more urgent: the days-left reminders are moot until it is relinked.
        return kept, Due(condition, BROKEN, tuple(sorted(now_holding)))
    return kept, Due(condition, min(int(k) for k in new), tuple(sorted(new)))


def mark_sent(state: ReminderState, due: Due, *, at: datetime) -> ReminderState:
    """``state`` with the keys ``due`` settles recorded as sent at ``at``."""
    deadline = due.condition.refresh_token_expires_at
    entry = {"at": at.isoformat(), "deadline": deadline.isoformat() if deadline else None}
    return ReminderState({**state.sent, **dict.fromkeys(due.settles, entry)})


def read_condition(store: TokenStore, conn_id: str, now: datetime) -> AccountCondition:
    """The account's condition from what the refresh and report tasks recorded (never raises).

    :param store: where the account's tokens and records are read.
    :param conn_id: the account connection id.
    :param now: current UTC time.
    """
    try:
        info, tokens = store.load(conn_id)
        failure = store.refresh_failure(conn_id, tokens=tokens)
    except Exception as exc:  # an unreadable account needs a person as much as a broken one
        reason = str(exc) if isinstance(exc, TikTokError) else type(exc).__name__
        return AccountCondition(
            conn_id, conn_id, None, None, broken=f"its connection cannot be read ({reason})"
        )
    report = parse_report_status(store.backend.get_variable(report_status_variable_key(conn_id)))
    broken = None
    if failure is not None:
        # The recorded message ends with its own "To fix: relink …"; the reminder says what to do itself.
        cause = failure_cause(str(failure.get("message") or "refused"), info.label).rstrip(".")
        broken = f"TikTok refused to renew its access ({cause[:1].lower() + cause[1:]})"
    elif report.needs_relink_since(tokens.issued_at) and report.last_run is not None:
        broken = f"TikTok refused its token in the report of {report.last_run.report_date}"
    elif tokens.refresh_expired(now):
        broken = "its refresh token has expired"
    return AccountCondition(
        conn_id=conn_id,
        label=info.display_name or info.label,
        refresh_token_expires_at=tokens.refresh_token_expires_at,
        days_left=tokens.refresh_days_left(now),
        broken=broken,
    )
