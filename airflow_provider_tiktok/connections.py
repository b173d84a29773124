"""The connection contract: the TikTok app connection, account connections and Variable keys.

App connection (default ``tiktok_default``, conn type ``tiktok``): login = client key, password = client
secret, extra ``redirect_uri`` (absolute https), ``scopes``, optional ``api_base_url`` / ``auth_base_url``.

Account connection ``tiktok_account_<slug>`` (conn type ``tiktok``): extra holds ``app_conn_id``,
``open_id``, ``display_name``, ``username``, the token set (see
:class:`~airflow_provider_tiktok.models.TokenSet`) and ``linked_at`` / ``linked_by``. Written by the
plugin page (tasks cannot write connections).
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_tiktok.errors import TikTokConfigError
from airflow_provider_tiktok.models import (
    DEFAULT_API_BASE_URL,
    DEFAULT_AUTH_BASE_URL,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RATE_WINDOW,
    AccountInfo,
    AppConfig,
    TokenSet,
    parse_scopes,
    parse_utc,
)

CONN_TYPE = "tiktok"
DEFAULT_APP_CONN_ID = "tiktok_default"
ACCOUNT_CONN_PREFIX = "tiktok_account_"
DEFAULT_SCOPES: tuple[str, ...] = ("user.info.basic", "user.info.stats", "video.list")

REGISTRY_VARIABLE = "tiktok_accounts"
_MAX_REDIRECT_URI_LEN = 512
_MAX_SLUG_LEN = 60
#: TikTok's open_id alphabet: UUIDs today (``723f24d7-e717-40f8-a2b6-cb8464cd23b4``), older ids like
#: ``-000OBX2oClC2dFk0y5u3-YFpcVgMMgmw7PB``; letters, digits, ``-``, ``_`` and ``.`` (never first), at most
#: 128 characters. Nothing that could leave an S3 partition (``/``, ``..``) or break a key.
OPEN_ID_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$")


def is_valid_open_id(open_id: Any) -> bool:
    """True when ``open_id`` is a string in TikTok's id alphabet (safe in an S3 key and a file name)."""
    return isinstance(open_id, str) and bool(OPEN_ID_RE.match(open_id)) and ".." not in open_id


def check_open_id(open_id: Any, account: str) -> str:
    """Return ``open_id``, or raise :class:`TikTokConfigError` naming ``account`` when it is not a TikTok id.

    :param open_id: the value TikTok sent or the account connection holds.
    :param account: how to name the account in the message (label or connection id).
    """
    if not is_valid_open_id(open_id):
        raise TikTokConfigError(
            f"TikTok account {account}: open_id {str(open_id)[:80]!r} is not a TikTok id (letters, digits, "
            "'-', '_' and '.' only, at most 128 characters, no '..'), so it cannot go into an S3 key; "
            "nothing was written. Unlink the account and link it again."
        )
    return open_id


def rotation_variable_key(conn_id: str) -> str:
    """Variable holding the token set rotated by the refresh task (key contains ``token``: masked)."""
    return f"tiktok_token__{conn_id}"


def report_status_variable_key(conn_id: str) -> str:
    """Variable where the report task records its last run: report_date, rows, keys, written_at."""
    return f"tiktok_report__{conn_id}"


def refresh_failure_variable_key(conn_id: str) -> str:
    """Variable where the refresh task records the last refresh failure of an account (no secrets)."""
    return f"tiktok_refresh_failure__{conn_id}"


def refresh_unknown_variable_key(conn_id: str) -> str:
    """Variable recording a refresh grant whose answer was lost (when, and which token set it used)."""
    return f"tiktok_refresh_unknown__{conn_id}"


def connection_extra(conn: Any) -> dict[str, Any]:
    """Return a connection's extra as a dict, accepting the form's ``extra__tiktok__<name>`` keys too.

    :param conn: an ``airflow.sdk.Connection`` or ``airflow.models.Connection``.
    """
    raw = conn.extra
    if not raw:
        return {}
    try:
        extra = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except (ValueError, TypeError):
        extra = None
    if not isinstance(extra, dict):
        raise TikTokConfigError(
            f"Connection {conn.conn_id!r}: field 'extra' is not a valid JSON object; "
            "fix it in Admin > Connections."
        )
    prefix = f"extra__{CONN_TYPE}__"
    return {(k[len(prefix) :] if k.startswith(prefix) else k): v for k, v in extra.items()}


