"""Fixtures of the reminder tests: a real SMTP server on loopback and linked accounts with chosen expiries."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from tests.reminders.smtp_sink import SmtpSink

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

SMTP_NOTIFIER = "airflow.providers.smtp.notifications.smtp.SmtpNotifier"
#: The deployment's notifier kwargs, as the runbook shows them (placeholders filled per reminder).
SMTP_KWARGS = {
    "smtp_conn_id": "smtp_reminders",
    "to": "data-team@example.com",
    "from_email": "airflow@example.com",
    "subject": "{subject}",
    "html_content": "{html}",
}


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def smtp_notifier(smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> SmtpSink:
    """Configure the SMTP notifier (deployment settings, environment) towards ``smtp``."""
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_REMINDERS", smtp.connection_uri())
    monkeypatch.setenv("AIRFLOW__TIKTOK__REMINDER_NOTIFIER", SMTP_NOTIFIER)
    monkeypatch.setenv("AIRFLOW__TIKTOK__REMINDER_NOTIFIER_KWARGS", json.dumps(SMTP_KWARGS))
    return smtp


@pytest.fixture
def link(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    """``link(slug, days_left, display_name=...)``: an account connection (env) in the registry; its id.

    Its tokens are ``access-<slug>-SECRET`` and ``refresh-<slug>-SECRET`` (to look for in messages).
    """
    from airflow.models import Variable

    from airflow_provider_tiktok.connections import AccountInfo
    from airflow_provider_tiktok.testing.connections import account_connection
    from airflow_provider_tiktok.tokens import TokenSet, utcnow

    linked: list[str] = []

    def make(slug: str, days_left: float, *, display_name: str = "Brand") -> str:
        now = utcnow()
        conn_id = f"tiktok_account_{slug}"
        info = AccountInfo(conn_id, "tiktok_default", f"open-{slug}", display_name, slug, now, "test")
        tokens = TokenSet(
            open_id=f"open-{slug}",
            scope=("user.info.basic", "video.list"),
            access_token=f"access-{slug}-SECRET",
            access_token_expires_at=now + timedelta(hours=2),
            refresh_token=f"refresh-{slug}-SECRET",
            refresh_token_expires_at=now + timedelta(days=days_left),
            issued_at=now,
        )
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(account_connection(info, tokens)))
        linked.append(conn_id)
        Variable.set("tiktok_accounts", json.dumps(linked))
        return conn_id

    yield make
    for key in ["tiktok_accounts"] + [f"tiktok_reminder__{c}" for c in linked]:
        Variable.delete(key)
