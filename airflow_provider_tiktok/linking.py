"""Linking, relinking, unlinking and listing TikTok accounts: the domain logic behind the accounts page.

Runs where the metadata DB is reachable (the API server process, the CLI, ``make demo``), never in a
task: tasks cannot write connections. Writes go through the ORM in one transaction (account
connection, ``tiktok_accounts`` registry, rotation Variable), so a failed link leaves nothing half
written.
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select

from airflow_provider_tiktok.connections import (
    ACCOUNT_CONN_PREFIX,
    CONN_TYPE,
    REGISTRY_VARIABLE,
    account_conn_id_for,
    account_connection_extra,
    connection_extra,
    is_account_connection,
    is_valid_open_id,
    parse_registry,
    refresh_failure_variable_key,
    report_status_variable_key,
    rotation_variable_key,
)
from airflow_provider_tiktok.errors import TikTokConfigError, TikTokError
from airflow_provider_tiktok.models import DEFAULT_WARN_DAYS, AccountInfo, TokenSet, utcnow
from airflow_provider_tiktok.report_status import ReportStatus, parse_report_status
from airflow_provider_tiktok.storage import OrmBackend
from airflow_provider_tiktok.tokens import TokenStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from datetime import datetime

    from sqlalchemy.orm import Session

    from airflow_provider_tiktok.hooks.tiktok import TikTokHook

log = logging.getLogger(__name__)

Status = Literal["broken", "expired", "report_failed", "expiring", "ok"]
_STATUS_ORDER: dict[str, int] = {"broken": 0, "expired": 1, "report_failed": 2, "expiring": 3, "ok": 4}


class WrongAccountError(TikTokError):
    """A relink was consented by a different TikTok user than the account being relinked.

    :param expected: label of the account being relinked.
    :param expected_open_id: its open_id.
    :param got: label of the TikTok user who consented.
    :param got_open_id: their open_id.
    """

    def __init__(self, *, expected: str, expected_open_id: str, got: str, got_open_id: str) -> None:
        super().__init__(
            f"TikTok user {got} consented, but account {expected} was being relinked; nothing was changed. "
            f"Log in to TikTok as {expected} (sign out of {got} first) and click Regenerate token again."
        )
        self.expected = expected
        self.expected_open_id = expected_open_id
        self.got = got
        self.got_open_id = got_open_id


class AlreadyLinkedError(TikTokError):
    """The plain Link flow was consented by a TikTok user who is already linked, and the Airflow user may
    not edit that account's connection: overwriting its tokens is a relink, which needs edit permission.

    :param conn_id: the existing account connection.
    :param label: how to name the account.
    """

    def __init__(self, *, conn_id: str, label: str) -> None:
        super().__init__(
            f"TikTok account {label} is already linked (connection {conn_id}); nothing was changed. "
            "Regenerating its token needs the permission to edit that connection: ask an Airflow admin, "
            "or someone who may edit connections, to click Regenerate token on its row."
        )
        self.conn_id = conn_id
        self.label = label


class UnsafeOpenIdError(TikTokError):
    """TikTok sent an open_id outside its id alphabet (it would go into S3 keys); nothing is stored.

    :param label: how to name the consenting TikTok user.
    :param open_id: the value TikTok sent (shortened in the message).
    """

    def __init__(self, *, label: str, open_id: str) -> None:
        super().__init__(
            f"TikTok sent the open_id {open_id[:80]!r} for {label}, which is not a TikTok id (letters, "
            "digits, '-', '_' and '.' only, no '/' or '..'); it would be used in S3 keys, so the account "
            "was not linked. Try again later; if it "
            "persists, report it to TikTok with the time of the attempt."
        )
        self.label = label
        self.open_id = open_id


@dataclass(frozen=True)
class LinkResult:
    """What a successful link or relink wrote (no secrets).

    :param account: the account as stored in its connection.
    :param created: True when a new account connection was created, False when an existing one was updated.
    :param scopes: scopes the user granted.
    :param access_token_expires_at: expiry of the new access token (UTC).
    :param refresh_token_expires_at: expiry of the new refresh token (UTC): relink before it.
    """

    account: AccountInfo
    created: bool
    scopes: tuple[str, ...]
    access_token_expires_at: datetime
    refresh_token_expires_at: datetime


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


@contextmanager
def _session_scope(session: Session | None) -> Iterator[Session]:
    """Use the caller's session (they commit) or open one that commits on success."""
    if session is not None:
        yield session
        return
    from airflow.utils.session import create_session

    with create_session() as new_session:
        yield new_session


