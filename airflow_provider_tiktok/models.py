"""The provider's value types: token sets, accounts, the app, refresh outcomes, and their lifetime rules.

The bottom of the package: it imports nothing of the rest but :mod:`airflow_provider_tiktok.errors`, so
connections, storage, hooks and operators can all build and read these types without a circle. Nothing
here reads or writes storage; :mod:`airflow_provider_tiktok.tokens` does that.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.errors import TikTokConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_tiktok.xcom import RefreshSummary

DEFAULT_API_BASE_URL = "https://open.tiktokapis.com"
DEFAULT_AUTH_BASE_URL = "https://www.tiktok.com"
#: TikTok's documented Display API limit: 600 requests per minute per endpoint (TIKTOK_API.md section 4).
DEFAULT_RATE_LIMIT = 600
DEFAULT_RATE_WINDOW = 60.0

# TikTok's current docs (2026-11): refresh tokens live 180 days. Used only when a response omits
# refresh_expires_in; TikTok's own figure always wins.
ASSUMED_REFRESH_LIFETIME = timedelta(days=180)
#: The refresh task renews an access token that expires within this time (TikTok's live 2 hours), so the
#: report tasks that follow it start with at least this much.
DEFAULT_REFRESH_MARGIN = timedelta(minutes=30)
#: A report task renews its access token at start when it expires within this time.
REPORT_MIN_VALIDITY = timedelta(minutes=5)
#: Longest lifetime accepted from TikTok (ten years): larger values are garbage, not a token.
_MAX_LIFETIME_SECONDS = 10 * 365 * 86400
#: issued_at of a hand-written connection that has neither issued_at nor linked_at: any set wins over it.
OLDEST_ISSUED_AT = datetime(1970, 1, 1, tzinfo=timezone.utc)
DEFAULT_WARN_DAYS = 30


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def parse_utc(value: Any, *, source: str, name: str) -> datetime:
    """Parse an ISO-8601 timestamp (naive means UTC) or raise naming where it came from.

    :param value: the stored value.
    :param source: where it was read, e.g. ``Connection 'tiktok_account_x'``.
    :param name: the field name.
    """
    try:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        raise TikTokConfigError(
            f"{source}: field {name!r} is not an ISO-8601 timestamp; "
            "relink the account on the TikTok accounts page."
        ) from None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def mask_tokens(*secrets: str | None) -> None:
    """Register secrets with Airflow's maskers before any use: the Task SDK's (task log, supervisor log,
    exceptions) and airflow-core's, which filters the API server's, scheduler's and CLI's logging (it is a
    separate instance); a worker without airflow-core has only the first."""
    from airflow.sdk.log import mask_secret

    maskers: list[Callable[[str], None]] = [mask_secret]
    try:
        from airflow._shared.secrets_masker import mask_secret as mask_core_secret
    except ImportError:  # a Task SDK-only worker: no core logging to protect
        pass
    else:
        maskers.append(mask_core_secret)
    for secret in secrets:
        if secret:
            for mask in maskers:
                mask(secret)


def parse_scopes(value: Any) -> tuple[str, ...]:
    """Parse scopes given as a comma/space separated string or a list, keeping order, dropping blanks."""
    items = value if isinstance(value, list | tuple) else re.split(r"[,\s]+", str(value or ""))
    seen: dict[str, None] = {}
    for item in items:
        if str(item).strip():
            seen.setdefault(str(item).strip(), None)
    return tuple(seen)


@dataclass(frozen=True)
class AppConfig:
    """The TikTok app (Developer Portal client) as configured in the app connection.

    :param conn_id: id of the app connection.
    :param client_key: TikTok client key (connection login).
    :param client_secret: TikTok client secret (connection password); never printed.
    :param redirect_uri: registered https redirect URI of this environment.
    :param scopes: scopes requested at authorization.
    :param api_base_url: base URL of the token and Display API endpoints.
    :param auth_base_url: base URL of the browser authorize page.
    :param rate_limit: the app's Display API limit per endpoint: requests per window.
    :param rate_window: that window, seconds.
    """

    conn_id: str
    client_key: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    scopes: tuple[str, ...]
    api_base_url: str = DEFAULT_API_BASE_URL
    auth_base_url: str = DEFAULT_AUTH_BASE_URL
    rate_limit: int = DEFAULT_RATE_LIMIT
    rate_window: float = DEFAULT_RATE_WINDOW


@dataclass(frozen=True)
class AccountInfo:
    """Who a linked account is (no secrets).

    :param conn_id: id of the account connection (``tiktok_account_<slug>``).
    :param app_conn_id: id of the app connection the account was linked through.
    :param open_id: TikTok open_id of the user for this app.
    :param display_name: TikTok display name.
    :param username: TikTok username when the ``user.info.profile`` scope was granted, else None.
    :param linked_at: when the account was (re)linked, UTC.
    :param linked_by: Airflow user who linked it.
    :param label: how messages name the account; computed (``@username`` or display name) when empty.
    """

    conn_id: str
    app_conn_id: str
    open_id: str
    display_name: str = ""
    username: str | None = None
    linked_at: datetime | None = None
    linked_by: str | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            label = f"@{self.username}" if self.username else (self.display_name or self.conn_id)
            object.__setattr__(self, "label", label)


@dataclass(frozen=True)
class TokenSet:
    """One account's tokens and their lifetimes (tokens never appear in ``repr``).

    :param open_id: the TikTok user the tokens belong to.
    :param scope: scopes the user granted.
    :param access_token: bearer token of the Display API.
    :param access_token_expires_at: when the access token expires (UTC).
    :param refresh_token: token of the refresh grant (rotates).
    :param refresh_token_expires_at: when the refresh token expires (UTC); the account must be relinked then.
    :param issued_at: when TikTok issued this set; the newest set wins.
    :param refresh_expiry_assumed: True when TikTok did not send ``refresh_expires_in`` and we assumed
        180 days from linking.
    """

    open_id: str
    scope: tuple[str, ...]
    access_token: str = field(repr=False)
    access_token_expires_at: datetime
    refresh_token: str = field(repr=False)
    refresh_token_expires_at: datetime
    issued_at: datetime
    refresh_expiry_assumed: bool = False

    @classmethod
    def from_token_response(
        cls, resp: dict[str, Any], *, now: datetime, linked_at: datetime | None
    ) -> TokenSet:
        """Build a set from TikTok's token response (code or refresh grant) and mask the tokens.

        :param resp: the JSON body of ``/v2/oauth/token/``.
        :param now: when the response arrived (lifetimes count from here).
        :param linked_at: when the account was linked; the assumed refresh expiry counts from it
            (``now`` when None) if the response has no ``refresh_expires_in``.
        """
        mask_tokens(*(v for v in (resp.get("access_token"), resp.get("refresh_token")) if isinstance(v, str)))
        access_token = _token_field(resp, "access_token")
        refresh_token = _token_field(resp, "refresh_token")
        open_id = _token_field(resp, "open_id")
        expires_in = _seconds_field(resp, "expires_in")
        assumed = resp.get("refresh_expires_in") in (None, "", 0)
        refresh_expires = (
            (linked_at or now) + ASSUMED_REFRESH_LIFETIME
            if assumed
            else now + timedelta(seconds=_seconds_field(resp, "refresh_expires_in"))
        )
        return cls(
            open_id=open_id,
            scope=parse_scopes(resp.get("scope") if isinstance(resp.get("scope"), str | list) else ""),
            access_token=access_token,
            access_token_expires_at=now + timedelta(seconds=expires_in),
            refresh_token=refresh_token,
            refresh_token_expires_at=refresh_expires,
            issued_at=now,
            refresh_expiry_assumed=assumed,
        )

    def needs_refresh(self, now: datetime, margin: timedelta = DEFAULT_REFRESH_MARGIN) -> bool:
        """True when the access token expires within ``margin`` of ``now``."""
        return self.access_token_expires_at - now <= margin

    def refresh_expired(self, now: datetime) -> bool:
        """True when the refresh token has expired per our data (it must not even be sent)."""
        return self.refresh_token_expires_at <= now

    def refresh_days_left(self, now: datetime) -> float:
        """Days until the refresh token expires (negative once expired)."""
        return (self.refresh_token_expires_at - now).total_seconds() / 86400

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (ISO-8601 UTC timestamps, scope as a comma separated string)."""
        data = asdict(self)
        data["scope"] = ",".join(self.scope)
        for key in ("access_token_expires_at", "refresh_token_expires_at", "issued_at"):
            data[key] = getattr(self, key).isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "token set") -> TokenSet:
        """Inverse of :meth:`to_dict`; raises :class:`TikTokConfigError` naming ``source`` and the field.

        :param data: the stored dict (account connection extra or rotation Variable).
        :param source: where it was read, for the error message.
        """
        for name in ("open_id", "access_token", "refresh_token"):
            if not data.get(name):
                raise TikTokConfigError(
                    f"{source}: field {name!r} is missing; relink the account on the TikTok accounts page."
                )
        mask_tokens(data["access_token"], data["refresh_token"])

        def when(name: str) -> datetime:
            return parse_utc(data.get(name), source=source, name=name)

        return cls(
            open_id=str(data["open_id"]),
            scope=parse_scopes(data.get("scope")),
            access_token=str(data["access_token"]),
            access_token_expires_at=when("access_token_expires_at"),
            refresh_token=str(data["refresh_token"]),
            refresh_token_expires_at=when("refresh_token_expires_at"),
            issued_at=_issued_at(data, source),
            refresh_expiry_assumed=bool(data.get("refresh_expiry_assumed", False)),
        )


