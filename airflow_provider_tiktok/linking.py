"""Linking, relinking and unlinking TikTok accounts: the domain logic behind the accounts page's buttons.

Runs where the metadata DB is reachable (the API server process, the CLI, ``make demo``), never in a
task: tasks cannot write connections. Writes go through the ORM in one transaction (account
connection, ``tiktok_accounts`` registry, rotation Variable), so a failed link leaves nothing half
written. What the page shows of each account is ``account_status``; the registry is ``registry``.

The errors a link can end with (:class:`WrongAccountError`, :class:`AlreadyLinkedError`,
:class:`UnsafeOpenIdError`) live here: only linking raises them, and the page that catches them calls it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from airflow_provider_tiktok.connections import (
    CONN_TYPE,
    account_conn_id_for,
    account_connection_extra,
    is_valid_open_id,
    refresh_failure_variable_key,
    rotation_variable_key,
)
from airflow_provider_tiktok.errors import TikTokError
from airflow_provider_tiktok.models import AccountInfo, TokenSet
from airflow_provider_tiktok.registry import find_account_connection, registry_add, registry_remove
from airflow_provider_tiktok.storage import OrmBackend, session_scope
from airflow_provider_tiktok.tokens import TokenStore

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from sqlalchemy.orm import Session

    from airflow_provider_tiktok.hooks.tiktok import TikTokHook

log = logging.getLogger(__name__)


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
        with session_scope(session) as db:
            existing = find_account_connection(db, open_id)
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
    with session_scope(session) as db:
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

    existing = find_account_connection(session, open_id)
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
    registry_add(session, conn_id)
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


def linked_conn_id(open_id: str, *, session: Session | None = None) -> str | None:
    """The account connection id of the TikTok user ``open_id`` when already linked, else None."""
    with session_scope(session) as db:
        conn = find_account_connection(db, open_id)
        return str(conn.conn_id) if conn is not None else None


def _new_conn_id(session: Session, open_id: str, profile: dict[str, Any]) -> str:
    from airflow.models.connection import Connection

    taken = set(session.scalars(select(Connection.conn_id)).all())
    return account_conn_id_for(open_id, profile.get("username"), profile.get("display_name"), taken)


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
    with session_scope(session) as db:
        conn = db.scalar(select(Connection).where(Connection.conn_id == conn_id))
        if conn is not None:
            db.delete(conn)
        registry_remove(db, conn_id)
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


__all__ = [
    "AlreadyLinkedError",
    "LinkResult",
    "UnsafeOpenIdError",
    "WrongAccountError",
    "link_account",
    "unlink_account",
]