def _hook(conn_id: str) -> TikTokHook:
    from airflow_provider_tiktok.hooks.tiktok import TikTokHook

    return TikTokHook(conn_id, token_store=TokenStore(backend=OrmBackend()))


def link_account(
    *,
    app_conn_id: str,
    code: str,
    code_verifier: str,
    redirect_uri: str,
    linked_by: str,
    expected_open_id: str | None = None,
    expected_label: str | None = None,
    may_overwrite: Callable[[str], bool] | None = None,
    session: Session | None = None,
) -> LinkResult:
    """Exchange an authorization code and store the account (link, or relink when it exists).

    :param app_conn_id: app connection the authorization used.
    :param code: the ``code`` TikTok sent to the callback.
    :param code_verifier: PKCE verifier of the flow.
    :param redirect_uri: redirect URI of the authorization (sent again in the token request).
    :param linked_by: Airflow user who linked the account (shown on the page).
    :param expected_open_id: for "Regenerate token": the open_id the consenting user must have.
    :param expected_label: how to name the expected account in the error when another user consented.
    :param may_overwrite: for a plain link (no ``expected_open_id``): asked with the existing connection id
        when the consenting user is already linked; False refuses to overwrite it. None allows it.
    :param session: metadata DB session; None opens one and commits.
    :raises WrongAccountError: another TikTok user consented; nothing is written.
    :raises AlreadyLinkedError: the user is already linked and ``may_overwrite`` said no; nothing is written.
    :raises UnsafeOpenIdError: TikTok's open_id is not a TikTok id; nothing is written.
    :raises airflow_provider_tiktok.errors.TikTokApiError: TikTok refused the code or the profile
        request (the error carries log_id).
    """
    hook = _hook(app_conn_id)
    tokens = hook.exchange_code(code, code_verifier=code_verifier, redirect_uri=redirect_uri)
    try:
        profile = checked_profile(hook.get_user_info(access_token=tokens.access_token, scopes=tokens.scope))
        open_id = str(profile.get("open_id") or tokens.open_id)
        if not is_valid_open_id(open_id):
            raise UnsafeOpenIdError(label=_profile_label(profile, "a TikTok user"), open_id=open_id)
        if expected_open_id and open_id != expected_open_id:
            raise WrongAccountError(
                expected=expected_label or expected_open_id,
                expected_open_id=expected_open_id,
                got=_profile_label(profile, open_id),
                got_open_id=open_id,
            )
        with _session_scope(session) as db:
            existing = _find_account_connection(db, open_id)
            refused = (
                existing is not None
                and not expected_open_id
                and may_overwrite is not None
                and not may_overwrite(existing.conn_id)
            )
            if refused:
                assert existing is not None
                raise AlreadyLinkedError(conn_id=existing.conn_id, label=_profile_label(profile, open_id))
            return _store_account(
                db,
                app_conn_id=app_conn_id,
                tokens=tokens,
                profile=profile,
                open_id=open_id,
                linked_by=linked_by,
            )
    except BaseException:
        # Nothing was stored: the tokens just issued must not stay alive at TikTok.
        hook.revoke_quietly(tokens.access_token)
        raise


