"""What a reminder says, and how the deployment's notifier kwargs are filled (no Jinja, no secrets)."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow_provider_tiktok.reminder_delivery import fill, placeholder_words
from airflow_provider_tiktok.reminder_message import build_message
from airflow_provider_tiktok.reminders import BROKEN, AccountCondition, Due

PAGE = "https://airflow.example.com/plugin/tiktok-accounts"
EXPIRY = datetime(2026, 12, 8, 14, 5, tzinfo=timezone.utc)


def due(kind: str | int, broken: str | None = None, label: str = "Brand") -> Due:
    condition = AccountCondition("tiktok_account_brand", label, EXPIRY, 6.5, broken=broken)
    return Due(condition, kind, (str(kind),))


def test_a_threshold_reminder_names_account_deadline_page_and_what_to_do() -> None:
    message = build_message(due(7), page_url=PAGE, thresholds=(30, 7, 1))
    assert message.subject == (
        "TikTok account Brand (connection tiktok_account_brand): relink within 7 day(s), "
        "by 2026-12-08 14:05 UTC"
    )
    assert "must be relinked by 2026-12-08 14:05 UTC (6.5 days left)" in message.text
    assert f'open {PAGE}, find Brand and press "Regenerate token"' in message.text
    assert f'<a href="{PAGE}">{PAGE}</a>' in message.html
    assert "30, 7, 1 days left" in message.text


def test_a_broken_reminder_says_why_and_to_relink_now() -> None:
    message = build_message(
        due(BROKEN, broken="TikTok refused to renew its access"), page_url=PAGE, thresholds=(30,)
    )
    assert (
        message.subject == "TikTok account Brand (connection tiktok_account_brand) is broken: relink it now"
    )
    assert "can no longer be reported: TikTok refused to renew its access." in message.text
    assert "Regenerate token" in message.text


def test_placeholders_are_filled_as_data_and_other_braces_stay() -> None:
    hostile = due(1, label="{{ 7 * 7 }} {subject}\nBcc: x@example.com")
    message = build_message(hostile, page_url=PAGE, thresholds=(1,))
    words = placeholder_words(hostile, message, PAGE)
    kwargs = {"subject": "{subject}", "to": ["{conn_id}@example.com"], "blocks": {"t": "{text} {other}"}}
    filled = fill(kwargs, words)
    assert filled["subject"] == message.subject
    assert "\n" not in filled["subject"]
    assert "{{ 7 * 7 }} {subject} Bcc: x@example.com" in filled["subject"]  # inserted once, not re-expanded
    assert filled["to"] == ["tiktok_account_brand@example.com"]
    assert filled["blocks"]["t"] == f"{message.text} {{other}}"
