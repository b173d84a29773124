"""Where token sets live: :class:`TokenStore` over a ``storage`` backend (the types are in ``models``).

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
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.connections import (
    account_from_connection,
    refresh_failure_variable_key,
    rotation_variable_key,
)
from airflow_provider_tiktok.errors import TikTokConfigError, TikTokTokenPersistError
from airflow_provider_tiktok.models import (
    ASSUMED_REFRESH_LIFETIME,
    DEFAULT_REFRESH_MARGIN,
    DEFAULT_WARN_DAYS,
    OLDEST_ISSUED_AT,
    REPORT_MIN_VALIDITY,
    RefreshOutcome,
    TokenSet,
    mask_tokens,
    parse_utc,
    utcnow,
    with_refresh_expiry,
)
from airflow_provider_tiktok.storage import AutoBackend, fetch_connection

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_tiktok.models import AccountInfo
    from airflow_provider_tiktok.storage import StorageBackend

log = logging.getLogger(__name__)


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


def scrub(text: str, tokens: TokenSet) -> str:
    """Replace the set's tokens in ``text`` (e.g. a storage error echoing the value) with ``***``."""
    for secret in (tokens.access_token, tokens.refresh_token):
        text = text.replace(secret, "***")
    return text


def _error_name(error: BaseException | str) -> str:
    return type(error).__name__ if isinstance(error, BaseException) else "error"


# Besides its own names, this module still exports those that moved to models.py (code written against
# it keeps working).
__all__ = [
    "ASSUMED_REFRESH_LIFETIME",
    "DEFAULT_REFRESH_MARGIN",
    "DEFAULT_WARN_DAYS",
    "OLDEST_ISSUED_AT",
    "REPORT_MIN_VALIDITY",
    "RefreshOutcome",
    "TokenSet",
    "TokenStore",
    "mask_tokens",
    "parse_utc",
    "scrub",
    "utcnow",
    "with_refresh_expiry",
]