def store_account(
    *,
    app_conn_id: str,
    tokens: TokenSet,
    profile: dict[str, Any],
    open_id: str,
    linked_by: str,
    session: Session | None = None,
) -> LinkResult:
    """Write an account whose tokens were obtained elsewhere (e.g. imported): connection and registry.

    :param app_conn_id: the app connection the tokens were issued for.
    :param tokens: the account's token set.
    :param profile: ``/v2/user/info/`` fields (``display_name``, ``username``) used to name it.
    :param open_id: the account's open_id.
    :param linked_by: who to show as having linked it.
    :param session: metadata DB session; None opens one and commits.
    """
    if not is_valid_open_id(open_id):
        raise UnsafeOpenIdError(label=_profile_label(profile, "a TikTok user"), open_id=open_id)
    with _session_scope(session) as db:
        return _store_account(
            db, app_conn_id=app_conn_id, tokens=tokens, profile=profile, open_id=open_id, linked_by=linked_by
        )


#: ``/v2/user/info/`` fields the page stores or shows, with the longest value accepted.
_PROFILE_TEXT_FIELDS = {"open_id": 256, "union_id": 256, "display_name": 512, "username": 256}


def checked_profile(user: dict[str, Any]) -> dict[str, Any]:
    """``user`` with its text fields checked: strings of sane length, or absent (TikTok's values are data).

    :raises TikTokApiError: a field has another type or is absurdly long.
    """
    from airflow_provider_tiktok.errors import TikTokApiError

    for name, longest in _PROFILE_TEXT_FIELDS.items():
        value = user.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > longest):
            raise TikTokApiError(
                f"TikTok /v2/user/info/ returned an unusable {name!r} ({type(value).__name__}); "
                "the account was not linked and its new token was revoked. Try linking again later.",
                endpoint="/v2/user/info/",
            )
    return user


def _profile_label(profile: dict[str, Any], open_id: str) -> str:
    if profile.get("username"):
        return f"@{profile['username']}"
    return str(profile.get("display_name") or open_id)


def _store_account(
    session: Session,
    *,
    app_conn_id: str,
    tokens: TokenSet,
    profile: dict[str, Any],
    open_id: str,
    linked_by: str,
) -> LinkResult:
    """Write the account connection, registry and rotation Variable for one consented user."""
    from airflow.models.connection import Connection

    existing = _find_account_connection(session, open_id)
    conn_id = existing.conn_id if existing is not None else _new_conn_id(session, open_id, profile)
    info = AccountInfo(
        conn_id=conn_id,
        app_conn_id=app_conn_id,
        open_id=open_id,
        display_name=str(profile.get("display_name") or ""),
        username=profile.get("username") or None,
        linked_at=tokens.issued_at,
        linked_by=linked_by,
    )
    conn = existing or Connection(conn_id=conn_id, conn_type=CONN_TYPE)
    conn.description = f"TikTok account {info.label}, linked on the TikTok accounts page by {linked_by}."
    conn.set_extra(json.dumps(account_connection_extra(info, tokens)))
    if existing is None:
        session.add(conn)
    _registry_add(session, conn_id)
    _delete_variables(session, rotation_variable_key(conn_id), refresh_failure_variable_key(conn_id))
    session.flush()
    log.info("Linked TikTok account %s as connection %s (by %s)", info.label, conn_id, linked_by)
    return LinkResult(
        account=info,
        created=existing is None,
        scopes=tokens.scope,
        access_token_expires_at=tokens.access_token_expires_at,
        refresh_token_expires_at=tokens.refresh_token_expires_at,
    )


def _account_connections(session: Session) -> list[Any]:
    from airflow.models.connection import Connection

    rows = session.scalars(select(Connection).where(Connection.conn_type == CONN_TYPE)).all()
    return [row for row in rows if _readable_account(row)]


def _readable_account(conn: Any) -> bool:
    try:
        return is_account_connection(conn)
    except TikTokConfigError:
        return conn.conn_id.startswith(ACCOUNT_CONN_PREFIX)


def linked_conn_id(open_id: str, *, session: Session | None = None) -> str | None:
    """The account connection id of the TikTok user ``open_id`` when already linked, else None."""
    with _session_scope(session) as db:
        conn = _find_account_connection(db, open_id)
        return str(conn.conn_id) if conn is not None else None


