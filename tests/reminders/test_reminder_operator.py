"""The reminder task in-process, delivering through Airflow's SmtpNotifier to a real SMTP server on loopback.

The same task under a real scheduler, with the emulator's clock moved across every threshold, is in
``test_reminders_scheduler.py``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_tiktok.airflow_compat import AirflowFailException
from airflow_provider_tiktok.operators.reminders import TikTokRelinkReminderOperator

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.reminders.smtp_sink import SmtpSink


def run_task() -> dict[str, Any]:
    return TikTokRelinkReminderOperator(task_id="relink_reminders").execute({})


def state(conn_id: str) -> dict[str, Any]:
    from airflow.models import Variable

    return json.loads(Variable.get(f"tiktok_reminder__{conn_id}", default_var=None) or "{}")


def test_one_email_per_due_account_naming_account_deadline_page_and_what_to_do(
    smtp_notifier: SmtpSink, link: Callable[..., str]
) -> None:
    soon = link("brand", 6.5, display_name="Brand Studio")
    link("fresh", 170)
    assert run_task() == {"sent": {soon: 7}, "not_sent": {}}
    (mail,) = smtp_notifier.wait_for(1)
    assert mail.rcpt_tos == ("data-team@example.com",)
    assert mail.subject.startswith(f"TikTok account Brand Studio (connection {soon}): relink within 7 day(s)")
    assert "Brand Studio" in mail.body
    assert state(soon)["sent"]["7"]["deadline"][:10] in mail.body  # the UTC deadline
    assert "http://localhost:8080/plugin/tiktok-accounts" in mail.body
    assert "Regenerate token" in mail.body
    assert b"SECRET" not in mail.raw

    assert run_task() == {"sent": {}, "not_sent": {}}  # the same threshold again: no second message
    assert len(smtp_notifier.received) == 1


def test_account_names_are_data_never_templates_or_headers(
    smtp_notifier: SmtpSink, link: Callable[..., str]
) -> None:
    link("hostile", 0.5, display_name="{{ 7 * 7 }} <b>x</b>\r\nBcc: victim@example.com")
    run_task()
    (mail,) = smtp_notifier.wait_for(1)
    assert mail.rcpt_tos == ("data-team@example.com",)  # no header injected
    assert "{{ 7 * 7 }}" in mail.subject
    assert "49" not in mail.subject
    assert "&lt;b&gt;x&lt;/b&gt;" in mail.body
    assert "<b>x</b>" not in mail.body


def test_a_failing_notifier_loses_nothing_and_the_next_run_sends(
    smtp_notifier: SmtpSink, link: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    conn_id = link("brand", 20)
    smtp_notifier.refuse = True
    result = run_task()
    assert result["sent"] == {}
    assert list(result["not_sent"]) == [conn_id]
    logged = capsys.readouterr().out
    assert f"Relink reminder for Brand ({conn_id}) NOT sent (SMTPDataError: (554" in logged
    assert "tried again on the next run" in logged
    assert state(conn_id) == {}  # not recorded as sent

    smtp_notifier.refuse = False
    assert run_task()["sent"] == {conn_id: 30}
    assert len(smtp_notifier.wait_for(1)) == 1


def test_without_a_notifier_the_reminder_is_logged_and_not_recorded(
    link: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    conn_id = link("brand", 3)
    assert list(run_task()["not_sent"]) == [conn_id]
    logged = capsys.readouterr().out
    assert "no notifier is configured" in logged
    assert "Regenerate token" in logged
    assert "SECRET" not in logged
    assert state(conn_id) == {}


def test_a_notifier_setting_that_cannot_work_fails_the_task_saying_what_to_fix(
    link: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    link("brand", 3)
    monkeypatch.setenv("AIRFLOW__TIKTOK__REMINDER_NOTIFIER", "airflow.providers.nowhere.Notifier")
    with pytest.raises(AirflowFailException, match=r"cannot be imported.*AIRFLOW__TIKTOK__REMINDER_NOTIFIER"):
        run_task()
    monkeypatch.setenv(
        "AIRFLOW__TIKTOK__REMINDER_NOTIFIER", "airflow.providers.smtp.notifications.smtp.SmtpNotifier"
    )
    monkeypatch.setenv("AIRFLOW__TIKTOK__REMINDER_NOTIFIER_KWARGS", "to=me")
    with pytest.raises(AirflowFailException, match="reminder_notifier_kwargs is not a JSON object"):
        run_task()


def test_a_registry_that_is_not_a_list_of_ids_fails_the_task_like_every_other_reader(
    link: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    link("brand", 3)
    monkeypatch.setenv("AIRFLOW_VAR_TIKTOK_ACCOUNTS", '{"brand": "tiktok_account_brand"}')
    with pytest.raises(
        AirflowFailException, match="'tiktok_accounts' must be a JSON list of account connection"
    ):
        run_task()


def test_broken_accounts_are_told_once_whatever_broke_them(
    smtp_notifier: SmtpSink, link: Callable[..., str]
) -> None:
    from airflow.models import Variable

    from airflow_provider_tiktok.tokens import TokenStore

    refused = link("refused", 150, display_name="Refused")
    reported = link("reported", 150, display_name="Reported")
    Variable.set("tiktok_accounts", json.dumps([refused, reported, "tiktok_account_gone"]))
    TokenStore().record_refresh_failure(
        refused,
        "Relink TikTok account @refused: its refresh token is no longer valid (invalid_grant: revoked). "
        "To fix: relink account @refused at http://localhost:8080/plugin/tiktok-accounts.",
    )
    status = {
        "last_run": {
            "report_date": "2026-11-30",
            "at": "2099-01-01T00:00:00+00:00",
            "ok": False,
            "needs_relink": True,
            "error": "access_token_invalid",
        }
    }
    Variable.set(f"tiktok_report__{reported}", json.dumps(status))
    try:
        assert run_task()["sent"] == {refused: "broken", reported: "broken", "tiktok_account_gone": "broken"}
        mails = {m.subject.split("(connection ")[1].split(")")[0]: m for m in smtp_notifier.wait_for(3)}
        assert (
            "renew its access (its refresh token is no longer valid (invalid_grant: revoked))"
            in mails[refused].body
        )
        assert "To fix" not in mails[refused].body  # the reminder's own "What to do" says it, once
        assert "refused its token in the report of 2026-11-30" in mails[reported].body
        assert "connection cannot be read" in mails["tiktok_account_gone"].body
        assert run_task()["sent"] == {}  # still broken: no second message
    finally:
        for key in (
            f"tiktok_refresh_failure__{refused}",
            f"tiktok_report__{reported}",
            "tiktok_reminder__tiktok_account_gone",
        ):
            Variable.delete(key)
