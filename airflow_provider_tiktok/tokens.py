"""Token sets and where they live.

Rules (see README "Token rules"):

* The account connection holds the token set written at link / relink time (by the plugin page).
* A refresh done in a task stores the rotated set in the Variable ``tiktok_token__<conn_id>``
  (tasks cannot write connections). Readers use the newer (``issued_at``) of the two.
* Relinking overwrites the connection (newer ``issued_at``) and deletes the Variable.
* Only the refresh task writes; it saves a rotated set immediately, before anything else.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_tiktok.connections import (
    ACCOUNT_CONN_PREFIX,
    AccountInfo,
    account_from_connection,
    parse_scopes,
    refresh_failure_variable_key,
    rotation_variable_key,
)
from airflow_provider_tiktok.errors import TikTokConfigError, TikTokTokenPersistError, accounts_page_url

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

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

    def to_summary(self) -> dict[str, Any]:
        """JSON-ready dict for XCom."""
        data = asdict(self)
        data["access_token_expires_at"] = self.access_token_expires_at.isoformat()
        data["refresh_token_expires_at"] = self.refresh_token_expires_at.isoformat()
        data["refresh_days_left"] = round(self.refresh_days_left, 2)
        return data


class StorageBackend(Protocol):
    """Where connections and Variables are read and written (Task SDK in tasks, ORM elsewhere)."""

    def get_connection(self, conn_id: str) -> Any:
        """Return the connection or raise ``AirflowNotFoundException``."""

    def get_variable(self, key: str) -> str | None:
        """Return the Variable's raw value, None when it does not exist (never from a stale cache)."""

    def set_variable(self, key: str, value: str) -> None:
        """Create or overwrite the Variable."""

    def delete_variable(self, key: str) -> None:
        """Delete the Variable if it exists."""


def in_task_context() -> bool:
    """True inside a Task SDK task runner (only there may the SDK write Variables)."""
    import sys

    runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    return getattr(runner, "SUPERVISOR_COMMS", None) is not None


class SdkBackend:
    """Task SDK storage: ``BaseHook.get_connection`` and ``airflow.sdk.Variable`` (through the API server)."""

    def get_connection(self, conn_id: str) -> Any:
        """Read the connection through the Task SDK (no metadata DB needed)."""
        from airflow.sdk import BaseHook

        return BaseHook.get_connection(conn_id)

    def get_variable(self, key: str) -> str | None:
        """Read the Variable, dropping any SecretCache entry first.

        ``[secrets] use_cache`` only initialises the SecretCache in the DAG processor today, but if it is
        ever active in this process a cached rotation Variable would hand out a refresh token that TikTok
        has already rotated away; invalidating first costs nothing.
        """
        from airflow.sdk import Variable
        from airflow.sdk.execution_time.cache import SecretCache

        SecretCache.invalidate_variable(key)
        value = Variable.get(key, default=None)
        return None if value is None else str(value)

    def set_variable(self, key: str, value: str) -> None:
        """Write through the Task SDK (also invalidates the SecretCache entry)."""
        from airflow.sdk import Variable

        Variable.set(key, value)

    def delete_variable(self, key: str) -> None:
        """Delete through the Task SDK."""
        from airflow.sdk import Variable

        Variable.delete(key)


class OrmBackend:
    """Metadata-DB storage for the API server, CLI and tests (``airflow.models``)."""

    def get_connection(self, conn_id: str) -> Any:
        """Read the connection from env vars, secrets backends and the metadata DB."""
        from airflow.models import Connection

        return Connection.get_connection_from_secrets(conn_id)

    def get_variable(self, key: str) -> str | None:
        """Read the Variable (env vars, secrets backends, metadata DB)."""
        from airflow.models import Variable

        value = Variable.get(key, default_var=None)
        return None if value is None else str(value)

    def set_variable(self, key: str, value: str) -> None:
        """Write the Variable to the metadata DB."""
        from airflow.models import Variable

        Variable.set(key, value)

    def delete_variable(self, key: str) -> None:
        """Delete the Variable from the metadata DB."""
        from airflow.models import Variable

        Variable.delete(key)


class AutoBackend:
    """Task SDK inside a task, ORM everywhere else; decided per call (a hook may be built outside a task)."""

    def _pick(self) -> StorageBackend:
        return SdkBackend() if in_task_context() else OrmBackend()

    def get_connection(self, conn_id: str) -> Any:
        """See :meth:`StorageBackend.get_connection`."""
        return self._pick().get_connection(conn_id)

    def get_variable(self, key: str) -> str | None:
        """See :meth:`StorageBackend.get_variable`."""
        return self._pick().get_variable(key)

    def set_variable(self, key: str, value: str) -> None:
        """See :meth:`StorageBackend.set_variable`."""
        self._pick().set_variable(key, value)

    def delete_variable(self, key: str) -> None:
        """See :meth:`StorageBackend.delete_variable`."""
        self._pick().delete_variable(key)


def fetch_connection(backend: StorageBackend, conn_id: str) -> Any:
    """Read a connection, turning "not found" into a :class:`TikTokConfigError` that says what to do.

    :param backend: where to read it.
    :param conn_id: the app or account connection id.
    """
    from airflow.exceptions import AirflowNotFoundException

    try:
        return backend.get_connection(conn_id)
    except AirflowNotFoundException:
        fix = (
            f"link the account at {accounts_page_url()}"
            if conn_id.startswith(ACCOUNT_CONN_PREFIX)
            else "create it in Admin > Connections (type TikTok: client key, client secret, redirect_uri)"
        )
        raise TikTokConfigError(f"Connection {conn_id!r} does not exist; {fix}.") from None


