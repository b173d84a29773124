"""Typed errors of the TikTok provider.

Every message is meant for a person: it names the account or connection, says what happened
and what to do next. No message ever holds a token or a client secret.
"""

from __future__ import annotations

import textwrap

from airflow.exceptions import AirflowException

# The page's route inside the Airflow UI (the plugin's ``external_views`` ``url_route``): the UI serves
# it at ``<base_url>/plugin/<url_route>``, with Airflow's navigation around the page's iframe.
ACCOUNTS_UI_ROUTE = "tiktok-accounts"
ACCOUNTS_PAGE_PATH = f"/plugin/{ACCOUNTS_UI_ROUTE}"
DEFAULT_BASE_URL = "http://localhost:8080"


def accounts_page_url(base_url: str | None = None) -> str:
    """Return the URL of the accounts page inside the Airflow UI, where accounts are linked and relinked.

    :param base_url: the Airflow UI's base URL; ``[api] base_url`` when None (falls back to
        ``http://localhost:8080``).
    """
    base = base_url or ""
    if not base:
        try:
            from airflow.configuration import conf

            base = conf.get("api", "base_url", fallback="") or ""
        except Exception:  # noqa: S110 - a missing config must never hide the real error being reported
            pass
    return (base or DEFAULT_BASE_URL).rstrip("/") + ACCOUNTS_PAGE_PATH


class TikTokError(AirflowException):
    """Base class of every error raised by this provider; its message never holds a secret."""


class TikTokConfigError(TikTokError):
    """A connection or setting is missing or invalid; the message names the connection, field and fix."""


class TikTokRunConfigError(TikTokConfigError):
    """A report run's settings, params or accounts are invalid.

    Raised by code that does not know which DAG it serves: its message starts with what is wrong, and the
    task that does know names its DAG in front of it (:func:`config_message`).
    """


def config_message(exc: TikTokConfigError, dag_id: str) -> str:
    """The message a task of ``dag_id`` fails with for ``exc``: a run's error is prefixed with the DAG id.

    :param exc: the configuration error.
    :param dag_id: the DAG of the running task (e.g. ``tiktok_daily_report``).
    """
    return f"{dag_id}: {exc}" if isinstance(exc, TikTokRunConfigError) else str(exc)


class TikTokApiError(TikTokError):
    """TikTok answered with an error (HTTP status and/or ``error.code`` != ``ok``).

    :param message: human readable summary (no secrets).
    :param code: TikTok's error code (``error.code`` or the OAuth ``error``), or None.
    :param description: TikTok's error message / ``error_description``.
    :param log_id: TikTok's ``log_id`` (quote it to TikTok support).
    :param http_status: HTTP status of the response, None when there was no response.
    :param endpoint: API path, e.g. ``/v2/video/list/``.
    :param account: account label (``@username`` or display name) or connection id, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        description: str | None = None,
        log_id: str | None = None,
        http_status: int | None = None,
        endpoint: str | None = None,
        account: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.description = description
        self.log_id = log_id
        self.http_status = http_status
        self.endpoint = endpoint
        self.account = account


class TikTokAuthError(TikTokApiError):
    """Authorization failed for good (invalid_grant, access_token_invalid, scope_not_authorized, revoked).

    Never retried: the account must be relinked (message says where).
    """


class TikTokTransientError(TikTokApiError):
    """429 / 5xx / timeout / connection reset / malformed JSON that outlived every retry."""


class TikTokRefreshUnknownError(TikTokTransientError):
    """A refresh grant was sent but its answer never arrived (read timeout, reset, unreadable body).

    TikTok may have rotated the refresh token already, so the grant is never repeated blindly; the
    next attempt finds out (a working refresh, or ``invalid_grant``: the rotated token was lost).
    """


class TikTokTokenPersistError(TikTokError):
    """A rotated token set could not be saved; the account may need relinking if it is lost."""


def relink_hint(account: str) -> str:
    """Return the standard "what to do" sentence for an account that must be relinked.

    :param account: ``@username``, display name or connection id of the account.
    """
    return f"relink account {account} at {accounts_page_url()}"


# Airflow's log viewer shows long lines cut at its right edge: keep a failure's lines short.
FAILURE_LINE_WIDTH = 100
_FIX_MARK = " To fix: "


def fix_first(message: str, *, account: str, connection: str, relink: bool) -> str:
    """Lay a task failure out for Airflow's log viewer: what to do first, then why, on short lines.

    :param message: the error's one-line text (its own "To fix: …" sentence is replaced by the first line).
    :param account: ``@username``, display name or connection id of the account.
    :param connection: the account's Airflow connection id.
    :param relink: whether the fix is to relink the account on the accounts page.
    """
    lines = []
    if relink:
        lines += [
            f'Relink TikTok account {account}: press "Regenerate token" on the accounts page,',
            f"  {accounts_page_url()}",
        ]
    cause = failure_cause(message, account)
    lines += textwrap.wrap(
        f"Cause: {cause}",
        width=FAILURE_LINE_WIDTH,
        subsequent_indent="  ",
        break_long_words=False,
        break_on_hyphens=False,
    )
    lines.append(f"Connection: {connection}")
    return "\n".join(lines)


def failure_cause(message: str, account: str) -> str:
    """The cause part of a one-line error: without its "Relink … account:" lead and "To fix: …" tail."""
    cause = message.split(_FIX_MARK, 1)[0].strip()
    lead = f"Relink TikTok account {account}: "
    if cause.startswith(lead):
        cause = cause[len(lead) :]
    return cause[:1].upper() + cause[1:]
