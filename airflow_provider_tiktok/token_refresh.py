"""Keeping one account's access token valid: refresh when needed, persist first, survive races.

Any task may refresh (the refresh task does it for the whole run up front; a report task does it when it
starts late or when TikTok rejects its token mid-pagination), so the rules that keep rotation safe live
here, in one place:

* Before a refresh grant, the stored set is read again: if another task already rotated it, that set is
  used and no grant is sent.
* A rotated set is persisted before anything else (:meth:`TokenStore.save_rotated`).
* ``invalid_grant`` is not taken at its word: the loser of a race sees it just after another writer
  rotated, so the store is polled for a newer set for ``race_wait``. Only when none appears is the refresh
  token dead: the account is recorded as broken (the accounts page shows it) and the error says relink.
* A grant whose answer was lost (:class:`TikTokRefreshUnknownError`) is never repeated in the same
  attempt; it is recorded, so that if the next attempt meets ``invalid_grant`` the message gives the real
  cause. Meanwhile a still-valid access token keeps being used.
"""

from __future__ import annotations

import json
import logging
import math
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.connections import refresh_unknown_variable_key
from airflow_provider_tiktok.errors import (
    TikTokAuthError,
    TikTokRefreshUnknownError,
    TikTokTokenPersistError,
    TikTokTransientError,
    relink_hint,
)
from airflow_provider_tiktok.models import (
    DEFAULT_REFRESH_MARGIN,
    DEFAULT_WARN_DAYS,
    REPORT_MIN_VALIDITY,
    RefreshOutcome,
    parse_utc,
    utcnow,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from airflow_provider_tiktok.models import AccountInfo, TokenSet
    from airflow_provider_tiktok.tokens import TokenStore

log = logging.getLogger(__name__)

DEFAULT_RACE_WAIT = timedelta(seconds=30)
_POLL_SECONDS = 1.0
#: A still-valid access token is used after a failed refresh only if it lives at least this long.
_FALLBACK_MIN_VALIDITY = timedelta(minutes=1)


class TokenKeeper:
    """Hands out a valid token set for one account connection, refreshing it when needed.

    :param conn_id: the account connection id.
    :param store: where token sets are read and rotated sets saved.
    :param refresh_grant: sends the refresh grant for a set and returns TikTok's new set (the hook's
        :meth:`~airflow_provider_tiktok.hooks.tiktok.TikTokHook.refresh_tokens`); persists nothing.
    :param label: how messages name the account.
    :param clock: current UTC time.
    :param sleep: sleep between polls of the store while waiting for a racing writer.
    :param race_wait: how long the loser of a rotation race waits for the winner's set to appear.
    """

    def __init__(
        self,
        conn_id: str,
        *,
        store: TokenStore,
        refresh_grant: Callable[[TokenSet], TokenSet],
        label: Callable[[], str],
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        race_wait: timedelta = DEFAULT_RACE_WAIT,
    ) -> None:
        self.conn_id = conn_id
        self.store = store
        self._grant = refresh_grant
        self._label = label
        self._clock = clock
        self._sleep = sleep
        self.race_wait = race_wait
        self.grants_sent = 0  # refresh grants this keeper sent (for the bench and tests)

    def current(self) -> TokenSet:
        """The effective stored set (the newer of connection and rotation Variable)."""
        return self.store.load(self.conn_id)[1]

    def valid(self, min_validity: timedelta = REPORT_MIN_VALIDITY) -> TokenSet:
        """A set whose access token lives at least ``min_validity``.

        :param min_validity: refresh when the stored access token expires sooner than this.
        """
        tokens = self.current()
        if not tokens.needs_refresh(self._clock(), min_validity):
            return tokens
        try:
            return self._refresh(tokens, min_validity)
        except TikTokTransientError as exc:
            if tokens.access_token_expires_at - self._clock() < _FALLBACK_MIN_VALIDITY:
                raise
            log.warning(
                "Refreshing %s failed for now (%s); its access token is still valid until %s, using it.",
                self._label(),
                exc,
                tokens.access_token_expires_at.isoformat(),
            )
            return tokens

    def refresh_if_needed(
        self,
        info: AccountInfo,
        before: TokenSet,
        *,
        margin: timedelta = DEFAULT_REFRESH_MARGIN,
        warn_days: float = DEFAULT_WARN_DAYS,
    ) -> tuple[TokenSet, RefreshOutcome]:
        """The refresh task's step for one account: :meth:`valid`, logged, and what it did.

        Logs a refusal (and raises it), a refresh, and a warning when the refresh token has fewer than
        ``warn_days`` days left.

        :param info: the account.
        :param before: its effective set when the task looked (a newer set afterwards means refreshed).
        :param margin: refresh when the access token expires within this time.
        :param warn_days: warn when the refresh token has fewer days left than this.
        :return: the valid set and the outcome for the task's summary (no secrets).
        """
        try:
            tokens = self.valid(margin)
        except TikTokAuthError as exc:
            log.error("Refreshing TikTok account %s (%s) failed: %s", info.label, info.conn_id, exc)
            raise
        refreshed = tokens.issued_at > before.issued_at
        if refreshed:
            log.info(
                "Refreshed TikTok account %s (%s); access token valid until %s",
                info.label,
                info.conn_id,
                tokens.access_token_expires_at.isoformat(),
            )
        return tokens, self._outcome(info, tokens, refreshed, warn_days)

    def _outcome(
        self, info: AccountInfo, tokens: TokenSet, refreshed: bool, warn_days: float
    ) -> RefreshOutcome:
        days_left = tokens.refresh_days_left(self._clock())
        warning = None
        if days_left < warn_days:
            assumed = (
                " (assumed: TikTok did not say, counted 180 days from linking)"
                if tokens.refresh_expiry_assumed
                else ""
            )
            warning = (
                f"TikTok account {info.label} ({info.conn_id}) must be relinked within "
                f"{max(days_left, 0):.1f} days: "
                f"its refresh token expires on {tokens.refresh_token_expires_at:%Y-%m-%d}{assumed}. "
                f"To fix: {relink_hint(info.label)}."
            )
            log.warning("%s", warning)
        return RefreshOutcome(
            conn_id=info.conn_id,
            account=info.label,
            refreshed=refreshed,
            access_token_expires_at=tokens.access_token_expires_at,
            refresh_token_expires_at=tokens.refresh_token_expires_at,
            refresh_days_left=days_left,
            refresh_expiry_assumed=tokens.refresh_expiry_assumed,
            warning=warning,
        )

    def renew(self, rejected: TokenSet) -> TokenSet:
        """A new set after TikTok rejected ``rejected``'s access token (whatever our data says of it).

        :param rejected: the set whose access token TikTok refused.
        """
        return self._refresh(rejected, None)

    def _refresh(self, stale: TokenSet, min_validity: timedelta | None) -> TokenSet:
        current = self.current()
        if current.issued_at > stale.issued_at and self._good_enough(current, min_validity):
            log.info("%s was refreshed by another task meanwhile; using its tokens.", self._label())
            return current
        self.grants_sent += 1
        try:
            fresh = self._grant(current)
        except TikTokRefreshUnknownError:
            self._remember_unknown(current)
            raise
        except TikTokAuthError as exc:
            return self._after_refusal(current, exc)
        try:
            self.store.save_rotated(self.conn_id, fresh)  # before anything else: the old token is dead
        except TikTokTokenPersistError:
            log.critical(
                "Rotated TikTok tokens of %s (%s) could NOT be saved; the account may need relinking.",
                self._label(),
                self.conn_id,
            )
            raise
        return fresh

    def _good_enough(self, tokens: TokenSet, min_validity: timedelta | None) -> bool:
        if min_validity is None:  # after a rejection any newer set is worth a try
            return True
        return not tokens.needs_refresh(self._clock(), min_validity)

    def _after_refusal(self, used: TokenSet, exc: TikTokAuthError) -> TokenSet:
        """``invalid_grant`` (or an expired refresh token): a racing writer's set, or a dead account."""
        newer = self._wait_for_newer(used) if exc.code == "invalid_grant" else None
        if newer is not None:
            log.info(
                "%s: TikTok refused a refresh token another task had just rotated; using the newer set.",
                self._label(),
            )
            return newer
        dead = self._dead_error(used, exc)
        self.store.record_refresh_failure(self.conn_id, dead)
        raise dead from None

    def _wait_for_newer(self, used: TokenSet) -> TokenSet | None:
        polls = math.ceil(self.race_wait.total_seconds() / _POLL_SECONDS)
        for poll in range(polls + 1):
            if poll:
                self._sleep(_POLL_SECONDS)
            current = self.current()
            if current.issued_at > used.issued_at:
                return current
        return None

    def _dead_error(self, used: TokenSet, exc: TikTokAuthError) -> TikTokAuthError:
        label = self._label()
        lost_at = self._unknown_since(used)
        if lost_at is not None:
            cause = (
                f"TikTok rotated its refresh token at {lost_at} but the answer was lost (timeout or reset), "
                "so the new token never reached Airflow"
            )
        else:
            cause = f"its refresh token is no longer valid ({exc.code}: {exc.description or 'refused'})"
        return TikTokAuthError(
            f"Relink TikTok account {label}: {cause}. To fix: {relink_hint(label)}.",
            code=exc.code,
            description=exc.description,
            log_id=exc.log_id,
            http_status=exc.http_status,
            endpoint=exc.endpoint,
            account=label,
        )

    def _remember_unknown(self, used: TokenSet) -> None:
        """Record (best effort) that a grant with ``used``'s refresh token got no answer."""
        record = {"at": self._clock().isoformat(), "token_issued_at": used.issued_at.isoformat()}
        try:
            self.store.backend.set_variable(refresh_unknown_variable_key(self.conn_id), json.dumps(record))
        except Exception:
            log.exception("Could not record the unanswered refresh of %s", self.conn_id)

    def _unknown_since(self, used: TokenSet) -> str | None:
        """When a grant with ``used``'s refresh token went unanswered, if one did."""
        try:
            raw = self.store.backend.get_variable(refresh_unknown_variable_key(self.conn_id))
            record: dict[str, Any] = json.loads(raw) if raw else {}
            issued = parse_utc(record.get("token_issued_at"), source="refresh record", name="token_issued_at")
        except Exception:
            return None
        return str(record.get("at")) if issued == used.issued_at else None
