"""Import accounts linked by the system being replaced: tokens in a JSON file -> account connections.

Run where the metadata DB is reachable (the scheduler or API server host, as for ``airflow connections``)::

    tiktok-import-accounts accounts.json [--app-conn-id tiktok_default] [--dry-run]

The file is a JSON list of accounts (or ``{"accounts": [...]}``), each with ``open_id``,
``access_token``, ``refresh_token``, ``scope`` and the expiries, as ISO-8601 times
(``access_token_expires_at``, ``refresh_token_expires_at``) or seconds from now (``expires_in``,
``refresh_expires_in``). Every account is checked with ``/v2/user/info/`` before anything is written
(the open_id must match); nothing is refreshed, so no token rotates. An account whose access token has
already expired is imported unchecked when its refresh token is still valid (the first task refreshes
it), and says so. Tokens never appear in the output.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.connections import DEFAULT_APP_CONN_ID
from airflow_provider_tiktok.errors import TikTokAuthError, TikTokError
from airflow_provider_tiktok.models import TokenSet, mask_tokens, parse_scopes, parse_utc, utcnow

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

_REQUIRED = ("open_id", "access_token", "refresh_token")


class ImportFileError(TikTokError):
    """The file, or one account in it, cannot be imported; the message names the entry and field."""


@dataclass(frozen=True)
class ImportResult:
    """What happened to one account of the file (no secrets).

    :param entry: position of the account in the file (1-based).
    :param open_id: the account's open_id.
    :param conn_id: the account connection written (None when nothing was written).
    :param status: ``imported``, ``imported-unchecked``, ``checked`` (dry run) or ``failed``.
    :param message: what was done or what went wrong, and what to do.
    """

    entry: int
    open_id: str
    conn_id: str | None
    status: str
    message: str


def read_accounts(path: Path) -> list[dict[str, Any]]:
    """The account entries of ``path``; raises :class:`ImportFileError` naming what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ImportFileError(f"{path}: cannot read a JSON document ({exc}).") from None
    entries = data.get("accounts") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ImportFileError(f'{path}: expected a JSON list of accounts or {{"accounts": [...]}}.')
    for entry in entries:
        mask_tokens(
            *(entry.get(k) for k in ("access_token", "refresh_token") if isinstance(entry.get(k), str))
        )
    return entries


def token_set_from_entry(entry: dict[str, Any], index: int, now: datetime) -> TokenSet:
    """Build the token set of one file entry (issued now: it becomes the account's newest set)."""
    where = f"account #{index}"
    for name in _REQUIRED:
        if not isinstance(entry.get(name), str) or not entry[name].strip():
            raise ImportFileError(f"{where}: field {name!r} is missing or not a string.")
    return TokenSet(
        open_id=entry["open_id"],
        scope=parse_scopes(entry.get("scope")),
        access_token=entry["access_token"],
        access_token_expires_at=_expiry(entry, where, "access_token_expires_at", "expires_in", now),
        refresh_token=entry["refresh_token"],
        refresh_token_expires_at=_expiry(entry, where, "refresh_token_expires_at", "refresh_expires_in", now),
        issued_at=now,
    )


def _expiry(entry: dict[str, Any], where: str, at_name: str, in_name: str, now: datetime) -> datetime:
    if entry.get(at_name):
        return parse_utc(entry[at_name], source=where, name=at_name)
    seconds = entry.get(in_name)
    if isinstance(seconds, int) and not isinstance(seconds, bool):
        return now + timedelta(seconds=seconds)
    raise ImportFileError(f"{where}: give {at_name!r} (ISO-8601) or {in_name!r} (seconds from now).")