def is_account_connection(conn: Any) -> bool:
    """True when the connection is an account connection (its extra names ``app_conn_id``)."""
    return bool(connection_extra(conn).get("app_conn_id"))


def _require(conn_id: str, name: str, value: Any, fix: str) -> str:
    if value is None or not str(value).strip():
        raise TikTokConfigError(f"Connection {conn_id!r}: field {name!r} is missing or empty; {fix}.")
    return str(value).strip()


def validate_redirect_uri(conn_id: str, uri: str) -> str:
    """Check TikTok's redirect URI rules: absolute https, no query or fragment, under 512 characters."""
    parts = urlsplit(uri)
    problem = None
    if parts.scheme != "https" or not parts.netloc:
        problem = "must be an absolute https:// URL"
    elif parts.query or parts.fragment:
        problem = "must not have a query string or fragment"
    elif len(uri) >= _MAX_REDIRECT_URI_LEN:
        problem = "must be shorter than 512 characters"
    if problem:
        raise TikTokConfigError(
            f"Connection {conn_id!r}: field 'redirect_uri' ({uri!r}) {problem}; set it in the extra "
            "to the exact URI registered in the TikTok Developer Portal (e.g. https://host/users/auth/tiktok/callback)."
        )
    return uri


def _base_url(conn_id: str, name: str, value: Any, default: str) -> str:
    url = str(value or default).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TikTokConfigError(
            f"Connection {conn_id!r}: field {name!r} ({url!r}) must be an absolute http(s) URL; "
            f"remove it to use {default}."
        )
    return url


def app_config_from_connection(conn: Any) -> AppConfig:
    """Build the :class:`AppConfig` from an app connection, or raise naming the connection and field.

    :param conn: the app connection (Task SDK or ORM Connection).
    """
    conn_id = conn.conn_id
    extra = connection_extra(conn)
    fix = "set it in Admin > Connections (login = client key, password = client secret)"
    client_key = _require(conn_id, "login (client key)", conn.login, fix)
    client_secret = _require(conn_id, "password (client secret)", conn.password, fix)
    redirect_uri = _require(
        conn_id, "redirect_uri", extra.get("redirect_uri"), "add it to the extra (the registered https URI)"
    )
    scopes = parse_scopes(extra.get("scopes") or extra.get("scope") or ",".join(DEFAULT_SCOPES))
    return AppConfig(
        conn_id=conn_id,
        client_key=client_key,
        client_secret=client_secret,
        redirect_uri=validate_redirect_uri(conn_id, redirect_uri),
        scopes=scopes,
        api_base_url=_base_url(conn_id, "api_base_url", extra.get("api_base_url"), DEFAULT_API_BASE_URL),
        auth_base_url=_base_url(conn_id, "auth_base_url", extra.get("auth_base_url"), DEFAULT_AUTH_BASE_URL),
        rate_limit=int(_positive(conn_id, "rate_limit", extra.get("rate_limit"), DEFAULT_RATE_LIMIT)),
        rate_window=_positive(
            conn_id, "rate_window_seconds", extra.get("rate_window_seconds"), DEFAULT_RATE_WINDOW
        ),
    )