class TokenStore:
    """Loads the effective token set of an account and persists rotated sets.

    :param backend: storage to use; default picks the Task SDK inside a task and the ORM elsewhere.
    :param persist_attempts: how many times a rotated set is written (and read back) before giving up.
    :param persist_backoff: seconds before the second attempt, doubled each time.
    :param sleep: sleep function (tests pass a fast one).
    """

    def __init__(
        self,
        *,
        backend: StorageBackend | None = None,
        persist_attempts: int = 5,
        persist_backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.backend: StorageBackend = backend or AutoBackend()
        self.persist_attempts = max(1, persist_attempts)
        self.persist_backoff = persist_backoff
        self._sleep = sleep

    def load(self, conn_id: str) -> tuple[AccountInfo, TokenSet]:
        """Return the account and its effective token set: the newer of connection and rotation Variable.

        :param conn_id: account connection id.
        """
        info, from_conn = account_from_connection(fetch_connection(self.backend, conn_id))
        rotated = self.load_rotated(conn_id)
        if rotated is None or rotated.open_id != info.open_id:
            # A set for another open_id is a leftover of a relink to a different user: the page's newer
            # connection is the truth.
            return info, from_conn
        return info, (rotated if rotated.issued_at > from_conn.issued_at else from_conn)

    def load_rotated(self, conn_id: str) -> TokenSet | None:
        """Return the set in the rotation Variable, or None when there is none."""
        key = rotation_variable_key(conn_id)
        raw = self.backend.get_variable(key)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            raise TikTokConfigError(
                f"Variable {key!r} is not valid JSON; relink account {conn_id} on the TikTok accounts page "
                "(that rewrites the connection and deletes this Variable)."
            ) from None
        return TokenSet.from_dict(data, source=f"Variable {key!r}")

    def save_rotated(self, conn_id: str, tokens: TokenSet) -> None:
        """Persist a freshly rotated set, retrying and reading it back; raise loudly if it cannot be saved.

        :param conn_id: account connection id.
        :param tokens: the set TikTok just returned.
        """
        key = rotation_variable_key(conn_id)
        payload = json.dumps(tokens.to_dict())
        last_error = "unknown error"
        for attempt in range(self.persist_attempts):
            if attempt:
                self._sleep(self.persist_backoff * 2 ** (attempt - 1))
            try:
                self.backend.set_variable(key, payload)
                if self._read_back_matches(key, tokens):
                    return
                last_error = "the value read back differs (another secrets backend may shadow this Variable)"
            except Exception as exc:  # any storage failure is retried; the token must not be lost
                last_error = scrub(f"{type(exc).__name__}: {exc}", tokens)
            log.error(
                "Saving rotated TikTok tokens of %s to Variable %s failed: %s", conn_id, key, last_error
            )
        raise TikTokTokenPersistError(
            f"Could not save the rotated TikTok tokens of {conn_id} to Variable {key!r} after "
            f"{self.persist_attempts} attempts ({last_error}). TikTok has already rotated the refresh token, "
            "so the account will need relinking on the TikTok accounts page unless the Variable store is "
            "fixed before this worker's memory is gone."
        )

    def _read_back_matches(self, key: str, tokens: TokenSet) -> bool:
        raw = self.backend.get_variable(key)
        if raw is None:
            return False
        data = json.loads(raw)
        return bool(data.get("refresh_token") == tokens.refresh_token and data.get("issued_at"))

    def record_refresh_failure(self, conn_id: str, error: BaseException | str) -> None:
        """Record (best effort) that refreshing this account failed, for the page's "broken" status.

        :param conn_id: account connection id.
        :param error: the error whose message (never a secret) is shown on the page.
        """
        record = {"failed_at": utcnow().isoformat(), "message": str(error), "error": _error_name(error)}
        try:
            self.backend.set_variable(refresh_failure_variable_key(conn_id), json.dumps(record))
        except Exception:
            log.exception("Could not record the refresh failure of %s", conn_id)

    def refresh_failure(self, conn_id: str, *, tokens: TokenSet | None = None) -> dict[str, Any] | None:
        """Return the last recorded refresh failure, or None if none or if it predates the current tokens.

        A relink or a later successful refresh issues newer tokens, which makes an older failure stale,
        so nobody has to delete the record.

        :param conn_id: account connection id.
        :param tokens: the effective token set when the caller already has it (saves a read).
        """
        raw = self.backend.get_variable(refresh_failure_variable_key(conn_id))
        if raw is None:
            return None
        record: dict[str, Any] = json.loads(raw)
        current = tokens if tokens is not None else self.load(conn_id)[1]
        failed_at = parse_utc(record.get("failed_at"), source="refresh failure record", name="failed_at")
        return None if current.issued_at > failed_at else record


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


def scrub(text: str, tokens: TokenSet) -> str:
    """Replace the set's tokens in ``text`` (e.g. a storage error echoing the value) with ``***``."""
    for secret in (tokens.access_token, tokens.refresh_token):
        text = text.replace(secret, "***")
    return text


def _error_name(error: BaseException | str) -> str:
    return type(error).__name__ if isinstance(error, BaseException) else "error"


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
