"""When a relink reminder is due: one per account per threshold, one when broken, reset by a relink."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_tiktok.errors import TikTokConfigError
from airflow_provider_tiktok.reminders import (
    BROKEN,
    DEFAULT_THRESHOLDS,
    AccountCondition,
    ReminderState,
    decide,
    mark_sent,
    parse_thresholds,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def condition(days_left: float, broken: str | None = None) -> AccountCondition:
    return AccountCondition(
        conn_id="tiktok_account_brand",
        label="Brand",
        refresh_token_expires_at=NOW + timedelta(days=days_left),
        days_left=days_left,
        broken=broken,
    )


def walk(steps: list[AccountCondition]) -> list[str | int | None]:
    """Run the decision over successive checks, recording every reminder as sent; the kinds sent."""
    state, kinds = ReminderState(), []
    for step in steps:
        state, due = decide(step, state, DEFAULT_THRESHOLDS)
        kinds.append(due.kind if due else None)
        if due:
            state = ReminderState.parse(mark_sent(state, due, at=NOW).dumps())  # through the Variable's JSON
    return kinds


def test_each_threshold_and_breaking_are_notified_once() -> None:
    days = [100, 29.9, 29.5, 20, 6.9, 6.5, 0.9, 0.5]
    steps = [condition(d) for d in days] + [condition(-0.1, broken="expired")] * 2
    assert walk(steps) == [None, 30, None, None, 7, None, 1, None, BROKEN, None]


def test_an_account_first_seen_late_gets_one_message_for_the_tightest_threshold() -> None:
    state, due = decide(condition(5), ReminderState(), DEFAULT_THRESHOLDS)
    assert due is not None
    assert due.kind == 7
    assert due.settles == ("30", "7")
    state = mark_sent(state, due, at=NOW)
    assert decide(condition(4), state, DEFAULT_THRESHOLDS)[1] is None  # not the 30-day one afterwards


def test_a_relink_resets_every_reminder() -> None:
    # 7 days left (30 and 7 sent), relinked: 180 days again; months later the thresholds count again.
    assert walk([condition(6), condition(180), condition(29), condition(6)]) == [7, None, 30, 7]


def test_broken_is_notified_again_after_it_was_fixed_and_broke_again() -> None:
    steps = [condition(100, "revoked"), condition(100), condition(100, "revoked")]
    assert walk(steps) == [BROKEN, None, BROKEN]


def test_breaking_settles_the_days_left_reminders() -> None:
    # Broken at 20 days left: one message; fixed by a newer token at 20 days: no 30-day message after it.
    assert walk([condition(20, "refused"), condition(20)]) == [BROKEN, None]


def test_state_records_when_and_the_deadline_and_survives_junk() -> None:
    state, due = decide(condition(6.5), ReminderState(), DEFAULT_THRESHOLDS)
    assert due is not None
    sent = mark_sent(state, due, at=NOW).sent
    assert sent["7"] == {"at": NOW.isoformat(), "deadline": (NOW + timedelta(days=6.5)).isoformat()}
    for junk in (None, "", "not json", "[]", '{"sent": 3}'):
        assert ReminderState.parse(junk).sent == {}


def test_thresholds_come_from_the_setting_most_distant_first() -> None:
    assert parse_thresholds(None) == (30, 7, 1)
    assert parse_thresholds("") == (30, 7, 1)
    assert parse_thresholds("7, 14,3") == (14, 7, 3)
    assert walk_custom((14, 3), [20, 13, 2]) == [None, 14, 3]
    for bad in ("soon", "7,0", ","):
        with pytest.raises(TikTokConfigError, match=r"reminder_days.*AIRFLOW__TIKTOK__REMINDER_DAYS"):
            parse_thresholds(bad)


def walk_custom(thresholds: tuple[int, ...], days: list[float]) -> list[str | int | None]:
    state, kinds = ReminderState(), []
    for d in days:
        state, due = decide(condition(d), state, thresholds)
        kinds.append(due.kind if due else None)
        if due:
            state = mark_sent(state, due, at=NOW)
    return kinds