def _positive(conn_id: str, name: str, value: Any, default: float) -> float:
    """A positive number from the extra (JSON number), else ``default``; anything else names the field."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise TikTokConfigError(
            f"Connection {conn_id!r}: extra {name!r} must be a positive number, not {value!r}; fix or "
            f"remove it (default {default:g}: TikTok's documented 600 requests per 60 s per endpoint)."
        )
    return float(value)


def account_from_connection(conn: Any) -> tuple[AccountInfo, TokenSet]:
    """Read an account connection into its :class:`AccountInfo` and stored :class:`TokenSet`.

    :param conn: the account connection (Task SDK or ORM Connection).
    """
    conn_id = conn.conn_id
    extra = connection_extra(conn)
    fix = "relink the account on the TikTok accounts page"
    open_id = _require(conn_id, "open_id", extra.get("open_id"), fix)
    info = AccountInfo(
        conn_id=conn_id,
        app_conn_id=_require(conn_id, "app_conn_id", extra.get("app_conn_id"), fix),
        open_id=open_id,
        display_name=str(extra.get("display_name") or ""),
        username=extra.get("username") or None,
        linked_at=parse_utc(extra["linked_at"], source=f"Connection {conn_id!r}", name="linked_at")
        if extra.get("linked_at")
        else None,
        linked_by=extra.get("linked_by") or None,
    )
    tokens = TokenSet.from_dict({**extra, "open_id": open_id}, source=f"Connection {conn_id!r}")
    return info, tokens


def account_connection_extra(info: AccountInfo, tokens: TokenSet) -> dict[str, Any]:
    """The extra dict of an account connection (what the page writes on link / relink)."""
    return {
        "app_conn_id": info.app_conn_id,
        "open_id": info.open_id,
        "display_name": info.display_name,
        "username": info.username,
        "linked_at": info.linked_at.isoformat() if info.linked_at else None,
        "linked_by": info.linked_by,
        **tokens.to_dict(),
    }


def parse_registry(raw: str | None) -> list[str]:
    """Parse the registry Variable ``tiktok_accounts`` (JSON list of account connection ids), in order,
    without repeats. The one reader of the registry: the accounts page, the report's account selection
    and the refresh task all use it, so a registry that is not a JSON list of ids fails the same way
    everywhere, naming the Variable and what to do.

    :param raw: the Variable's text, or None when no account was ever linked.
    """
    if raw is None or not raw.strip():
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TikTokConfigError(
            "Variable 'tiktok_accounts' must be a JSON list of account connection ids "
            '(e.g. ["tiktok_account_brand"]); it is written by the TikTok accounts page — '
            "fix or delete it and relink the accounts."
        )
    return list(dict.fromkeys(value))


def _slugify(text: str) -> str:
    # Accents folded to ASCII first ("Lucía" -> "lucia"), so a display name gives a readable id.
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    return slug[:_MAX_SLUG_LEN].strip("_")


def account_conn_id_for(open_id: str, username: str | None, display_name: str | None, taken: set[str]) -> str:
    """Choose ``tiktok_account_<slug>`` for a new account, unique among ``taken`` connection ids.

    :param open_id: the account's open_id (used when no name gives a slug, and to break ties).
    :param username: TikTok username, preferred for the slug.
    :param display_name: display name, used when there is no username.
    :param taken: connection ids already used by *other* accounts.
    """
    slug = _slugify(username or "") or _slugify(display_name or "") or _slugify(open_id) or "account"
    candidate = f"{ACCOUNT_CONN_PREFIX}{slug}"
    if candidate not in taken:
        return candidate
    candidate = f"{candidate}_{_slugify(open_id)[:8]}".rstrip("_")
    n = 2
    unique = candidate
    while unique in taken:  # bounded: taken is finite
        unique = f"{candidate}_{n}"
        n += 1
    return unique


# Besides its own names, this module still exports those that moved to models.py (code written against
# it keeps working).
__all__ = [
    "ACCOUNT_CONN_PREFIX",
    "CONN_TYPE",
    "DEFAULT_API_BASE_URL",
    "DEFAULT_APP_CONN_ID",
    "DEFAULT_AUTH_BASE_URL",
    "DEFAULT_SCOPES",
    "OPEN_ID_RE",
    "REGISTRY_VARIABLE",
    "AccountInfo",
    "AppConfig",
    "account_conn_id_for",
    "account_connection_extra",
    "account_from_connection",
    "app_config_from_connection",
    "check_open_id",
    "connection_extra",
    "is_account_connection",
    "is_valid_open_id",
    "parse_registry",
    "parse_scopes",
    "refresh_failure_variable_key",
    "refresh_unknown_variable_key",
    "report_status_variable_key",
    "rotation_variable_key",
    "validate_redirect_uri",
]
