"""How a task failure is laid out for Airflow's log viewer: the fix first, then why, on short lines."""

from __future__ import annotations

from airflow_provider_tiktok.errors import FAILURE_LINE_WIDTH, fix_first, relink_hint

LONG_CAUSE = (
    "TikTok refused /v2/video/list/ for account @ana.lucia: access_token_invalid: The access token is "
    "invalid or not found in the request. (log_id 20261201090807A1B2C3D4E5F6A7B8C9D0)."
)


def test_relink_failure_leads_with_the_fix_and_keeps_lines_short() -> None:
    message = f"{LONG_CAUSE} To fix: {relink_hint('@ana.lucia')}."

    lines = fix_first(message, account="@ana.lucia", connection="tiktok_ana", relink=True).splitlines()

    assert lines[0] == 'Relink TikTok account @ana.lucia: press "Regenerate token" on the accounts page,'
    assert lines[1] == "  http://localhost:8080/plugin/tiktok-accounts"
    assert lines[2].startswith("Cause: TikTok refused /v2/video/list/")
    assert lines[-1] == "Connection: tiktok_ana"
    assert all(len(line) <= FAILURE_LINE_WIDTH for line in lines)
    text = "\n".join(lines)
    assert "To fix" not in text  # said once, first
    assert " ".join(part.strip() for part in lines[2:-1]) == f"Cause: {LONG_CAUSE}"  # nothing dropped


def test_the_relink_lead_of_a_message_is_not_repeated_as_its_cause() -> None:
    message = (
        "Relink TikTok account @bo: its refresh token is no longer valid (invalid_grant: revoked). "
        f"To fix: {relink_hint('@bo')}."
    )

    text = fix_first(message, account="@bo", connection="tiktok_bo", relink=True)

    assert text.count("Relink TikTok account @bo") == 1
    assert "Cause: Its refresh token is no longer valid (invalid_grant: revoked)." in text


def test_a_failure_that_is_not_a_relink_keeps_only_its_cause_and_connection() -> None:
    text = fix_first("TikTok /v2/video/list/ failed: 503.", account="@bo", connection="c", relink=False)

    assert text.splitlines() == ["Cause: TikTok /v2/video/list/ failed: 503.", "Connection: c"]