def _find_account_connection(session: Session, open_id: str) -> Any | None:
    for conn in _account_connections(session):
        try:
            if connection_extra(conn).get("open_id") == open_id:
                return conn
        except TikTokConfigError:
            continue
    return None


def _new_conn_id(session: Session, open_id: str, profile: dict[str, Any]) -> str:
    from airflow.models.connection import Connection

    taken = set(session.scalars(select(Connection.conn_id)).all())
    return account_conn_id_for(open_id, profile.get("username"), profile.get("display_name"), taken)


def _registry(session: Session) -> list[str]:
    from airflow.models.variable import Variable

    row = session.scalar(select(Variable).where(Variable.key == REGISTRY_VARIABLE))
    return parse_registry(row.get_val()) if row is not None else []


def _write_registry(session: Session, conn_ids: list[str]) -> None:
    from airflow.models.variable import Variable

    Variable.set(
        REGISTRY_VARIABLE,
        json.dumps(sorted(set(conn_ids))),
        description="TikTok account connections linked on the TikTok accounts page (managed by the page).",
        session=session,
    )


def _registry_add(session: Session, conn_id: str) -> None:
    ids = _registry(session)
    if conn_id not in ids:
        _write_registry(session, [*ids, conn_id])


def _delete_variables(session: Session, *keys: str) -> None:
    from airflow.models.variable import Variable

    for key in keys:
        Variable.delete(key, session=session)


def unlink_account(conn_id: str, *, session: Session | None = None) -> str | None:
    """Revoke the account's token at TikTok, then delete its connection, registry entry and Variables.

    The account's CSV files in S3 stay. A failed revoke does not stop the unlink (the user may already
    have removed the app in TikTok); its message is returned so the page can show it.

    :param conn_id: account connection id.
    :param session: metadata DB session; None opens one and commits.
    :return: None when TikTok confirmed the revoke, else why it could not be revoked.
    """
    from airflow.models.connection import Connection

    revoke_problem = _revoke(conn_id)
    with _session_scope(session) as db:
        conn = db.scalar(select(Connection).where(Connection.conn_id == conn_id))
        if conn is not None:
            db.delete(conn)
        ids = _registry(db)
        if conn_id in ids:
            _write_registry(db, [i for i in ids if i != conn_id])
        _delete_variables(db, rotation_variable_key(conn_id), refresh_failure_variable_key(conn_id))
        db.flush()
    log.info("Unlinked TikTok account connection %s", conn_id)
    return revoke_problem


def _revoke(conn_id: str) -> str | None:
    try:
        info, tokens = TokenStore(backend=OrmBackend()).load(conn_id)
        _hook(info.app_conn_id).revoke(tokens.access_token)
    except (TikTokError, ValueError) as exc:
        # str(exc), not exc: the log masker redacts text, not exception objects.
        log.warning("Could not revoke the TikTok token of %s: %s", conn_id, str(exc))
        return str(exc)
    except Exception as exc:  # the connection may be gone or unreadable: unlinking must still work
        log.warning("Could not revoke the TikTok token of %s: %s", conn_id, type(exc).__name__)
        return f"{type(exc).__name__} while revoking"
    return None


def account_conn_ids(session: Session) -> list[str]:
    """Every account connection id: the registry plus account connections missing from it."""
    ids = dict.fromkeys(_registry(session))
    ids.update(dict.fromkeys(c.conn_id for c in _account_connections(session)))
    return list(ids)


def list_accounts(
    session: Session | None = None, *, now: datetime | None = None, warn_days: int = DEFAULT_WARN_DAYS
) -> list[AccountStatus]:
    """Return the status of every linked account, accounts needing action first.

    :param session: metadata DB session; None opens one.
    :param now: current UTC time (tests pin it).
    :param warn_days: an account whose refresh token expires within this many days is "expiring".
    """
    now = now or utcnow()
    with _session_scope(session) as db:
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


__all__ = [
    "AccountStatus",
    "AlreadyLinkedError",
    "LinkResult",
    "UnsafeOpenIdError",
    "WrongAccountError",
    "link_account",
    "list_accounts",
    "unlink_account",
]
