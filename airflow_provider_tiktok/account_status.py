"""The accounts page's status of each linked account: broken, expired, report failed, expiring or ok.

Read where the metadata DB is reachable (the API server), never written: :func:`list_accounts` combines
each account's effective token set, its last recorded refresh failure and what the report task recorded
into one :class:`AccountStatus` that says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select

from airflow_provider_tiktok.connections import report_status_variable_key
from airflow_provider_tiktok.errors import TikTokError
from airflow_provider_tiktok.models import DEFAULT_WARN_DAYS, AccountInfo, TokenSet, utcnow
from airflow_provider_tiktok.registry import account_conn_ids
from airflow_provider_tiktok.report_status import ReportStatus, parse_report_status
from airflow_provider_tiktok.storage import OrmBackend, session_scope
from airflow_provider_tiktok.tokens import TokenStore

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session

Status = Literal["broken", "expired", "report_failed", "expiring", "ok"]
_STATUS_ORDER: dict[str, int] = {"broken": 0, "expired": 1, "report_failed": 2, "expiring": 3, "ok": 4}


@dataclass(frozen=True)
class AccountStatus:
    """One row of the accounts page (no secrets).

    :param conn_id: account connection id.
    :param account: who the account is, None when its connection cannot be read.
    :param status: broken (a refresh or report was refused for want of a relink, or the account is
        unreadable), expired, report_failed (the last report failed otherwise), expiring (within warn
        days) or ok.
    :param detail: one sentence for the status, with what to do.
    :param scopes: granted scopes.
    :param access_token_expires_at: effective access-token expiry (rotation Variable or connection).
    :param refresh_token_expires_at: effective refresh-token expiry.
    :param refresh_days_left: days until the refresh token expires (negative once expired).
    :param refresh_expiry_assumed: True when TikTok sent no refresh lifetime and 180 days were assumed.
    :param report: what the report task recorded: the newest date written and the last run.
    """

    conn_id: str
    account: AccountInfo | None
    status: Status
    detail: str
    scopes: tuple[str, ...] = ()
    access_token_expires_at: datetime | None = None
    refresh_token_expires_at: datetime | None = None
    refresh_days_left: float | None = None
    refresh_expiry_assumed: bool = False
    report: ReportStatus = field(default_factory=ReportStatus)

    @property
    def needs_action(self) -> bool:
        """True when someone has to relink (or fix) the account."""
        return self.status != "ok"

    @property
    def last_run_todo(self) -> str | None:
        """What to do about a failed last report run, None when it succeeded (or there was none)."""
        run = self.report.last_run
        if run is None or run.ok:
            return None
        if run.needs_relink and self.status == "broken":
            return "Regenerate the token, then clear the failed report task to run it again."
        if run.needs_relink:
            return "The token was regenerated since: clear the failed report task to run it again."
        return "Clear the failed report task in Airflow to retry; the next daily run tries again too."

    @property
    def label(self) -> str:
        """How the page names the account."""
        return self.account.label if self.account else self.conn_id


def list_accounts(
    session: Session | None = None, *, now: datetime | None = None, warn_days: int = DEFAULT_WARN_DAYS
) -> list[AccountStatus]:
    """Return the status of every linked account, accounts needing action first.

    :param session: metadata DB session; None opens one.
    :param now: current UTC time (tests pin it).
    :param warn_days: an account whose refresh token expires within this many days is "expiring".
    """
    now = now or utcnow()
    with session_scope(session) as db:
        statuses = [_account_status(db, conn_id, now, warn_days) for conn_id in account_conn_ids(db)]
    return sorted(statuses, key=_sort_key)


def _sort_key(status: AccountStatus) -> tuple[int, float, str]:
    days = status.refresh_days_left if status.refresh_days_left is not None else float("-inf")
    return (_STATUS_ORDER[status.status], days, status.label.lower())


def _account_status(session: Session, conn_id: str, now: datetime, warn_days: int) -> AccountStatus:
    store = TokenStore(backend=OrmBackend())
    report = _report_status(session, conn_id)
    try:
        info, tokens = store.load(conn_id)
        failure = store.refresh_failure(conn_id, tokens=tokens)
    except Exception as exc:  # an unreadable account is shown as broken, never crashes the page
        return AccountStatus(
            conn_id=conn_id,
            account=None,
            status="broken",
            detail=f"Cannot read this account ({_safe_message(exc)}). Relink it or remove it.",
            report=report,
        )
    status, detail = _classify(
        info, tokens=tokens, failure=failure, report=report, now=now, warn_days=warn_days
    )
    return AccountStatus(
        conn_id=conn_id,
        account=info,
        status=status,
        detail=detail,
        scopes=tokens.scope,
        access_token_expires_at=tokens.access_token_expires_at,
        refresh_token_expires_at=tokens.refresh_token_expires_at,
        refresh_days_left=tokens.refresh_days_left(now),
        refresh_expiry_assumed=tokens.refresh_expiry_assumed,
        report=report,
    )


def _safe_message(exc: BaseException) -> str:
    # Our own errors are written to be shown; anything else is named by type only (it could echo data).
    return str(exc) if isinstance(exc, TikTokError) else type(exc).__name__


def _classify(
    info: AccountInfo,
    *,
    tokens: TokenSet,
    failure: dict[str, Any] | None,
    report: ReportStatus,
    now: datetime,
    warn_days: int,
) -> tuple[Status, str]:
    relink = f"Regenerate the token (log in to TikTok as {info.label})."
    if failure is not None:
        message = str(failure.get("message") or "TikTok rejected the refresh token")
        return "broken", f"Refresh rejected: {message}. {relink}"
    run = report.last_run
    if run is not None and report.needs_relink_since(tokens.issued_at):
        refused = run.error or "TikTok refused the token"
        return "broken", f"The report of {run.report_date} was refused: {refused}. {relink}"
    if tokens.refresh_expired(now):
        return (
            "expired",
            f"The refresh token expired. Regenerate the token (log in to TikTok as {info.label}).",
        )
    if run is not None and report.failed and not run.needs_relink:
        return (
            "report_failed",
            f"The report of {run.report_date} failed. Clear its failed report task in Airflow to retry; "
            "the next daily run also tries again.",
        )
    days = tokens.refresh_days_left(now)
    if days <= warn_days:
        return (
            "expiring",
            f"The refresh token expires in {max(days, 0):.0f} days. Regenerate the token before then.",
        )
    return "ok", "Tokens are refreshed automatically."


def _report_status(session: Session, conn_id: str) -> ReportStatus:
    from airflow.models.variable import Variable

    row = session.scalar(select(Variable).where(Variable.key == report_status_variable_key(conn_id)))
    try:
        raw = row.get_val() if row is not None else None
    except Exception:  # an undecryptable value reads as "no report yet", never crashes the page
        raw = None
    return parse_report_status(raw)


__all__ = ["AccountStatus", "Status", "list_accounts"]