@dataclass(frozen=True)
class RefreshOutcome:
    """What ``refresh_if_needed`` did for one account (no secrets; safe for XCom and logs).

    :param conn_id: account connection id.
    :param account: account label (``@username`` or display name).
    :param refreshed: True when a refresh grant was made and the rotated set saved.
    :param access_token_expires_at: access token expiry after the call.
    :param refresh_token_expires_at: refresh token expiry after the call.
    :param refresh_days_left: days left before the account must be relinked.
    :param refresh_expiry_assumed: True when the refresh expiry is assumed (180 days from linking).
    :param warning: the relink warning, when fewer than ``warn_days`` are left.
    """

    conn_id: str
    account: str
    refreshed: bool
    access_token_expires_at: datetime
    refresh_token_expires_at: datetime
    refresh_days_left: float
    refresh_expiry_assumed: bool
    warning: str | None = None

    def to_summary(self) -> RefreshSummary:
        """JSON-ready dict for XCom."""
        return {
            "conn_id": self.conn_id,
            "account": self.account,
            "refreshed": self.refreshed,
            "access_token_expires_at": self.access_token_expires_at.isoformat(),
            "refresh_token_expires_at": self.refresh_token_expires_at.isoformat(),
            "refresh_days_left": round(self.refresh_days_left, 2),
            "refresh_expiry_assumed": self.refresh_expiry_assumed,
            "warning": self.warning,
        }