def import_accounts(
    entries: list[dict[str, Any]],
    *,
    app_conn_id: str = DEFAULT_APP_CONN_ID,
    linked_by: str = "import",
    dry_run: bool = False,
    clock: Callable[[], datetime] = utcnow,
) -> list[ImportResult]:
    """Check every entry with TikTok, then write the ones that passed (unless ``dry_run``).

    :param entries: the file's accounts (see the module docstring).
    :param app_conn_id: the app connection the accounts were authorised for.
    :param linked_by: shown on the accounts page as who linked them.
    :param dry_run: check only, write nothing.
    :param clock: current UTC time.
    """
    results = []
    for index, entry in enumerate(entries, start=1):
        results.append(
            _import_one(
                entry, index, app_conn_id=app_conn_id, linked_by=linked_by, dry_run=dry_run, now=clock()
            )
        )
    return results


def _import_one(
    entry: dict[str, Any], index: int, *, app_conn_id: str, linked_by: str, dry_run: bool, now: datetime
) -> ImportResult:
    open_id = str(entry.get("open_id") or "?")
    try:
        tokens = token_set_from_entry(entry, index, now)
        profile, checked = _check(app_conn_id, tokens, now)
    except TikTokError as exc:
        return ImportResult(index, open_id, None, "failed", str(exc))
    if dry_run:
        return ImportResult(index, open_id, None, "checked", "checked with TikTok; nothing written (dry run)")
    from airflow_provider_tiktok.linking import store_account

    result = store_account(
        app_conn_id=app_conn_id, tokens=tokens, profile=profile, open_id=open_id, linked_by=linked_by
    )
    status = "imported" if checked else "imported-unchecked"
    note = "" if checked else " (its access token has expired: the first task refreshes it)"
    message = f"written as connection {result.account.conn_id}{note}"
    return ImportResult(index, open_id, result.account.conn_id, status, message)


def _check(app_conn_id: str, tokens: TokenSet, now: datetime) -> tuple[dict[str, Any], bool]:
    """user/info with the file's access token: (profile, True); (minimal profile, False) if it expired."""
    from airflow_provider_tiktok.hooks.tiktok import TikTokHook
    from airflow_provider_tiktok.storage import OrmBackend
    from airflow_provider_tiktok.tokens import TokenStore

    if tokens.refresh_expired(now):
        raise ImportFileError(
            f"account {tokens.open_id}: its refresh token expired on "
            f"{tokens.refresh_token_expires_at:%Y-%m-%d}; link it on the TikTok accounts page instead."
        )
    with TikTokHook(app_conn_id, token_store=TokenStore(backend=OrmBackend())) as hook:
        try:
            profile = hook.get_user_info(access_token=tokens.access_token, scopes=tokens.scope)
        except TikTokAuthError:
            if tokens.access_token_expires_at > now:
                raise
            return {"open_id": tokens.open_id}, False
    if str(profile.get("open_id")) != tokens.open_id:
        raise ImportFileError(
            f"account {tokens.open_id}: its access token belongs to open_id {profile.get('open_id')}; "
            "fix the file."
        )
    return profile, True


def main(argv: Sequence[str] | None = None) -> int:
    """``tiktok-import-accounts``: exit 0 when every account was imported (or checked), 1 otherwise."""
    parser = argparse.ArgumentParser(prog="tiktok-import-accounts", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="JSON file of accounts with their tokens and expiries")
    parser.add_argument("--app-conn-id", default=DEFAULT_APP_CONN_ID, help="the TikTok app connection")
    parser.add_argument("--linked-by", default="import", help="who to show as having linked the accounts")
    parser.add_argument("--dry-run", action="store_true", help="check with TikTok, write nothing")
    args = parser.parse_args(argv)
    try:
        entries = read_accounts(args.file)
    except ImportFileError as exc:
        print(exc, file=sys.stderr)
        return 2
    results = import_accounts(
        entries, app_conn_id=args.app_conn_id, linked_by=args.linked_by, dry_run=args.dry_run
    )
    for result in results:
        print(f"#{result.entry} {result.open_id}: {result.status} - {result.message}")
    return 0 if all(r.status != "failed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