def _token_field(resp: dict[str, Any], name: str) -> str:
    """A non-empty string field of a token response (TikTok's values are never trusted blindly)."""
    value = resp.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > 4096:
        raise ValueError(f"field {name!r} is missing or not a token string")
    return value


def _seconds_field(resp: dict[str, Any], name: str) -> int:
    """A positive lifetime in seconds, at most ten years."""
    value = resp.get(name)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"field {name!r} is not a number of seconds")
    try:
        seconds = int(value)
    except ValueError:
        raise ValueError(f"field {name!r} is not a number of seconds") from None
    if not 0 < seconds <= _MAX_LIFETIME_SECONDS:
        raise ValueError(f"field {name!r} is {seconds}, outside 1..{_MAX_LIFETIME_SECONDS} seconds")
    return seconds


def _issued_at(data: dict[str, Any], source: str) -> datetime:
    """``issued_at`` if stored, else ``linked_at``, else the oldest time (hand-written connections)."""
    for name in ("issued_at", "linked_at"):
        if data.get(name):
            return parse_utc(data[name], source=source, name=name)
    return OLDEST_ISSUED_AT


def with_refresh_expiry(tokens: TokenSet, previous: TokenSet) -> TokenSet:
    """Keep the previous refresh expiry when a refresh response had to assume one.

    When TikTok omits ``refresh_expires_in`` we never extend the refresh lifetime beyond what we already
    believed: the assumption stays "180 days from linking".
    """
    if not tokens.refresh_expiry_assumed:
        return tokens
    return replace(
        tokens,
        refresh_token_expires_at=min(tokens.refresh_token_expires_at, previous.refresh_token_expires_at),
    )
